"""Hypervisor collectors (category hypervisor, performance): the hypervisor's view of the host.

``hypervisor-xen`` asks Xen (``xl info`` and ``xl list`` for Domain-0), where the node
OS is only Dom0 and sees part of the machine; ``hypervisor-kvm`` reads /proc, since
with KVM the host kernel is the hypervisor. Both report the figures Ganeti's own
hypervisor classes report to the master (``memory_total``, ``memory_free``,
``memory_dom0``, ``cpu_total``, ``cpu_nodes``, ``cpu_sockets``, memory in MiB), so
they compare directly with ``gnt-node list``, plus what is specific to each hypervisor,
and the instances' network interfaces (``NICs``, see :mod:`.hypervisor_nics`).
On KVM, ``cpu_nodes`` and ``cpu_sockets`` are the machine's: Ganeti 3.0.2's KVM node
info always says 1 and 1 (see the README).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import psutil
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ganeti_agent.collectors.hypervisor_nics import HostNic, kvm_nics, xen_nics
from ganeti_agent.core.executor import ExecutionError, ProcessResult
from ganeti_agent.core.files import InputError, read_text
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError, TypedCollector
from ganeti_agent.core.jsontypes import JSON, JSONObject
from ganeti_agent.core.metrics import Family, Sample, family, flag
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.parsers.cpuinfo import CpuInfo, parse_cpuinfo
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.meminfo import MemInfo, parse_meminfo
from ganeti_agent.parsers.numa import parse_kernel_list, parse_node_meminfo
from ganeti_agent.parsers.xen import ListEntry, parse_list
from ganeti_agent.parsers.xl_info import XenInfo, parse_xl_info

MEMORY_UNIT = "MiB"
DEFAULT_XL = "xl"
DEFAULT_KVM_DEVICE = "/dev/kvm"
DEFAULT_NODE_DIR = "/sys/devices/system/node"
DEFAULT_SYS_ROOT = "/sys"
_NUMA_NODE = re.compile(r"node[0-9]+")
MAX_NUMA_NODES = 1024
"""The kernel's own limit (``CONFIG_NODES_SHIFT`` at most 10)."""
T = TypeVar("T")


def _decode(result: ProcessResult) -> str:
    try:
        return result.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        command = " ".join(result.argv)
        raise CollectorError(f"{command}: invalid byte sequence at offset {exc.start}") from None


@dataclass(frozen=True)
class HostFigures:
    """A hypervisor's view of its host, the same figures for both (memory in MiB).

    ``details`` is what only this hypervisor tells (the report's ``xen`` or ``kvm``).
    """

    hypervisor: str
    version: str | None
    memory_total: int
    memory_free: int
    memory_dom0: int | None
    cpu_total: int
    cpu_nodes: int | None
    cpu_sockets: int | None
    cpu_dom0: int | None
    cpu_mhz: float | None
    details: JSONObject
    nics: list[HostNic] = field(default_factory=list)

    def to_json(self) -> JSON:
        return {
            "hypervisor": self.hypervisor,
            "version": self.version,
            "memory_unit": MEMORY_UNIT,
            "memory_total": self.memory_total,
            "memory_free": self.memory_free,
            "memory_dom0": self.memory_dom0,
            "cpu_total": self.cpu_total,
            "cpu_nodes": self.cpu_nodes,
            "cpu_sockets": self.cpu_sockets,
            "cpu_dom0": self.cpu_dom0,
            "cpu_mhz": self.cpu_mhz,
            self.hypervisor: self.details,
            "NICs": [nic.to_json() for nic in self.nics],
        }


def xen_figures(
    info: XenInfo, dom0: ListEntry | None, nics: list[HostNic] | None = None
) -> HostFigures:
    """The figures of ``xl info``, Domain-0's line of ``xl list`` and the guests' vifs."""
    return HostFigures(
        hypervisor="xen",
        version=info.version,
        memory_total=info.total_memory,
        memory_free=info.free_memory,
        memory_dom0=dom0.memory if dom0 else None,
        cpu_total=info.nr_cpus,
        cpu_nodes=info.nr_nodes,
        cpu_sockets=info.cpu_sockets,
        cpu_dom0=dom0.vcpus if dom0 else None,
        cpu_mhz=info.cpu_mhz,
        details={key: value for key, value in info.fields.items()},
        nics=nics or [],
    )


class HypervisorCollector(TypedCollector[HostFigures]):
    """What both hypervisor collectors share: their report and samples come from figures."""

    def to_data(self, result: HostFigures) -> JSON:
        return result.to_json()

    def samples(self, result: HostFigures) -> Iterator[Sample]:
        return hypervisor_samples(result)


