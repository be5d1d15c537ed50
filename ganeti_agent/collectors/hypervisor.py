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
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

import psutil
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ganeti_agent.collectors.hypervisor_nics import kvm_nics, xen_nics
from ganeti_agent.core.executor import ExecutionError, ProcessResult
from ganeti_agent.core.files import InputError, read_text
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import (
    FieldTable,
    Sample,
    family,
    fields,
    flag,
    label,
    objects,
)
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


def xen_data(
    info: XenInfo, dom0: ListEntry | None, nics: list[JSON] | None = None
) -> dict[str, JSON]:
    """Report data from ``xl info``, Domain-0's line of ``xl list`` and the guests' vifs."""
    return {
        "hypervisor": "xen",
        "version": info.version,
        "memory_unit": MEMORY_UNIT,
        "memory_total": info.total_memory,
        "memory_free": info.free_memory,
        "memory_dom0": dom0.memory if dom0 else None,
        "cpu_total": info.nr_cpus,
        "cpu_nodes": info.nr_nodes,
        "cpu_sockets": info.cpu_sockets,
        "cpu_dom0": dom0.vcpus if dom0 else None,
        "cpu_mhz": info.cpu_mhz,
        "xen": dict(info.fields),
        "NICs": nics or [],
    }


class XenHypervisorCollector(Collector):
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

    def collect(self) -> Deferred[JSON]:
        asked = self.context.runner.run([self.command, "info"], self.settings.timeout)
        info: Deferred[XenInfo] = asked.addCallbacks(self._info, self._failed)
        return info.addCallback(self._with_dom0)

    def _with_dom0(self, info: XenInfo) -> Deferred[JSON]:
        listed = self.context.runner.run([self.command, "list"], self.settings.timeout)
        found = listed.addCallbacks(self._domains, self._no_domains)
        return found.addCallback(lambda domains: self._data(info, domains))

    def _data(self, info: XenInfo, domains: list[ListEntry]) -> JSON:
        dom0 = next((entry for entry in domains if entry.domid == 0), None)
        names = {entry.domid: entry.name for entry in domains}
        nics = xen_nics(self.settings.option("sys-root", DEFAULT_SYS_ROOT), names)
        return xen_data(info, dom0, nics)

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

    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        return hypervisor_samples(data)


