"""``mon-collector node [-i SECONDS]``: what the node OS sees of its resources.

``cpus`` is each CPU's busy fraction between two samples ``--interval`` seconds apart
(default 1 s); ``-i 0`` takes one sample, so the fractions cover the time since boot.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred

from ganeti_agent.cli.moncollector import Invocation, Subcommand
from ganeti_agent.cli.moncollector.oneshot import (
    INTERVAL_OPTION,
    collect_once,
    collector_context,
    interval_option,
)
from ganeti_agent.collectors.node import NAME, NodeCollector
from ganeti_agent.core.report import Report


def run(invocation: Invocation) -> Deferred[Report]:
    interval = interval_option(invocation)
    collector = NodeCollector(collector_context(invocation, None))
    return collect_once(collector, invocation, interval)


COMMAND = Subcommand(
    name=NAME,
    summary=("gathers and displays the node OS's resources in JSON format",),
    options=(INTERVAL_OPTION,),
    run=run,
)