class XenHypervisorCollector(HypervisorCollector):
    """Xen's view of the host, from ``xl info`` (``xm`` via the ``xl`` option)."""

    name = "hypervisor-xen"
    category = Category.HYPERVISOR
    kind = Kind.PERFORMANCE

    @property
    def command(self) -> str:
        return self.settings.option("xl", DEFAULT_XL)

    def available(self) -> bool:
        """A Xen Dom0: /proc/xen exists and the toolstack is installed."""
        xen_dir = os.path.join(self.context.proc_root, "xen")
        return os.path.isdir(xen_dir) and self.context.find_command(self.command) is not None

    def result(self) -> Deferred[HostFigures]:
        asked = self.context.runner.run([self.command, "info"], self.settings.timeout)
        info: Deferred[XenInfo] = asked.addCallbacks(self._info, self._failed)
        return info.addCallback(self._with_dom0)

    def _with_dom0(self, info: XenInfo) -> Deferred[HostFigures]:
        listed = self.context.runner.run([self.command, "list"], self.settings.timeout)
        found = listed.addCallbacks(self._domains, self._no_domains)
        return found.addCallback(lambda domains: self._data(info, domains))

    def _data(self, info: XenInfo, domains: list[ListEntry]) -> HostFigures:
        dom0 = next((entry for entry in domains if entry.domid == 0), None)
        names = {entry.domid: entry.name for entry in domains}
        nics = xen_nics(self.settings.option("sys-root", DEFAULT_SYS_ROOT), names)
        return xen_figures(info, dom0, nics)

    def _info(self, result: ProcessResult) -> XenInfo:
        try:
            return parse_xl_info(_decode(result))
        except ParseError as exc:
            raise CollectorError(f"{self.command} info: cannot parse: {exc.reason}") from None

    def _domains(self, result: ProcessResult) -> list[ListEntry]:
        """The domains; the figures they give are optional, so a bad list is no failure."""
        try:
            return parse_list(_decode(result))
        except (ParseError, CollectorError):
            return []

    def _no_domains(self, failure: Failure) -> list[ListEntry]:
        failure.trap(ExecutionError)
        return []

    @staticmethod
    def _failed(failure: Failure) -> XenInfo:
        failure.trap(ExecutionError)
        raise CollectorError(failure.getErrorMessage())


def kvm_figures(
    meminfo: MemInfo,
    cpuinfo: CpuInfo,
    release: str | None,
    numa: list[JSON],
    nics: list[HostNic] | None = None,
) -> HostFigures:
    """The figures of a KVM host, with Ganeti's arithmetic for the memory figures.

    As Ganeti's KVM hypervisor: free memory is MemFree + Buffers + Cached, each rounded
    down to MiB before the sum, and the host (dom0) uses Active. Sockets are the
    distinct ``physical id`` values and nodes the NUMA nodes, where Ganeti says 1.
    """
    hugepage_size = meminfo.get("Hugepagesize")
    available = meminfo.get("MemAvailable")
    return HostFigures(
        hypervisor="kvm",
        version=release,
        memory_total=meminfo.mib("MemTotal"),
        memory_free=sum(meminfo.mib(key) for key in ("MemFree", "Buffers", "Cached")),
        memory_dom0=meminfo.mib("Active"),
        cpu_total=cpuinfo.cpu_number,
        cpu_nodes=max(1, len(numa)),
        cpu_sockets=cpuinfo.sockets,
        cpu_dom0=cpuinfo.cpu_number,
        cpu_mhz=cpuinfo.mhz,
        details={
            "memory_available": available // 1024 if available is not None else None,
            "hugepages_total": meminfo.get("HugePages_Total"),
            "hugepages_free": meminfo.get("HugePages_Free"),
            "hugepage_size_kib": hugepage_size,
            "cpu_cores": cpuinfo.cores,
            "cpu_model": cpuinfo.model,
            "virtualization": cpuinfo.virtualization,
            "load_average": [round(load, 2) for load in psutil.getloadavg()],
            "numa_nodes": numa,
        },
        nics=nics or [],
    )


def count_numa_nodes(node_dir: str) -> int:
    """NUMA nodes the kernel lists; 1 where it lists none (non-NUMA kernels)."""
    return max(1, len(numa_nodes(node_dir)))


def numa_nodes(node_dir: str) -> list[JSON]:
    """Each online NUMA node's CPUs and memory (MiB); empty where the kernel has no such files.

    The nodes are ``online``'s (the ``nodeN`` directories where that file is missing);
    a node whose files cannot be read or parsed keeps its number with nulls.
    """
    try:
        online = parse_kernel_list(read_text(os.path.join(node_dir, "online"), 4096))
    except (InputError, ParseError):
        online = _node_directories(node_dir)
    return [_numa_node(node_dir, node) for node in online[:MAX_NUMA_NODES]]


def _node_directories(node_dir: str) -> list[int]:
    try:
        names = os.listdir(node_dir)
    except OSError:
        return []
    return sorted(int(name[4:]) for name in names if _NUMA_NODE.fullmatch(name))


def _numa_node(node_dir: str, node: int) -> dict[str, JSON]:
    base = os.path.join(node_dir, f"node{node}")
    entry: dict[str, JSON] = {"node": node, "cpus": None}
    entry.update(memory_total=None, memory_free=None)
    try:
        cpulist = read_text(os.path.join(base, "cpulist"), 4096)
        cpus: list[JSON] = list(parse_kernel_list(cpulist))
        counters = parse_node_meminfo(read_text(os.path.join(base, "meminfo")))
    except (InputError, ParseError):
        return entry
    entry["cpus"] = cpus
    for key, name in (("memory_total", "MemTotal"), ("memory_free", "MemFree")):
        kib = counters.get(name)
        entry[key] = kib // 1024 if kib is not None else None
    return entry


