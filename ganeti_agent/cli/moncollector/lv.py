"""``mon-collector lv [-f FILE] [-a IP_ADDR] [-p PORT] [-i FILE]``.

Without ``-f`` it runs Ganeti's ``lvs`` command line (``lvs`` found on ``PATH``);
without ``-i`` it asks confd (``-a``/``-p``, default the master candidates on port
1814) for this host's instances and their disks. The LV table is read first, so a
missing ``-f`` file is reported before any instance problem, as Ganeti does.
"""

from __future__ import annotations

import json
import socket

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from ganeti_agent.cli.moncollector import (
    CliError,
    Invocation,
    Option,
    Subcommand,
    build_report,
    parse_failure,
    read_input,
)
from ganeti_agent.cli.moncollector.inst_status_xen import cluster_queries, port_option
from ganeti_agent.collectors.lv import INSTANCES_ERROR, LvCollector, cluster_instances, lvs_argv
from ganeti_agent.core.cluster import ClusterUnavailable
from ganeti_agent.core.executor import ExecutionError, ProcessResult
from ganeti_agent.core.report import Report
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.lvs import (
    InstanceDataError,
    InstanceDisks,
    LogicalVolume,
    lv_data,
    parse_instances_document,
    parse_lvs,
)

LVS_TIMEOUT = 3600.0


def _parsed(text: str) -> list[LogicalVolume]:
    try:
        return parse_lvs(text)
    except ParseError as error:
        raise parse_failure(error) from None


def volumes(invocation: Invocation) -> Deferred[list[LogicalVolume]]:
    path = invocation.options.get("file")
    if path is not None:
        return succeed(_parsed(read_input(path)))
    runner = invocation.runner()

    def ran(result: ProcessResult) -> list[LogicalVolume]:
        return _parsed(result.stdout.decode("utf-8", "replace"))

    def failed(failure: Failure) -> list[LogicalVolume]:
        failure.trap(ExecutionError)
        raise CliError(f"running command: {failure.value}")

    return runner.run(lvs_argv(), LVS_TIMEOUT).addCallbacks(ran, failed)


def instances_from_file(path: str) -> list[InstanceDisks]:
    text = read_input(path)
    try:
        return parse_instances_document(json.loads(text))
    except (ValueError, InstanceDataError) as error:
        raise CliError(f"{INSTANCES_ERROR}: Not a list of instances: {error}") from None


def instances(invocation: Invocation) -> Deferred[list[InstanceDisks]]:
    path = invocation.options.get("instances")
    if path is not None:
        return succeed(instances_from_file(path))

    def failed(failure: Failure) -> list[InstanceDisks]:
        failure.trap(ClusterUnavailable)
        raise CliError(f"{INSTANCES_ERROR}: {failure.value}")

    found = cluster_instances(cluster_queries(invocation), socket.gethostname())
    return found.addErrback(failed)


def run(invocation: Invocation) -> Deferred[Report]:
    port_option(invocation.options.get("port"))

    def with_instances(found: list[LogicalVolume]) -> Deferred[Report]:
        return instances(invocation).addCallback(
            lambda owners: build_report(LvCollector, lv_data(found, owners))
        )

    return volumes(invocation).addCallback(with_instances)


COMMAND = Subcommand(
    name="lv",
    summary=("gathers and displays info about logical volumes",),
    options=(
        Option("f", "file", "FILE", "the input FILE"),
        Option("a", "address", "IP_ADDR", "the IP address of the Confd server to connect to"),
        Option("p", "port", "PORT", "Network port of the Confd server to connect to", "integer"),
        Option("i", "instances", "FILE", "the FILE containing serialized instances"),
    ),
    run=run,
)
