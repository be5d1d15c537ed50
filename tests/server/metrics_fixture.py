"""A fixture agent for ``/metrics``: every built-in collector class over fixed report data.

The collectors are the real classes (so whatever decides which series a collector gets
is exercised), built without their constructors because only their identity matters
here: nothing is collected, the reports are given (a typed collector's as its typed
result, from which its data and samples come, as in a run). The exposition of this agent is
kept in ``golden/metrics.prom``, captured before the metric families moved out of
``server/metrics.py`` into the collectors, so the move is checked byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from twisted.internet.task import Clock

from ganeti_agent import __version__
from ganeti_agent.collectors.confd import ConfdCollector, ConfdState
from ganeti_agent.collectors.cpu_avg_load import AverageLoad, CpuAvgLoadCollector
from ganeti_agent.collectors.daemons import DaemonState, GanetiDaemonCollector, Probe, Usage
from ganeti_agent.collectors.diskstats import DiskstatsCollector
from ganeti_agent.collectors.drbd import DrbdCollector, PairedDrbd
from ganeti_agent.collectors.hypervisor import (
    HostFigures,
    KvmHypervisorCollector,
    XenHypervisorCollector,
)
from ganeti_agent.collectors.instances.kvm import InstStatusKvmCollector
from ganeti_agent.collectors.instances.xen import InstStatusXenCollector
from ganeti_agent.collectors.lv import LvCollector, VolumeScan
from ganeti_agent.collectors.node import Filesystem, Link, Nic, NodeCollector, NodeFacts
from ganeti_agent.collectors.plugins import PluginCollector
from ganeti_agent.collectors.xen_cpu_avg_load import XenCpuAvgLoadCollector
from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import DropReason
from ganeti_agent.confd.server import ConfdCounters
from ganeti_agent.core.framework import (
    CollectedReport,
    Collector,
    ManagedCollector,
    Observation,
    TypedCollector,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import Category, Kind, Report, StatusCode
from ganeti_agent.parsers.diskstats import parse_diskstats
from ganeti_agent.parsers.drbd import Device, DrbdStatus, PerfIndicators, SyncStatus, VersionInfo
from ganeti_agent.parsers.lvs import InstanceDisks, parse_lvs


@dataclass(frozen=True)
class Typed:
    """A typed collector's result: its report's data and samples both come from it."""

    result: object


GOLDEN = Path(__file__).parent / "golden" / "metrics.prom"
VERSION_MARK = b"@VERSION@"

DRBD: JSON = {
    "status": {"code": 4, "message": "\n8: No network config available"},
    "versionInfo": {"version": "8.4.11", "api": "1", "proto": "86-101"},
    "deviceInfos": [
        {"minor": 0, "connectionState": "SyncTarget", "localRole": "Secondary",
         "remoteRole": "Primary", "localState": "Inconsistent", "remoteState": "UpToDate",
         "replicationProtocol": "C", "ioFlags": "r-----",
         "perfIndicators": {"networkSend": 0, "networkReceive": 2048, "diskWrite": 2048,
                            "diskRead": 0, "activityLog": 0, "bitMap": 7, "localCount": 1,
                            "pending": 0, "unacknowledged": 2, "applicationPending": 0,
                            "epochs": 1, "writeOrder": "f", "outOfSync": 4096},
         "syncStatus": {"percentage": 25.5, "progress": "3072/4096", "progressUnit": "MegaByte",
                        "timeToFinish": "01:02:03", "speed": 2, "speedUnit": "MegaByte/Second"},
         "instance": "web1.example.org"},
        {"minor": 8, "connectionState": "StandAlone", "localRole": "Primary",
         "remoteRole": "Unknown", "localState": "UpToDate", "remoteState": "DUnknown",
         "replicationProtocol": " ", "ioFlags": "r-----", "instance": None},
        {"minor": 9, "connectionState": "Unconfigured"},
        {"minor": 10, "connectionState": "SyncSource", "localRole": "Primary",
         "remoteRole": "Secondary", "localState": "UpToDate", "remoteState": "Inconsistent",
         "syncStatus": {"percentage": 99.9, "timeToFinish": "0:00:07", "speed": 900,
                        "speedUnit": "KiloByte/Second"}, "instance": "db1.example.org"},
    ],
}  # fmt: skip
DRBD_RESULT = Typed(PairedDrbd(
    DrbdStatus(
        VersionInfo((("version", "8.4.11"), ("api", "1"), ("proto", "86-101"))),
        (
            Device(0, "SyncTarget", "Secondary", "Primary", "Inconsistent", "UpToDate", "C",
                   "r-----", PerfIndicators((0, 2048, 2048, 0, 0, 7, 1, 0, 2, 0), 1, "f", 4096),
                   SyncStatus(25.5, 3072, 4096, "M", (1, 2, 3), 2, None, "M")),
            Device(8, "StandAlone", "Primary", "Unknown", "UpToDate", "DUnknown", " ", "r-----"),
            Device(9, "Unconfigured"),
            Device(10, "SyncSource", "Primary", "Secondary", "UpToDate", "Inconsistent",
                   sync=SyncStatus(99.9, 1, 1000, "K", (0, 0, 7), 900, None, "K")),
        ),
    ),
    {0: "web1.example.org", 10: "db1.example.org"},
))  # fmt: skip
"""The drbd collector's result behind ``DRBD``, as the framework keeps it."""
LV = Typed(VolumeScan(
    parse_lvs(
        "  u1;disk0;-wi-ao----;253;0;253;0;1073741824B;2;;;v1;xenvg;linear;0B;0;536870912B;;;\n"
        "  u1;disk0;-wi-ao----;253;0;253;0;1073741824B;2;;;v1;xenvg;linear;536870912B;128;"
        "536870912B;;;\n"
        "  u2;spare;-wi-------;-1;-1;-1;-1;4096B;1;;;v1;xenvg;linear;0B;0;4096B;;;\n"
    ),
    [InstanceDisks("web1.example.org", frozenset({("xenvg", "disk0")}))],
))  # fmt: skip
INSTANCES: JSON = {
    "instances": [
        {"name": "web1.example.org", "uuid": "i-1", "adminState": "up", "actualState": "running",
         "uptime": "2 days, 1:00:05", "mtime": 1700000000.5, "state_reason": [],
         "status": {"code": 0, "message": ""}},
        {"name": "db1.example.org", "uuid": "i-2", "adminState": "up", "actualState": "hung",
         "uptime": None, "mtime": 1700000001.0, "state_reason": [],
         "status": {"code": 2, "message": "Instance marked as running, but it appears to be hung"}},
        {"name": "off.example.org", "uuid": "i-3", "adminState": "down",
         "actualState": "shutdown", "uptime": 12, "status": {"code": 4, "message": "x"}},
        {"name": "weird.example.org", "status": {"code": True, "message": ""}},
    ],
    "status": {"code": 2, "message": "\nInstance marked as running, but it appears to be hung"},
}  # fmt: skip
KVM_INSTANCES: JSON = {
    "instances": [
        {"name": "vm1.example.org", "uuid": "k-1", "adminState": "up", "actualState": "blocked",
         "uptime": "00:04:08", "status": {"code": 0, "message": ""}},
    ],
    "status": {"code": 0, "message": ""},
}  # fmt: skip
DISKSTATS = Typed(parse_diskstats(
    "   8       0 sda 10 1 4 1500 3 0 2 20 0 30 40\n"
    "   8      16 sdb 1 0 8 1 0 0 0 0 2 5 6 7 1 16 3 4 9\n"
))  # fmt: skip
DAEMON = Typed(DaemonState(
    "ganeti-noded", Probe(Usage(pid=42, memory=1048576, uptime=60, cpu_usage=1.5,
                                cpu_seconds=12.25, threads=3)), StatusCode.OK, "",
))  # fmt: skip
STOPPED_DAEMON = Typed(DaemonState("ganeti-confd", Probe(), StatusCode.BAD, "not running"))
XEN_HYPERVISOR = Typed(HostFigures(
    "xen", "4.17", memory_total=16384, memory_free=2048, memory_dom0=1024, cpu_total=8,
    cpu_nodes=1, cpu_sockets=1, cpu_dom0=2, cpu_mhz=2400, details={"xen_major": "4"},
))  # fmt: skip
KVM_HYPERVISOR = Typed(HostFigures(
    "kvm", "8.2.2", memory_total=64000, memory_free=30000, memory_dom0=None, cpu_total=16,
    cpu_nodes=2, cpu_sockets=2, cpu_dom0=None, cpu_mhz=None, details={},
))  # fmt: skip
NODE = Typed(NodeFacts(
    loads=[0.25, 0.5],
    cpu_seconds=[{"user": 100.5, "system": 20.0, "idle": 900.0, "iowait": 1.0},
                 {"user": 50.0, "system": 10.0, "idle": 950.0}],
    memory={"total": 8589934592, "available": 4294967296, "swap_total": 0},
    filesystems=[
        Filesystem("/dev/sda1", "/", "ext4", usage=(1000, 400, 600)),
        Filesystem("/dev/sdb1", "/srv", "xfs", error="statvfs /srv: Permission denied"),
    ],
    nics=[
        Nic("eth0", Link(True, 1500, 1000), (10, 20, 1, 2, 0, 0, 0, 3)),
        Nic("lo", Link(False, 65536, 0)),
    ],
    versions={"kernel": "6.1.0", "ganeti": "3.0.2"},
))  # fmt: skip
CONFD = Typed(ConfdState(
    ConfdCounters(
        requests={RequestType.PING: 3, RequestType.NODE_DRBD: 5},
        drops={DropReason.BAD_HMAC: 4, DropReason.REPLAY: 0},
        received=12, replies=8, error_replies=1,
    ),
    key_loaded=True, config_serial=3189, config_error=None, loads=2, load_failures=1,
))  # fmt: skip
PLUGIN: JSON = {
    "status": {"code": 0, "message": ""}, "arrays": 2, "md0": {"degraded": 1, "x": "y"},
    "flag": True,
}  # fmt: skip