class KvmHypervisorCollector(HypervisorCollector):
    """A KVM host's resources: with KVM the host kernel is the hypervisor."""

    name = "hypervisor-kvm"
    category = Category.HYPERVISOR
    kind = Kind.PERFORMANCE

    def _proc(self, name: str) -> str:
        return os.path.join(self.context.proc_root, name)

    def available(self) -> bool:
        return os.path.exists(self.settings.option("device", DEFAULT_KVM_DEVICE))

    def result(self) -> HostFigures:
        meminfo = self._parsed(self._proc("meminfo"), parse_meminfo)
        cpuinfo = self._parsed(self._proc("cpuinfo"), parse_cpuinfo)
        try:
            release: str | None = read_text(self._proc("sys/kernel/osrelease"), 4096).strip()
        except InputError:
            release = None
        numa = numa_nodes(self.settings.option("node-dir", DEFAULT_NODE_DIR))
        nic_dir = os.path.join(self.context.paths.kvm_hypervisor_dir, "nic")
        nics = kvm_nics(self.settings.option("sys-root", DEFAULT_SYS_ROOT), nic_dir)
        return kvm_figures(meminfo, cpuinfo, release, numa, nics)

    @staticmethod
    def _parsed(path: str, parse: Callable[[str], T]) -> T:
        text = read_text(path)
        try:
            return parse(text)
        except ParseError as exc:
            raise CollectorError(f"{path}: cannot parse: {exc.reason}") from None


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [XenHypervisorCollector(context), KvmHypervisorCollector(context)]


MIB = 1024 * 1024
_HV = ("hypervisor",)
HYPERVISOR_INFO = family(
    "ganeti_hypervisor_info", "gauge", "Hypervisor and its version; always 1.", *_HV, "version"
)
HYPERVISOR_MEMORY_TOTAL = family(
    "ganeti_hypervisor_memory_total_bytes", "gauge", "Memory of the host.", *_HV
)
HYPERVISOR_MEMORY_FREE = family(
    "ganeti_hypervisor_memory_free_bytes", "gauge", "Memory free for instances.", *_HV
)
HYPERVISOR_CPUS = family("ganeti_hypervisor_cpus", "gauge", "Physical CPUs.", *_HV)
HYPERVISOR_SOCKETS = family("ganeti_hypervisor_cpu_sockets", "gauge", "CPU sockets.", *_HV)
HYPERVISOR_NODES = family("ganeti_hypervisor_numa_nodes", "gauge", "NUMA nodes.", *_HV)


_NIC = (*_HV, "instance", "interface")
HYPERVISOR_NIC_UP = family(
    "ganeti_hypervisor_nic_up", "gauge", "1 if an instance's host interface is up.", *_NIC
)
HYPERVISOR_NIC_COUNTERS = tuple(
    family(f"ganeti_hypervisor_nic_{name}_total", "counter", text, *_NIC)
    for name, text in (
        ("transmit_bytes", "Bytes the host sent to the instance."),
        ("receive_bytes", "Bytes the host received from the instance."),
        ("transmit_packets", "Packets the host sent to the instance."),
        ("receive_packets", "Packets the host received from the instance."),
        ("receive_errs", "Receive errors of the instance's host interface."),
        ("transmit_errs", "Transmit errors of the instance's host interface."),
        ("receive_drop", "Dropped on receive by the instance's host interface."),
        ("transmit_drop", "Dropped on transmit by the instance's host interface."),
    )
)


"""Families of a host interface's counters, in the order of ``STATISTICS``."""


def hypervisor_samples(figures: HostFigures) -> Iterator[Sample]:
    hypervisor = (figures.hypervisor,)
    yield Sample(HYPERVISOR_INFO, (*hypervisor, figures.version or ""), 1.0)
    sizes: tuple[tuple[Family, float | None, int], ...] = (
        (HYPERVISOR_MEMORY_TOTAL, figures.memory_total, MIB),
        (HYPERVISOR_MEMORY_FREE, figures.memory_free, MIB),
        (HYPERVISOR_CPUS, figures.cpu_total, 1),
        (HYPERVISOR_SOCKETS, figures.cpu_sockets, 1),
        (HYPERVISOR_NODES, figures.cpu_nodes, 1),
    )
    for declared, value, scale in sizes:
        if value is not None:
            yield Sample(declared, hypervisor, float(value) * scale)
    for nic in figures.nics:
        yield from _nic_samples(figures.hypervisor, nic)


def _nic_samples(hypervisor: str, nic: HostNic) -> Iterator[Sample]:
    interface = nic.interface
    labels = (hypervisor, nic.instance or "", interface.name or "")
    if interface.up is not None:
        yield flag(HYPERVISOR_NIC_UP, labels, interface.up)
    for declared, count in zip(HYPERVISOR_NIC_COUNTERS, interface.counters, strict=False):
        if count is not None:
            yield Sample(declared, labels, float(count))
