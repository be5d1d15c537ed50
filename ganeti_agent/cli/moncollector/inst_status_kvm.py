"""``mon-collector inst-status-kvm [-a IP_ADDR] [-p PORT]``: inst-status-xen's report for KVM.

The node's instances come from confd as for ``inst-status-xen`` (``-a``/``-p``, default
the master candidates on port 1814); only those whose hypervisor is KVM are reported.
Each one's QEMU is found through Ganeti's KVM runtime files and asked over QMP, as the
daemon does, so the command needs the same access (root or Ganeti's user).
"""

from __future__ import annotations

from twisted.internet.defer import Deferred

from ganeti_agent.cli.moncollector import Invocation, Option, Subcommand
from ganeti_agent.cli.moncollector.inst_status_xen import cluster_queries
from ganeti_agent.cli.moncollector.oneshot import collect_once, collector_context
from ganeti_agent.collectors.instances.kvm import InstStatusKvmCollector
from ganeti_agent.core.report import Report


def run(invocation: Invocation) -> Deferred[Report]:
    context = collector_context(invocation, cluster_queries(invocation))
    return collect_once(InstStatusKvmCollector(context), invocation)


COMMAND = Subcommand(
    name="inst-status-kvm",
    summary=("gathers and displays the status of the KVM instances in", "JSON format"),
    options=(
        Option("a", "address", "IP_ADDR", "the IP address of the Confd server to connect to"),
        Option("p", "port", "PORT", "Network port of the Confd server to connect to", "integer"),
    ),
    run=run,
)
