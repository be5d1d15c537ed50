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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ganeti_agent.core.cluster import ClusterQueries
from ganeti_agent.core.executor import CommandRunner, ExecutionError, ProcessResult
from ganeti_agent.core.files import read_text
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError, TypedCollector
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import (
    Family,
    MetricType,
    Sample,
    family,
    flag,
)
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.parsers.drbd import (
    CONNECTED_STATES,
    Device,
    DrbdStatus,
    PerfIndicators,
    SyncStatus,
    drbd9_version,
    parse_drbd,
    parse_pairing,
)
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

    def decoded(answer: JSON) -> tuple[dict[int, str], str | None]:
        try:
            return parse_pairing(answer), None
        except ValueError as exc:
            return {}, str(exc)

    def failed(failure: Failure) -> tuple[dict[int, str], str | None]:
        return {}, str(failure.value) or type(failure.value).__name__

    return asked.addCallbacks(decoded, failed)


@dataclass(frozen=True)
class PairedDrbd:
    """A DRBD status and the instance of each minor that has one."""

    status: DrbdStatus
    pairing: Mapping[int, str]


class DrbdCollector(TypedCollector[PairedDrbd]):
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

    def result(self) -> Deferred[PairedDrbd]:
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

    def _with_pairing(self, status: DrbdStatus) -> Deferred[PairedDrbd]:
        def paired(result: tuple[dict[int, str], str | None]) -> PairedDrbd:
            pairing, problem = result
            if problem is not None:
                log.warn("Can't get pairing info: {problem}", problem=problem)
            return PairedDrbd(status, pairing)

        return pairing_from_cluster(
            self.context.current_cluster(), self.context.hostname
        ).addCallback(paired)

    def to_data(self, result: PairedDrbd) -> JSON:
        return result.status.to_json(result.pairing)

    def samples(self, result: PairedDrbd) -> Iterator[Sample]:
        return drbd_samples(result)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [DrbdCollector(context)]


KIB = 1024
_MINOR = ("minor", "instance")
DRBD_VERSION = family(
    "ganeti_drbd_version_info", "gauge", "DRBD kernel module version; always 1.", "version", "api"
)
DRBD_DEVICE_INFO = family(
    "ganeti_drbd_device_info",
    "gauge",
    "DRBD minor with its states as labels; always 1.",
    *_MINOR,
    "connection_state",
    "local_role",
    "remote_role",
    "local_state",
    "remote_state",
)
DRBD_CONNECTED = family(
    "ganeti_drbd_connected", "gauge", "1 if the minor is connected to its peer.", *_MINOR
)
DRBD_PRIMARY = family(
    "ganeti_drbd_primary", "gauge", "1 if the local role of the minor is Primary.", *_MINOR
)
DRBD_UP_TO_DATE = family(
    "ganeti_drbd_disk_up_to_date",
    "gauge",
    "1 if the disk state is UpToDate; side is local or remote.",
    *_MINOR,
    "side",
)


def _minor_family(name: str, kind: MetricType, help_text: str) -> Family:
    return family(name, kind, help_text, *_MINOR)


