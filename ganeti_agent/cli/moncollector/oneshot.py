"""One of the daemon's collectors, run once in this process for a subcommand.

The subcommands of collectors Ganeti never built (node, hypervisor, daemon, confd and
KVM instance status) build the collector exactly as the daemon does and run it here,
so the command and ``/1/report/...`` give the same data. A sampled collector (CPU
figures over an interval) is sampled twice, ``interval`` seconds apart, before it
reports: the figures then cover that interval, as the daemon's cover its own.
"""

from __future__ import annotations

import math
import socket

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from ganeti_agent.cli.moncollector import CliError, Invocation, Option, build_report
from ganeti_agent.core.cluster import ClusterQueries
from ganeti_agent.core.framework import (
    EXPECTED_FAILURES,
    AgentContext,
    Collector,
    StatefulCollector,
    as_deferred,
    describe_failure,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import Report

DEFAULT_INTERVAL = 1.0
MAX_INTERVAL = 3600.0
INTERVAL_OPTION = Option(
    "i",
    "interval",
    "SECONDS",
    "seconds between the two CPU samples (0: one sample, since start)",
    "float",
)


def collector_context(invocation: Invocation, cluster: ClusterQueries | None) -> AgentContext:
    """The daemon's context, wired to this process: ``PATH``, the real clock, this host."""
    runner = invocation.runner()
    return AgentContext(
        clock=invocation.reactor,
        runner=runner,
        paths=invocation.paths,
        hostname=socket.gethostname(),
        cluster=cluster,
        find_command=runner.resolve,
        unix=invocation.reactor,
    )


def interval_option(invocation: Invocation) -> float:
    """The ``--interval`` value: seconds from 0 to :data:`MAX_INTERVAL`."""
    value = invocation.options.get("interval")
    if value is None:
        return DEFAULT_INTERVAL
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_INTERVAL:  # also refuses nan
        raise CliError(
            f"--interval must be a number of seconds from 0 to {MAX_INTERVAL:g}, got {value[:40]!r}"
        )
    return seconds


def collect_once(
    collector: Collector, invocation: Invocation, interval: float = 0.0
) -> Deferred[Report]:
    """The collector's report; a failure the daemon would report becomes one error line."""
    if isinstance(collector, StatefulCollector) and interval > 0:
        first: Deferred[None] = as_deferred(collector.sample)
        waited = first.addCallback(lambda _: deferLater(invocation.reactor, interval, lambda: None))
        sampled = waited.addCallback(lambda _: as_deferred(collector.sample))
        data: Deferred[JSON] = sampled.addCallback(lambda _: as_deferred(collector.collect))
    else:
        data = as_deferred(collector.collect)

    def failed(failure: Failure) -> Report:
        failure.trap(*EXPECTED_FAILURES)
        raise CliError(describe_failure(failure, collector.settings.timeout))

    return data.addCallbacks(lambda found: build_report(collector, found), failed)
