"""``mon-collector daemon-<name> [-a IP_ADDR] [-p PORT] [-i SECONDS]``, one per Ganeti daemon.

Whether the daemon must run comes from the node's role, asked of confd (``-a``/``-p``,
default the master candidates on port 1814); without an answer within the daemon
collector's 5 s the role is unknown, which the report says. ``cpu_usage`` covers two
samples ``--interval`` seconds apart (default 1 s; ``-i 0``: the process's lifetime
average). ``daemon-ganeti-agent`` has no command: it reports the process that answers,
which here would be this command itself.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred

from ganeti_agent.cli.moncollector import Invocation, Option, Subcommand
from ganeti_agent.cli.moncollector.inst_status_xen import cluster_queries
from ganeti_agent.cli.moncollector.oneshot import (
    INTERVAL_OPTION,
    collect_once,
    collector_context,
    interval_option,
)
from ganeti_agent.collectors.daemons import DAEMONS, DaemonSpec, GanetiDaemonCollector, RoleTracker
from ganeti_agent.core.report import Report

OPTIONS = (
    Option("a", "address", "IP_ADDR", "the IP address of the Confd server to connect to"),
    Option("p", "port", "PORT", "Network port of the Confd server to connect to", "integer"),
    INTERVAL_OPTION,
)


def runner_for(spec: DaemonSpec) -> Callable[[Invocation], Deferred[Report]]:
    def run(invocation: Invocation) -> Deferred[Report]:
        interval = interval_option(invocation)
        context = collector_context(invocation, cluster_queries(invocation))
        collector = GanetiDaemonCollector(context, spec, RoleTracker(context))
        return collect_once(collector, invocation, interval)

    return run


def command(spec: DaemonSpec) -> Subcommand:
    return Subcommand(
        name=spec.collector_name,
        summary=(f"gathers and displays the status of {spec.program} in JSON format",),
        options=OPTIONS,
        run=runner_for(spec),
    )


COMMANDS = tuple(command(spec) for spec in DAEMONS)