DRBD_COUNTER_FAMILIES: tuple[tuple[Family, int], ...] = (
    (
        _minor_family("ganeti_drbd_network_sent_bytes_total", "counter", "Bytes sent to the peer."),
        KIB,
    ),
    (
        _minor_family(
            "ganeti_drbd_network_received_bytes_total", "counter", "Bytes received from the peer."
        ),
        KIB,
    ),
    (
        _minor_family(
            "ganeti_drbd_disk_written_bytes_total", "counter", "Bytes written to the local disk."
        ),
        KIB,
    ),
    (
        _minor_family(
            "ganeti_drbd_disk_read_bytes_total", "counter", "Bytes read from the local disk."
        ),
        KIB,
    ),
    (
        _minor_family(
            "ganeti_drbd_activitylog_writes_total", "counter", "Activity log metadata updates."
        ),
        1,
    ),
    (_minor_family("ganeti_drbd_bitmap_writes_total", "counter", "Bitmap metadata updates."), 1),
    (_minor_family("ganeti_drbd_local_pending", "gauge", "Open requests to the local disk."), 1),
    (
        _minor_family(
            "ganeti_drbd_remote_pending", "gauge", "Requests sent to the peer, unanswered."
        ),
        1,
    ),
    (
        _minor_family(
            "ganeti_drbd_remote_unacknowledged",
            "gauge",
            "Requests from the peer not yet acknowledged.",
        ),
        1,
    ),
    (
        _minor_family(
            "ganeti_drbd_application_pending",
            "gauge",
            "Block I/O requests forwarded to DRBD, not yet answered.",
        ),
        1,
    ),
)
"""The families of the counters line, in its order, and their scale (DRBD counts KiB)."""
DRBD_EPOCHS = _minor_family("ganeti_drbd_epochs", "gauge", "Number of epoch objects.")
DRBD_OUT_OF_SYNC = _minor_family("ganeti_drbd_out_of_sync_bytes", "gauge", "Bytes out of sync.")
DRBD_SYNC_RATIO = _minor_family(
    "ganeti_drbd_sync_progress_ratio", "gauge", "Resynchronisation progress (0..1)."
)
DRBD_SYNC_SPEED = _minor_family(
    "ganeti_drbd_sync_speed_bytes_per_second", "gauge", "Resynchronisation speed."
)
DRBD_SYNC_REMAINING = _minor_family(
    "ganeti_drbd_sync_remaining_seconds",
    "gauge",
    "Estimated time until resynchronisation finishes.",
)
SPEED_UNITS = {"K": KIB, "M": KIB * KIB}


def drbd_samples(paired: PairedDrbd) -> Iterator[Sample]:
    version = paired.status.version.get("version")
    if version is not None:
        api = paired.status.version.get("api") or ""
        yield Sample(DRBD_VERSION, (version, api), 1.0)
    for device in paired.status.devices:
        yield from _device_samples(device, paired.pairing.get(device.minor, ""))


def _device_samples(device: Device, instance: str) -> Iterator[Sample]:
    minor = (str(device.minor), instance)
    states = (
        device.connection_state,
        device.local_role,
        device.remote_role,
        device.local_state,
        device.remote_state,
    )
    yield Sample(DRBD_DEVICE_INFO, minor + states, 1.0)
    yield flag(DRBD_CONNECTED, minor, device.connection_state in CONNECTED_STATES)
    if device.configured:
        yield flag(DRBD_PRIMARY, minor, device.local_role == "Primary")
        yield flag(DRBD_UP_TO_DATE, (*minor, "local"), device.local_state == "UpToDate")
        yield flag(DRBD_UP_TO_DATE, (*minor, "remote"), device.remote_state == "UpToDate")
    if device.perf is not None:
        yield from _perf_samples(device.perf, minor)
    if device.sync is not None:
        yield from _sync_samples(device.sync, minor)


def _perf_samples(perf: PerfIndicators, minor: tuple[str, ...]) -> Iterator[Sample]:
    for (declared, scale), count in zip(DRBD_COUNTER_FAMILIES, perf.counters, strict=True):
        yield Sample(declared, minor, float(count) * scale)
    if perf.epochs is not None:
        yield Sample(DRBD_EPOCHS, minor, float(perf.epochs))
    if perf.out_of_sync is not None:
        yield Sample(DRBD_OUT_OF_SYNC, minor, float(perf.out_of_sync) * KIB)


def _sync_samples(sync: SyncStatus, minor: tuple[str, ...]) -> Iterator[Sample]:
    yield Sample(DRBD_SYNC_RATIO, minor, sync.percentage / 100)
    unit = SPEED_UNITS.get(sync.speed_unit)
    if unit is not None:
        yield Sample(DRBD_SYNC_SPEED, minor, float(sync.speed) * unit)
    hours, minutes, seconds = sync.time_to_finish
    yield Sample(DRBD_SYNC_REMAINING, minor, float((hours * 60 + minutes) * 60 + seconds))
