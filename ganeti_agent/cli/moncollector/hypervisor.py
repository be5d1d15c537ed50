"""``mon-collector hypervisor-kvm`` and ``hypervisor-xen``: the hypervisor's view of the host.

The daemon's collectors with their default options: ``hypervisor-xen`` runs ``xl``
(found on ``PATH``), ``hypervisor-kvm`` reads ``/proc`` and ``/sys``. Neither checks
that its hypervisor is present: asked on the wrong host, the command says what is
missing (exit 1) instead of printing nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred

from ganeti_agent.cli.moncollector import Invocation, Subcommand
from ganeti_agent.cli.moncollector.oneshot import collect_once, collector_context
from ganeti_agent.collectors.hypervisor import KvmHypervisorCollector, XenHypervisorCollector
from ganeti_agent.core.framework import AgentContext, Collector
from ganeti_agent.core.report import Report

RunFunction = Callable[[Invocation], Deferred[Report]]


def runner_of(make: Callable[[AgentContext], Collector]) -> RunFunction:
    def run(invocation: Invocation) -> Deferred[Report]:
        return collect_once(make(collector_context(invocation, None)), invocation)

    return run


COMMANDS = (
    Subcommand(
        name=KvmHypervisorCollector.name,
        summary=("gathers and displays the KVM host's resources in JSON format",),
        options=(),
        run=runner_of(KvmHypervisorCollector),
    ),
    Subcommand(
        name=XenHypervisorCollector.name,
        summary=("gathers and displays Xen's view of the host in JSON format",),
        options=(),
        run=runner_of(XenHypervisorCollector),
    ),
)
