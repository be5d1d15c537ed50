"""The ``node`` collector (no category, performance): the node OS's view of its resources.

CPUs, memory, local filesystems and network interfaces come from psutil (a few
/proc and /sys reads and ``statvfs`` calls); versions from small files, so a report
costs milliseconds. Sizes are bytes (``size_unit``).
CPU times are sampled every ``interval``: the busy fractions cover the last interval,
whoever asks and however often, and the cumulative seconds go to ``/metrics``.
The one exception is QEMU's version on a KVM node: like Ganeti, the collector asks
``kvm --version``, but only when the binary changed since it last asked.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import psutil
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ganeti_agent import __version__
from ganeti_agent.core.executor import ExecutionError, ProcessResult
from ganeti_agent.core.files import InputError, read_text
from ganeti_agent.core.framework import (
    AgentContext,
    Collector,
    SampledCollector,
    TypedCollector,
)
from ganeti_agent.core.jsontypes import JSON, JSONObject
from ganeti_agent.core.metrics import Family, MetricType, Sample, family, flag
from ganeti_agent.core.report import Kind
from ganeti_agent.parsers.versions import drbd_version, ganeti_release, qemu_version

log = Logger(namespace="ganeti_agent.collectors.node")

NAME = "node"
SIZE_UNIT = "B"
SMALL_FILE = 64 * 1024
CONSTANTS_LIMIT = 4 * 1024 * 1024
DEFAULT_GANETI_SHARE = "/etc/ganeti/share"
DEFAULT_GANETI_VERSIONS = "/usr/share/ganeti"
DEFAULT_SYS_ROOT = "/sys"
DEFAULT_QEMU = "kvm"
DEFAULT_KVM_DEVICE = "/dev/kvm"
CONSTANTS = os.path.join("ganeti", "_constants.py")
FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6", psutil.AF_LINK: "link"}


class CpuTimes(Protocol):
    """One CPU's cumulative times as psutil gives them (a named tuple per CPU)."""

    def _asdict(self) -> dict[str, float]: ...


class CpuLoad:
    """Per-CPU busy fraction (0 to 1) between the last two samples; since boot after one.

    Samples are taken on the collector's timer, never by a report, so one scraper does
    not shorten another's window.
    """

    def __init__(self) -> None:
        self._previous: list[tuple[float, float]] | None = None
        self._newest: list[tuple[float, float]] | None = None
        self.times: list[dict[str, float]] = []

    def sample(self, times: Sequence[CpuTimes]) -> None:
        self._previous, self._newest = self._newest, [(_busy(t), _total(t)) for t in times]
        self.times = [_modes(t) for t in times]

    def loads(self) -> list[float]:
        now = self._newest or []
        last = self._previous if self._previous is not None else None
        if last is not None and len(last) != len(now):
            last = None
        loads = []
        for index, (busy, total) in enumerate(now):
            if last is not None and total > last[index][1]:
                busy, total = busy - last[index][0], total - last[index][1]
            loads.append(round(min(max(busy / total, 0.0), 1.0), 4) if total > 0 else 0.0)
        return loads


def _modes(times: CpuTimes) -> dict[str, float]:
    """Cumulative seconds per mode of one CPU, as psutil names them (user, idle, ...).

    Guest time is left out, as in :func:`_total`: the kernel counts it in user time too.
    """
    fields = times._asdict().items()
    return {mode: float(v) for mode, v in fields if mode not in ("guest", "guest_nice")}


def _total(times: CpuTimes) -> float:
    """All time of a CPU; guest time is already counted in user time, so it is left out."""
    fields = times._asdict()
    return float(sum(v for k, v in fields.items() if k not in ("guest", "guest_nice")))


def _busy(times: CpuTimes) -> float:
    fields = times._asdict()
    return _total(times) - float(fields.get("idle", 0.0)) - float(fields.get("iowait", 0.0))


def memory_figures() -> dict[str, int | None]:
    """Memory and swap in bytes, by psutil's names; None where this OS has no figure."""
    virtual = psutil.virtual_memory()._asdict()
    swap = psutil.swap_memory()
    keys = ("total", "available", "used", "free", "buffers", "cached", "shared")
    memory: dict[str, int | None] = {key: virtual.get(key) for key in keys}
    memory.update(swap_total=swap.total, swap_used=swap.used, swap_free=swap.free)
    return memory


@dataclass(frozen=True)
class Filesystem:
    """A local filesystem: its size, use and free space in bytes, or why they are unknown."""

    device: str
    mountpoint: str
    fstype: str
    usage: tuple[int, int, int] | None = None
    error: str = ""

    def to_json(self) -> JSONObject:
        entry: JSONObject = {
            "device": self.device,
            "mountpoint": self.mountpoint,
            "fstype": self.fstype,
        }
        if self.usage is None:
            entry["error"] = self.error
        else:
            entry.update(zip(("total", "used", "free"), self.usage, strict=True))
        return entry


