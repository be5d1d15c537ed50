"""``mon-collector inst-status-xen [-a IP_ADDR] [-p PORT]``; positional arguments are ignored.

As in Ganeti 3.0.2 the node's instances come from confd (``-a``/``-p`` choose the
server, default: the master candidates on port 1814) and the domains from ``xm`` on
``PATH``; ``GANETI_XEN_TOOLSTACK=xl`` (or ``auto``) picks Xen 4.5+'s ``xl`` instead.
``GANETI_XEN_HUNG_CHECK_DELAY`` sets the seconds between the two listings (default the
daemon's 2 s; ``0`` lists back to back as 3.0.2 does).
"""

from __future__ import annotations

import os
import socket

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ganeti_agent.cli.moncollector import CliError, Invocation, Option, Subcommand, build_report
from ganeti_agent.collectors.instances.xen import DEFAULT_HUNG_CHECK_DELAY, InstStatusXenCollector
from ganeti_agent.core.cluster import ClusterQueries
from ganeti_agent.core.framework import AgentContext, CollectorError, CollectorSettings
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import Report

TOOLSTACK_VARIABLE = "GANETI_XEN_TOOLSTACK"
DEFAULT_TOOLSTACK = "xm"
HUNG_DELAY_VARIABLE = "GANETI_XEN_HUNG_CHECK_DELAY"
MAX_HUNG_DELAY = 3600.0


def hung_check_delay(value: str | None) -> float:
    """Seconds between the two listings, from the environment; bad values are refused."""
    if value is None:
        return DEFAULT_HUNG_CHECK_DELAY
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_HUNG_DELAY:  # also refuses nan
        raise CliError(
            f"{HUNG_DELAY_VARIABLE} must be a number of seconds from 0 to {MAX_HUNG_DELAY:g},"
            f" got {value[:40]!r}"
        )
    return seconds


def port_option(value: str | None) -> int | None:
    """The ``-p`` value; a non-integer is Ganeti's command-line parse error."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise CliError(
            f"reading port: cannot parse string '{value}'",
            prefix="Error while parsing command line arguments:\n",
        ) from None


def cluster_queries(invocation: Invocation) -> ClusterQueries:
    from ganeti_agent.confd.queries import cli_cluster_queries

    port = port_option(invocation.options.get("port"))
    return cli_cluster_queries(
        invocation.paths, invocation.options.get("address"), port, invocation.reactor
    )


def make_collector(invocation: Invocation) -> InstStatusXenCollector:
    """The daemon's collector, wired to this process: confd, ``PATH``, the real clock."""
    runner = invocation.runner()
    toolstack = os.environ.get(TOOLSTACK_VARIABLE, DEFAULT_TOOLSTACK)
    delay = hung_check_delay(os.environ.get(HUNG_DELAY_VARIABLE))
    options = {"toolstack": toolstack, "hung-check-delay": str(delay)}
    settings = CollectorSettings(timeout=3600.0 + delay, options=options)
    context = AgentContext(
        clock=invocation.reactor,
        runner=runner,
        paths=invocation.paths,
        hostname=socket.gethostname(),
        cluster=cluster_queries(invocation),
        find_command=runner.resolve,
    )
    return InstStatusXenCollector(context, settings)


def run(invocation: Invocation) -> Deferred[Report]:
    collector = make_collector(invocation)

    def failed(failure: Failure) -> Report:
        failure.trap(CollectorError)
        raise CliError(str(failure.value))

    def reported(data: JSON) -> Report:
        return build_report(InstStatusXenCollector, data)

    return collector.collect().addCallbacks(reported, failed)


COMMAND = Subcommand(
    name="inst-status-xen",
    summary=(
        "gathers and displays the status of the instances in JSON",
        "format",
    ),
    options=(
        Option("a", "address", "IP_ADDR", "the IP address of the Confd server to connect to"),
        Option("p", "port", "PORT", "Network port of the Confd server to connect to", "integer"),
    ),
    run=run,
    positional="ignored",
)
