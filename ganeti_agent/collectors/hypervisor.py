"""Hypervisor collectors (category hypervisor, performance): the hypervisor's view of the host.

``hypervisor-xen`` asks Xen (``xl info`` and ``xl list`` for Domain-0), where the node
OS is only Dom0 and sees part of the machine; ``hypervisor-kvm`` reads /proc, since
with KVM the host kernel is the hypervisor. Both report the figures Ganeti's own
hypervisor classes report to the master (``memory_total``, ``memory_free``,
``memory_dom0``, ``cpu_total``, ``cpu_nodes``, ``cpu_sockets``, memory in MiB), so
they compare directly with ``gnt-node list``, plus what is specific to each hypervisor.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

import psutil
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ganeti_agent.core.executor import ExecutionError, ProcessResult
from ganeti_agent.core.files import InputError, read_text
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import FieldTable, Sample, family, fields, label
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.parsers.cpuinfo import CpuInfo, parse_cpuinfo
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.meminfo import MemInfo, parse_meminfo
from ganeti_agent.parsers.xen import ListEntry, parse_list
from ganeti_agent.parsers.xl_info import XenInfo, parse_xl_info

MEMORY_UNIT = "MiB"
DEFAULT_XL = "xl"
DEFAULT_KVM_DEVICE = "/dev/kvm"
DEFAULT_NODE_DIR = "/sys/devices/system/node"
_NUMA_NODE = re.compile(r"node[0-9]+")
T = TypeVar("T")


def _decode(result: ProcessResult) -> str:
    try:
        return result.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        command = " ".join(result.argv)
        raise CollectorError(f"{command}: invalid byte sequence at offset {exc.start}") from None


def xen_data(info: XenInfo, dom0: ListEntry | None) -> dict[str, JSON]:
    """Report data from ``xl info`` and Domain-0's line of ``xl list``."""
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
        found = listed.addCallbacks(self._dom0, self._no_dom0)
        return found.addCallback(lambda dom0: xen_data(info, dom0))

    def _info(self, result: ProcessResult) -> XenInfo:
        try:
            return parse_xl_info(_decode(result))
        except ParseError as exc:
            raise CollectorError(f"{self.command} info: cannot parse: {exc.reason}") from None

    def _dom0(self, result: ProcessResult) -> ListEntry | None:
        """Domain-0's line; the figures it gives are optional, so a bad list is no failure."""
        try:
            entries = parse_list(_decode(result))
        except (ParseError, CollectorError):
            return None
        return next((entry for entry in entries if entry.domid == 0), None)

    def _no_dom0(self, failure: Failure) -> None:
        failure.trap(ExecutionError)
        return None

    @staticmethod
    def _failed(failure: Failure) -> XenInfo:
        failure.trap(ExecutionError)
        raise CollectorError(failure.getErrorMessage())

    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        return hypervisor_samples(data)


def kvm_data(
    meminfo: MemInfo, cpuinfo: CpuInfo, release: str | None, numa_nodes: int
) -> dict[str, JSON]:
    """Report data of a KVM host, with Ganeti's arithmetic for the common figures.

    As Ganeti's KVM hypervisor: free memory is MemFree + Buffers + Cached, the host
    (dom0) uses Active, and sockets are the distinct ``physical id`` values.
    """
    hugepage_size = meminfo.get("Hugepagesize")
    available = meminfo.get("MemAvailable")
    return {
        "hypervisor": "kvm",
        "version": release,
        "memory_unit": MEMORY_UNIT,
        "memory_total": meminfo.mib("MemTotal"),
        "memory_free": meminfo.mib("MemFree", "Buffers", "Cached"),
        "memory_dom0": meminfo.mib("Active"),
        "cpu_total": cpuinfo.cpu_number,
        "cpu_nodes": numa_nodes,
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
        },
    }


def count_numa_nodes(node_dir: str) -> int:
    """NUMA nodes the kernel lists; 1 where it lists none (non-NUMA kernels)."""
    try:
        names = os.listdir(node_dir)
    except OSError:
        return 1
    return max(1, sum(1 for name in names if _NUMA_NODE.fullmatch(name)))


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
        numa = count_numa_nodes(self.settings.option("node-dir", DEFAULT_NODE_DIR))
        return kvm_data(meminfo, cpuinfo, release, numa)

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


def hypervisor_samples(data: JSON) -> Iterator[Sample]:
    if not isinstance(data, Mapping):
        return
    hypervisor = (label(data.get("hypervisor")),)
    yield Sample(HYPERVISOR_INFO, (*hypervisor, label(data.get("version"))), 1.0)
    if data.get("memory_unit", MEMORY_UNIT) == MEMORY_UNIT:
        yield from fields(data, HYPERVISOR_FIELDS, hypervisor)