def filesystems() -> list[Filesystem]:
    """Local filesystems only (psutil's physical devices): a network mount could hang."""
    found: list[Filesystem] = []
    seen: set[str] = set()
    for partition in psutil.disk_partitions(all=False):
        if partition.mountpoint in seen:
            continue
        seen.add(partition.mountpoint)
        where = (partition.device, partition.mountpoint, partition.fstype)
        try:
            usage = psutil.disk_usage(partition.mountpoint)
        except OSError as exc:
            found.append(
                Filesystem(*where, error=f"statvfs {partition.mountpoint}: {exc.strerror or exc}")
            )
        else:
            found.append(Filesystem(*where, usage=(usage.total, usage.used, usage.free)))
    return found


@dataclass(frozen=True)
class Link:
    """An interface's link as the kernel reports it."""

    up: bool
    mtu: int
    speed: int


NIC_COUNTERS = (
    "bytes_sent",
    "bytes_received",
    "packets_sent",
    "packets_received",
    "errors_in",
    "errors_out",
    "drops_in",
    "drops_out",
)
"""The report's names of an interface's counters, in the order of :attr:`Nic.counters`."""


@dataclass(frozen=True)
class Nic:
    """A network interface: its link, its counters (:data:`NIC_COUNTERS`), its addresses."""

    name: str
    link: Link | None = None
    counters: tuple[int, ...] | None = None
    addresses: tuple[tuple[str, str, str | None], ...] = ()

    def to_json(self) -> JSONObject:
        nic: JSONObject = {"name": self.name}
        if self.link is not None:
            nic.update(up=self.link.up, mtu=self.link.mtu, speed=self.link.speed)
        if self.counters is not None:
            nic.update(zip(NIC_COUNTERS, self.counters, strict=True))
        nic["addresses"] = [
            {"family": family, "address": address, "netmask": netmask}
            for family, address, netmask in self.addresses
        ]
        return nic


def nics() -> list[Nic]:
    counters = psutil.net_io_counters(pernic=True)
    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    found: list[Nic] = []
    for name in sorted(set(counters) | set(addresses)):
        link = stats.get(name)
        io = counters.get(name)
        found.append(
            Nic(
                name,
                Link(link.isup, link.mtu, link.speed) if link is not None else None,
                (
                    io.bytes_sent,
                    io.bytes_recv,
                    io.packets_sent,
                    io.packets_recv,
                    io.errin,
                    io.errout,
                    io.dropin,
                    io.dropout,
                )
                if io is not None
                else None,
                tuple(
                    (FAMILIES[a.family], a.address, a.netmask)
                    for a in addresses.get(name, [])
                    if a.family in FAMILIES
                ),
            )
        )
    return found


def _read_optional(path: str, limit: int = SMALL_FILE) -> str | None:
    """A file's text, None when it cannot be read.

    The limit is also the read size, and /proc/sys files refuse large reads (ENOMEM).
    """
    try:
        return read_text(path, limit=limit)
    except InputError:
        return None


class VersionReader:
    """Versions of the components Ganeti works with, from files; absent ones are left out.

    Ganeti's ``_constants.py`` is ~100 KiB, so it is re-read only when it changes.
    """

    def __init__(self, context: AgentContext, options: Callable[[str, str], str]) -> None:
        self.context = context
        self.options = options
        self._ganeti: tuple[str, float, str | None] | None = None

    def versions(self) -> dict[str, str]:
        found: dict[str, str | None] = {
            "linux": self._linux(),
            "drbd": self._drbd(),
            "xen": self._xen(),
            "ganeti": self._ganeti_version(),
            "ganeti-agent": __version__,
        }
        return {name: version for name, version in found.items() if version}

    def _linux(self) -> str | None:
        text = _read_optional(os.path.join(self.context.proc_root, "sys/kernel/osrelease"))
        return text.strip() if text else os.uname().release

    def _drbd(self) -> str | None:
        text = _read_optional(os.path.join(self.context.proc_root, "drbd"))
        return drbd_version(text) if text else None

    def _xen(self) -> str | None:
        hypervisor = os.path.join(self.options("sys-root", DEFAULT_SYS_ROOT), "hypervisor")
        if (_read_optional(os.path.join(hypervisor, "type")) or "").strip() != "xen":
            return None
        parts = [
            (_read_optional(os.path.join(hypervisor, "version", part)) or "").strip()
            for part in ("major", "minor", "extra")
        ]
        return f"{parts[0]}.{parts[1]}{parts[2]}" if parts[0] and parts[1] else None

    def _ganeti_version(self) -> str | None:
        """The installed Ganeti Ganeti runs (``/etc/ganeti/share``), else the cluster's."""
        share = self.options("ganeti-share", DEFAULT_GANETI_SHARE)
        installed = self._constants_release(os.path.join(share, CONSTANTS))
        if installed:
            return installed
        cluster = _read_optional(self.context.paths.ssconf("release_version"))
        if cluster and cluster.strip():
            return cluster.strip()
        return self._sole_installed(self.options("ganeti-versions", DEFAULT_GANETI_VERSIONS))

    def _sole_installed(self, directory: str) -> str | None:
        """With exactly one Ganeti version installed, there is no doubt which one runs."""
        try:
            candidates = [
                path
                for path in (os.path.join(directory, n, CONSTANTS) for n in os.listdir(directory))
                if os.path.isfile(path)
            ]
        except OSError:
            return None
        return self._constants_release(candidates[0]) if len(candidates) == 1 else None

    def _constants_release(self, path: str) -> str | None:
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        if self._ganeti is not None and self._ganeti[:2] == (path, mtime):
            return self._ganeti[2]
        text = _read_optional(path, CONSTANTS_LIMIT)
        release = ganeti_release(text) if text else None
        self._ganeti = (path, mtime, release)
        return release