AGENT: tuple[tuple[type[Collector], str, Category | None, Kind, JSON | Typed, bool], ...] = (
    (CpuAvgLoadCollector, "cpu-avg-load", None, Kind.PERFORMANCE,
     Typed(AverageLoad((0.5, 0.2), 0.7)), True),
    (XenCpuAvgLoadCollector, "xen-cpu-avg-load", None, Kind.PERFORMANCE,
     Typed({"web1.example.org": 0.4, "db1.example.org": 1.25}), True),
    (DiskstatsCollector, "diskstats", Category.STORAGE, Kind.PERFORMANCE, DISKSTATS, True),
    (DrbdCollector, "drbd", Category.STORAGE, Kind.STATUS, DRBD_RESULT, True),
    (LvCollector, "lv", Category.STORAGE, Kind.PERFORMANCE, LV, True),
    (InstStatusXenCollector, "inst-status-xen", Category.INSTANCE, Kind.STATUS, INSTANCES, True),
    (InstStatusKvmCollector, "inst-status-kvm", Category.INSTANCE, Kind.STATUS, KVM_INSTANCES,
     True),
    (GanetiDaemonCollector, "daemon-noded", Category.DAEMON, Kind.STATUS, DAEMON, True),
    (GanetiDaemonCollector, "daemon-confd", Category.DAEMON, Kind.STATUS, STOPPED_DAEMON, True),
    (XenHypervisorCollector, "hypervisor-xen", Category.HYPERVISOR, Kind.PERFORMANCE,
     XEN_HYPERVISOR, True),
    (KvmHypervisorCollector, "hypervisor-kvm", Category.HYPERVISOR, Kind.PERFORMANCE,
     KVM_HYPERVISOR, True),
    (NodeCollector, "node", None, Kind.PERFORMANCE, NODE, True),
    (PluginCollector, "raid", None, Kind.STATUS, PLUGIN, True),
    (DiskstatsCollector, "diskstats-failed", Category.STORAGE, Kind.PERFORMANCE,
     {"error": "/proc/diskstats: openFile: does not exist"}, False),
    (PluginCollector, "broken-plugin", None, Kind.STATUS,
     {"status": {"code": 2, "message": "timed out"}}, False),
    (ConfdCollector, "confd", Category.DAEMON, Kind.PERFORMANCE, CONFD, True),
)  # fmt: skip
"""(collector class, name, category, kind, report data or typed result, success)."""


def bare(cls: type[Collector], name: str) -> Collector:
    """An instance of ``cls`` named ``name`` without running its constructor."""
    collector = cls.__new__(cls)
    collector.name = name
    return collector


def observation(collector: Collector, data: JSON | Typed) -> Observation:
    """What the framework keeps of a run that gave this data or typed result."""
    if not isinstance(data, Typed):
        return Observation(data)
    assert isinstance(collector, TypedCollector)
    return collector.observation(data.result)


def fixture_reports() -> list[tuple[ManagedCollector, CollectedReport]]:
    clock = Clock()
    reports = []
    for index, (cls, name, category, kind, data, success) in enumerate(AGENT):
        collector = bare(cls, name)
        managed = ManagedCollector(collector, clock, lambda: 1_700_000_000.0)
        timestamp = 1_700_000_000_000_000_000 + index * 1_000
        observed = observation(collector, data)
        report = Report(name, category, kind, observed.data, timestamp)
        reports.append(
            (managed, CollectedReport(report, b"", 0.125 * index, success, 0.0, observed.samples))
        )
    return reports


def golden_exposition() -> bytes:
    """The checked-in scrape with this package's version filled in."""
    return GOLDEN.read_bytes().replace(VERSION_MARK, __version__.encode())