def kvm_data(
    meminfo: MemInfo,
    cpuinfo: CpuInfo,
    release: str | None,
    numa: list[JSON],
    nics: list[JSON] | None = None,
) -> dict[str, JSON]:
    """Report data of a KVM host, with Ganeti's arithmetic for the memory figures.

    As Ganeti's KVM hypervisor: free memory is MemFree + Buffers + Cached, each rounded
    down to MiB before the sum, and the host (dom0) uses Active. Sockets are the
    distinct ``physical id`` values and nodes the NUMA nodes, where Ganeti says 1.
    """
    hugepage_size = meminfo.get("Hugepagesize")
    available = meminfo.get("MemAvailable")
    return {
        "hypervisor": "kvm",
        "version": release,
        "memory_unit": MEMORY_UNIT,
        "memory_total": meminfo.mib("MemTotal"),
        "memory_free": sum(meminfo.mib(key) for key in ("MemFree", "Buffers", "Cached")),
        "memory_dom0": meminfo.mib("Active"),
        "cpu_total": cpuinfo.cpu_number,
        "cpu_nodes": max(1, len(numa)),
        "cpu_sockets": cpuinfo.sockets,
        "cpu_dom0": cpuinfo.cpu_number,
        "cpu_mhz": cpuinfo.mhz,
        "kvm": {
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
        "NICs": nics or [],
    }


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


class KvmHypervisorCollector(Collector):
    """A KVM host's resources: with KVM the host kernel is the hypervisor."""

    name = "hypervisor-kvm"
    category = Category.HYPERVISOR
    kind = Kind.PERFORMANCE

    def _proc(self, name: str) -> str:
        return os.path.join(self.context.proc_root, name)

    def available(self) -> bool:
        return os.path.exists(self.settings.option("device", DEFAULT_KVM_DEVICE))

    def collect(self) -> JSON:
        meminfo = self._parsed(self._proc("meminfo"), parse_meminfo)
        cpuinfo = self._parsed(self._proc("cpuinfo"), parse_cpuinfo)
        try:
            release: str | None = read_text(self._proc("sys/kernel/osrelease"), 4096).strip()
        except InputError:
            release = None
        numa = numa_nodes(self.settings.option("node-dir", DEFAULT_NODE_DIR))
        nic_dir = os.path.join(self.context.paths.kvm_hypervisor_dir, "nic")
        nics = kvm_nics(self.settings.option("sys-root", DEFAULT_SYS_ROOT), nic_dir)
        return kvm_data(meminfo, cpuinfo, release, numa, nics)

    @staticmethod
    def _parsed(path: str, parse: Callable[[str], T]) -> T:
        text = read_text(path)
        try:
            return parse(text)
        except ParseError as exc:
            raise CollectorError(f"{path}: cannot parse: {exc.reason}") from None

    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        return hypervisor_samples(data)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [XenHypervisorCollector(context), KvmHypervisorCollector(context)]


MIB = 1024 * 1024
_HV = ("hypervisor",)
HYPERVISOR_INFO = family(
    "ganeti_hypervisor_info", "gauge", "Hypervisor and its version; always 1.", *_HV, "version"
)
HYPERVISOR_FIELDS: FieldTable = (
    (
        "memory_total",
        family("ganeti_hypervisor_memory_total_bytes", "gauge", "Memory of the host.", *_HV),
        MIB,
    ),
    (
        "memory_free",
        family("ganeti_hypervisor_memory_free_bytes", "gauge", "Memory free for instances.", *_HV),
        MIB,
    ),
    ("cpu_total", family("ganeti_hypervisor_cpus", "gauge", "Physical CPUs.", *_HV), 1),
    ("cpu_sockets", family("ganeti_hypervisor_cpu_sockets", "gauge", "CPU sockets.", *_HV), 1),
    ("cpu_nodes", family("ganeti_hypervisor_numa_nodes", "gauge", "NUMA nodes.", *_HV), 1),
)


_NIC = (*_HV, "instance", "interface")
HYPERVISOR_NIC_UP = family(
    "ganeti_hypervisor_nic_up", "gauge", "1 if an instance's host interface is up.", *_NIC
)
HYPERVISOR_NIC_FIELDS: FieldTable = tuple(
    (key, family(f"ganeti_hypervisor_nic_{name}_total", "counter", text, *_NIC), 1)
    for key, name, text in (
        ("bytes_sent", "transmit_bytes", "Bytes the host sent to the instance."),
        ("bytes_received", "receive_bytes", "Bytes the host received from the instance."),
        ("packets_sent", "transmit_packets", "Packets the host sent to the instance."),
        ("packets_received", "receive_packets", "Packets the host received from the instance."),
        ("errors_in", "receive_errs", "Receive errors of the instance's host interface."),
        ("errors_out", "transmit_errs", "Transmit errors of the instance's host interface."),
        ("drops_in", "receive_drop", "Dropped on receive by the instance's host interface."),
        ("drops_out", "transmit_drop", "Dropped on transmit by the instance's host interface."),
    )
)


def hypervisor_samples(data: JSON) -> Iterator[Sample]:
    if not isinstance(data, Mapping):
        return
    hypervisor = (label(data.get("hypervisor")),)
    yield Sample(HYPERVISOR_INFO, (*hypervisor, label(data.get("version"))), 1.0)
    if data.get("memory_unit", MEMORY_UNIT) == MEMORY_UNIT:
        yield from fields(data, HYPERVISOR_FIELDS, hypervisor)
    for nic in objects(data.get("NICs")):
        labels = (*hypervisor, label(nic.get("instance")), label(nic.get("name")))
        up = nic.get("up")
        if isinstance(up, bool):
            yield flag(HYPERVISOR_NIC_UP, labels, up)
        yield from fields(nic, HYPERVISOR_NIC_FIELDS, labels)