@dataclass(frozen=True)
class NodeFacts:
    """One look at the node: CPU load and times, memory, filesystems, NICs, versions."""

    loads: list[float]
    cpu_seconds: list[dict[str, float]]
    memory: dict[str, int | None]
    filesystems: list[Filesystem]
    nics: list[Nic]
    versions: dict[str, str]

    def to_json(self) -> JSON:
        cpus: list[JSON] = [*self.loads]
        memory: JSONObject = {**self.memory}
        return {
            "cpu_number": len(self.loads),
            "cpus": cpus,
            "cpu_seconds": [dict(modes) for modes in self.cpu_seconds],
            "size_unit": SIZE_UNIT,
            "memory": memory,
            "filesystem": [filesystem.to_json() for filesystem in self.filesystems],
            "NICs": [nic.to_json() for nic in self.nics],
            "versions": dict(self.versions),
        }


BinaryStamp = tuple[str, int, int]
"""A program's path, modification time (ns) and size: a change means another version."""


class QemuVersion:
    """QEMU's version on a KVM node (``/dev/kvm`` exists), from ``<qemu> --version``.

    Ganeti's KVM hypervisor runs ``kvm --help`` for its node info; asking on every report
    would cost a process per scrape, so the answer is kept until the binary changes.
    A run that fails is remembered too (one log line), so a broken QEMU is not retried
    on each report.
    """

    def __init__(
        self, context: AgentContext, options: Callable[[str, str], str], timeout: float
    ) -> None:
        self.context = context
        self.options = options
        self.timeout = timeout
        self.version: str | None = None
        self._stamp: BinaryStamp | None = None

    def refresh(self) -> Deferred[None]:
        """Bring :attr:`version` up to date; never fails."""
        stamp = self._binary()
        if stamp is None:
            self.version, self._stamp = None, None
            return succeed(None)
        if stamp == self._stamp:
            return succeed(None)
        self._stamp = stamp
        asked = self.context.runner.run([stamp[0], "--version"], self.timeout)
        return asked.addCallbacks(self._answered, self._failed)

    def _binary(self) -> BinaryStamp | None:
        if not os.path.exists(self.options("kvm-device", DEFAULT_KVM_DEVICE)):
            return None
        path = self.context.find_command(self.options("qemu", DEFAULT_QEMU))
        if path is None:
            return None
        try:
            found = os.stat(path)
        except OSError:
            return None
        return path, found.st_mtime_ns, found.st_size

    def _answered(self, result: ProcessResult) -> None:
        self.version = qemu_version(result.stdout.decode("utf-8", "replace"))
        if self.version is None:
            log.warn("no version in {argv}'s output", argv=" ".join(result.argv))

    def _failed(self, failure: Failure) -> None:
        failure.trap(ExecutionError)
        self.version = None
        log.warn("QEMU version unknown: {error}", error=failure.getErrorMessage()[:200])


class NodeCollector(SampledCollector, TypedCollector[NodeFacts]):
    """What the node OS sees: CPUs, memory, filesystems, NICs and component versions."""

    name = NAME
    category = None
    kind = Kind.PERFORMANCE

    def __init__(self, context: AgentContext) -> None:
        super().__init__(context)
        self.cpu_load = CpuLoad()
        self.version_reader = VersionReader(context, self.settings.option)
        self.qemu = QemuVersion(context, self.settings.option, self.settings.timeout)

    def sample(self) -> None:
        self.cpu_load.sample(psutil.cpu_times(percpu=True))

    def result(self) -> Deferred[NodeFacts]:
        return self.qemu.refresh().addCallback(lambda _: self._facts())

    def _facts(self) -> NodeFacts:
        if not self.cpu_load.times:  # asked before the timer's first sample
            self.sample()
        versions = self.version_reader.versions()
        if self.qemu.version:
            versions["qemu"] = self.qemu.version
        return NodeFacts(
            loads=self.cpu_load.loads(),
            cpu_seconds=list(self.cpu_load.times),
            memory=memory_figures(),
            filesystems=filesystems(),
            nics=nics(),
            versions=versions,
        )

    def to_data(self, result: NodeFacts) -> JSON:
        return result.to_json()

    def samples(self, result: NodeFacts) -> Iterator[Sample]:
        return node_samples(result)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [NodeCollector(context)]


