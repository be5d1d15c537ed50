"""``mon-collector drbd [-s FILE] [-p FILE]``.

The status file defaults to /proc/drbd; on DRBD 9, whose file holds only the version,
``drbdsetup status --json`` (found on ``PATH``) supplies the minors. The pairing of
minors and instances comes from ``-p`` or, as in Ganeti, from confd: a missing pairing
file or missing cluster files end the run (Ganeti dies with an uncaught exception
there), any other pairing problem is a warning and every ``instance`` is null.
"""

from __future__ import annotations

import json
import socket

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from ganeti_agent.cli.moncollector import (
    PROGRAM,
    CliError,
    Invocation,
    Option,
    Subcommand,
    build_report,
    parse_failure,
    read_input,
)
from ganeti_agent.collectors.drbd import (
    Drbd9Error,
    DrbdCollector,
    drbd_status,
    pairing_from_cluster,
)
from ganeti_agent.core.cluster import ClusterUnavailable
from ganeti_agent.core.files import InputError, read_text
from ganeti_agent.core.report import Report
from ganeti_agent.parsers.drbd import DrbdStatus, parse_pairing
from ganeti_agent.parsers.errors import ParseError

DEFAULT_STATUS_FILE = "/proc/drbd"
DRBDSETUP_TIMEOUT = 60.0

Pairing = tuple[dict[int, str], str | None]


def _fatal(message: str) -> CliError:
    """What Ganeti's tool prints when an exception escapes it."""
    return CliError(message, prefix=f"{PROGRAM}: ")


def pairing_from_file(path: str) -> Pairing:
    try:
        text = read_text(path)
    except InputError as error:
        raise _fatal(str(error)) from None
    try:
        return parse_pairing(json.loads(text)), None
    except ValueError as error:
        return {}, str(error)


def pairing_from_confd(invocation: Invocation) -> Deferred[Pairing]:
    from ganeti_agent.confd.queries import cli_cluster_queries, read_key, read_peers

    paths = invocation.paths
    try:
        read_key(paths.hmac_key)
        read_peers(paths.ssconf("master_candidates_ips"))
    except ClusterUnavailable as error:
        raise _fatal(str(error)) from None
    cluster = cli_cluster_queries(paths, None, None, invocation.reactor)
    return pairing_from_cluster(cluster, socket.gethostname())


def run(invocation: Invocation) -> Deferred[Report]:
    text = read_input(invocation.options.get("drbd-status", DEFAULT_STATUS_FILE))
    pairing_file = invocation.options.get("drbd-pairing")
    if pairing_file is not None:
        pairing: Deferred[Pairing] = succeed(pairing_from_file(pairing_file))
    else:
        pairing = pairing_from_confd(invocation)

    def with_status(found: Pairing) -> Deferred[Report]:
        minors, problem = found
        if problem is not None:
            invocation.warn(f"Can't get pairing info: {problem}")
        status = drbd_status(text, invocation.runner(), ["drbdsetup"], DRBDSETUP_TIMEOUT)
        status.addErrback(_status_failed)
        return status.addCallback(
            lambda parsed: build_report(DrbdCollector, parsed.to_json(minors))
        )

    return pairing.addCallback(with_status)


def _status_failed(failure: Failure) -> DrbdStatus:
    failure.trap(ParseError, Drbd9Error)
    if isinstance(failure.value, ParseError):
        raise parse_failure(failure.value)
    raise CliError(str(failure.value))


COMMAND = Subcommand(
    name="drbd",
    summary=("gathers and displays DRBD statistics in JSON format",),
    options=(
        Option("s", "drbd-status", "FILE", "the DRBD status FILE"),
        Option(
            "p",
            "drbd-pairing",
            "FILE",
            "the FILE containing pairings between instances and DRBD minors",
        ),
    ),
    run=run,
)
