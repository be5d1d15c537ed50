"""``drbd`` (storage, status): replication health of every DRBD minor on this node.

DRBD 8 is read from /proc/drbd with Ganeti's exact grammar. DRBD 9 keeps only the
version there, so then ``drbdsetup status --json`` runs through the executor and is
mapped onto the same fields. Minors are paired with instances from the cluster
(confd's NODE_DRBD answer for this host); without a cluster, or when it cannot
answer, every ``instance`` is null, as mon-collector does.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ganeti_agent.core.cluster import ClusterQueries
from ganeti_agent.core.executor import CommandRunner, ExecutionError, ProcessResult
from ganeti_agent.core.files import read_text
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError
from ganeti_agent.core.report import Category, JSONValue, Kind
from ganeti_agent.parsers.drbd import DrbdStatus, drbd9_version, parse_drbd, parse_pairing
from ganeti_agent.parsers.drbdsetup import DRBDSETUP_STATUS, parse_drbdsetup_status
from ganeti_agent.parsers.errors import ParseError

NAME = "drbd"
log = Logger(namespace="ganeti_agent.collectors.drbd")


class Drbd9Error(Exception):
    """``drbdsetup`` could not be run or its answer could not be used."""


def drbd_status(
    text: str, runner: CommandRunner, drbdsetup: list[str], timeout: float
) -> Deferred[DrbdStatus]:
    """The status of a /proc/drbd text, asking ``drbdsetup`` when it is DRBD 9's.

    Fails with :class:`ParseError` when an 8.x file is malformed (the real tool's
    rejection), with :class:`Drbd9Error` when drbdsetup fails.
    """
    version = drbd9_version(text)
    if version is None:
        try:
            return succeed(parse_drbd(text))
        except ParseError as exc:
            return fail(exc)

    def parsed(result: ProcessResult) -> DrbdStatus:
        try:
            devices = parse_drbdsetup_status(result.stdout.decode("utf-8", "replace"))
        except ParseError as exc:
            raise Drbd9Error(f"{' '.join(drbdsetup)}: {exc.reason}") from None
        return DrbdStatus(version, devices)

    def failed(failure: Failure) -> DrbdStatus:
        failure.trap(ExecutionError)
        raise Drbd9Error(f"DRBD 9 status unavailable: {failure.value}")

    argv = [*drbdsetup, *DRBDSETUP_STATUS[1:]]
    return runner.run(argv, timeout).addCallbacks(parsed, failed)


def pairing_from_cluster(
    cluster: ClusterQueries | None, hostname: str
) -> Deferred[tuple[dict[int, str], str | None]]:
    """Minor → instance for this node, and the reason when there is none to be had."""
    if cluster is None:
        return succeed(({}, None))
    try:
        asked = cluster.node_drbd(hostname)
    except Exception as exc:
        return succeed(({}, str(exc) or type(exc).__name__))

    def decoded(answer: JSONValue) -> tuple[dict[int, str], str | None]:
        try:
            return parse_pairing(answer), None
        except ValueError as exc:
            return {}, str(exc)

    def failed(failure: Failure) -> tuple[dict[int, str], str | None]:
        return {}, str(failure.value) or type(failure.value).__name__

    return asked.addCallbacks(decoded, failed)


class DrbdCollector(Collector):
    """Reads /proc/drbd (or drbdsetup on DRBD 9) at query time."""

    name = NAME
    category = Category.STORAGE
    kind = Kind.STATUS

    @property
    def path(self) -> str:
        return self.settings.option("file", os.path.join(self.context.proc_root, "drbd"))

    @property
    def drbdsetup(self) -> list[str]:
        return shlex.split(self.settings.option("drbdsetup", "drbdsetup"))

    def available(self) -> bool:
        return os.path.exists(self.path)

    def collect(self) -> Deferred[JSONValue]:
        text = read_text(self.path)
        timeout = self.settings.timeout
        status = drbd_status(text, self.context.runner, self.drbdsetup, timeout)
        status.addErrback(self._status_failed)
        return status.addCallback(self._with_pairing)

    def _status_failed(self, failure: Failure) -> DrbdStatus:
        failure.trap(ParseError, Drbd9Error)
        if isinstance(failure.value, ParseError):
            raise CollectorError(f"{self.path}: cannot parse: {failure.value.reason}")
        raise CollectorError(str(failure.value))

    def _with_pairing(self, status: DrbdStatus) -> Deferred[JSONValue]:
        def paired(result: tuple[dict[int, str], str | None]) -> JSONValue:
            pairing, problem = result
            if problem is not None:
                log.warn("Can't get pairing info: {problem}", problem=problem)
            return status.to_json(pairing)

        return pairing_from_cluster(
            self.context.current_cluster(), self.context.hostname
        ).addCallback(paired)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [DrbdCollector(context)]