NODE_CPU_BUSY = family(
    "ganeti_node_cpu_busy_ratio",
    "gauge",
    "Busy fraction of one CPU over the node collector's last sampling interval (0..1).",
    "cpu",
)
NODE_CPU_SECONDS = family(
    "ganeti_node_cpu_seconds_total",
    "counter",
    "Seconds one CPU spent in each mode since boot (psutil's names), at the last sample.",
    "cpu",
    "mode",
)
NODE_CPU_NUMBER = family("ganeti_node_cpu_number", "gauge", "Number of CPUs of the node.")
NODE_MEMORY = family(
    "ganeti_node_memory_bytes",
    "gauge",
    "Memory and swap figures of the node OS; type is the report's key (total, available, ...).",
    "type",
)
_FS = ("device", "mountpoint", "fstype")
NODE_FS_FAMILIES = (
    family("ganeti_node_filesystem_size_bytes", "gauge", "Size of a filesystem.", *_FS),
    family("ganeti_node_filesystem_used_bytes", "gauge", "Used space.", *_FS),
    family("ganeti_node_filesystem_free_bytes", "gauge", "Free space.", *_FS),
)
"""Families of a filesystem's total, used and free bytes, in :attr:`Filesystem.usage` order."""
_NIC = ("interface",)
NODE_NIC_UP = family("ganeti_node_network_up", "gauge", "1 if the interface is up.", *_NIC)


def _nic_family(name: str, kind: MetricType, help_text: str) -> Family:
    return family(name, kind, help_text, *_NIC)


NODE_NIC_MTU = _nic_family("ganeti_node_network_mtu_bytes", "gauge", "MTU of the interface.")
NODE_NIC_COUNTERS = (
    _nic_family("ganeti_node_network_transmit_bytes_total", "counter", "Bytes sent."),
    _nic_family("ganeti_node_network_receive_bytes_total", "counter", "Bytes received."),
    _nic_family("ganeti_node_network_transmit_packets_total", "counter", "Packets sent."),
    _nic_family("ganeti_node_network_receive_packets_total", "counter", "Packets received."),
    _nic_family("ganeti_node_network_receive_errs_total", "counter", "Receive errors."),
    _nic_family("ganeti_node_network_transmit_errs_total", "counter", "Transmit errors."),
    _nic_family("ganeti_node_network_receive_drop_total", "counter", "Dropped on receive."),
    _nic_family("ganeti_node_network_transmit_drop_total", "counter", "Dropped on transmit."),
)
"""Families of an interface's counters, in :data:`NIC_COUNTERS` order."""
NODE_VERSION = family(
    "ganeti_node_version_info",
    "gauge",
    "Version of a component on the node (kernel, ganeti, drbd, ...); always 1.",
    "component",
    "version",
)


def node_samples(facts: NodeFacts) -> Iterator[Sample]:
    for index, busy in enumerate(facts.loads):
        yield Sample(NODE_CPU_BUSY, (str(index),), busy)
    yield Sample(NODE_CPU_NUMBER, (), float(len(facts.loads)))
    for index, modes in enumerate(facts.cpu_seconds):
        for mode, seconds in modes.items():
            yield Sample(NODE_CPU_SECONDS, (str(index), mode), seconds)
    for kind, size in facts.memory.items():
        if size is not None:
            yield Sample(NODE_MEMORY, (kind,), float(size))
    for filesystem in facts.filesystems:
        where = (filesystem.device, filesystem.mountpoint, filesystem.fstype)
        for declared, size in zip(NODE_FS_FAMILIES, filesystem.usage or (), strict=False):
            yield Sample(declared, where, float(size))
    for nic in facts.nics:
        yield from _nic_samples(nic)
    for component, version in facts.versions.items():
        yield Sample(NODE_VERSION, (component, version), 1.0)


def _nic_samples(nic: Nic) -> Iterator[Sample]:
    interface = (nic.name,)
    if nic.link is not None:
        yield flag(NODE_NIC_UP, interface, nic.link.up)
        yield Sample(NODE_NIC_MTU, interface, float(nic.link.mtu))
    for declared, count in zip(NODE_NIC_COUNTERS, nic.counters or (), strict=False):
        yield Sample(declared, interface, float(count))
