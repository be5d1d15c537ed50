"""``/metrics``: the collectors' reports in the Prometheus text exposition format.

Every scrape asks the framework for the active collectors' reports (cached or fresh,
never blocking the reactor) and maps each report's ``data`` to metric families with
one small function per collector (:data:`MAPPERS`). A mapper takes what it recognises
and skips what it does not, so a changed or broken report loses only its own series;
every collector, known or not, failed or not, still gets its ``ganeti_collector_*``
series. All family names, types, help texts and labels are declared in this module
(:data:`FAMILIES`), which is what ``docs/integrations.md`` documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as PrometheusCollector
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest

from ganeti_agent import __version__
from ganeti_agent.core.framework import CollectedReport, CollectorSet, ManagedCollector
from ganeti_agent.core.report import JSONValue, Kind, category_segment
from ganeti_agent.core.status import status_of
from ganeti_agent.parsers.drbd import CONNECTED_STATES

log = Logger(namespace="ganeti_agent.server.metrics")

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
KIB = 1024
MIB = 1024 * 1024
SECTOR_BYTES = 512

MetricType = Literal["gauge", "counter"]


@dataclass(frozen=True)
class Family:
    """One metric family: its exposed name (counters end in ``_total``), type and labels."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...]


FAMILIES: dict[str, Family] = {}


def _family(name: str, kind: MetricType, help_text: str, *labels: str) -> Family:
    family = Family(name, kind, help_text, labels)
    FAMILIES[name] = family
    return family


@dataclass(frozen=True)
class Point:
    """One sample of a family, label values in the family's label order."""

    family: Family
    labels: tuple[str, ...]
    value: float


Mapper = Callable[[str, JSONValue], Iterator[Point]]

# The agent and every collector.
AGENT_INFO = _family("ganeti_agent_info", "gauge", "Agent version; always 1.", "version")
COLLECTOR_INFO = _family(
    "ganeti_collector_info",
    "gauge",
    "Active collector, its category (default = none) and kind; always 1.",
    "collector",
    "category",
    "kind",
)
COLLECTOR_SUCCESS = _family(
    "ganeti_collector_success",
    "gauge",
    "1 if the collector's last run produced its data, 0 if it failed.",
    "collector",
)
COLLECTOR_DURATION = _family(
    "ganeti_collector_duration_seconds",
    "gauge",
    "Duration of the collector's last run.",
    "collector",
)
COLLECTOR_STATUS = _family(
    "ganeti_collector_status_code",
    "gauge",
    "Ganeti status code of the report: 0 OK, 1 being fixed, 2 unknown, 4 needs intervention.",
    "collector",
)
COLLECTOR_TIMESTAMP = _family(
    "ganeti_collector_report_timestamp_seconds",
    "gauge",
    "Time the served report was built, in seconds since the epoch.",
    "collector",
)

# cpu-avg-load
CPU_LOAD = _family(
    "ganeti_cpu_avg_load", "gauge", "Average busy fraction of one CPU (0..1).", "cpu"
)
CPU_LOAD_AGGREGATE = _family(
    "ganeti_cpu_avg_load_aggregate",
    "gauge",
    "Average busy CPUs of the whole node (0..number of CPUs).",
)
CPU_NUMBER = _family("ganeti_cpu_number", "gauge", "Number of CPUs in the cpu-avg-load report.")

# xen-cpu-avg-load
INSTANCE_CPU_LOAD = _family(
    "ganeti_instance_cpu_avg_load",
    "gauge",
    "Average busy virtual CPUs of an instance (xen-cpu-avg-load).",
    "instance",
)

# diskstats
_DISK = ("device",)
DISKSTATS_FIELDS: tuple[tuple[str, Family, float], ...] = (
    (
        "readsNum",
        _family("ganeti_diskstats_reads_completed_total", "counter", "Reads completed.", *_DISK),
        1,
    ),
    (
        "mergedReads",
        _family("ganeti_diskstats_reads_merged_total", "counter", "Reads merged.", *_DISK),
        1,
    ),
    (
        "secRead",
        _family("ganeti_diskstats_read_bytes_total", "counter", "Bytes read.", *_DISK),
        SECTOR_BYTES,
    ),
    (
        "timeRead",
        _family(
            "ganeti_diskstats_read_time_seconds_total", "counter", "Time spent reading.", *_DISK
        ),
        0.001,
    ),
    (
        "writes",
        _family("ganeti_diskstats_writes_completed_total", "counter", "Writes completed.", *_DISK),
        1,
    ),
    (
        "mergedWrites",
        _family("ganeti_diskstats_writes_merged_total", "counter", "Writes merged.", *_DISK),
        1,
    ),
    (
        "secWritten",
        _family("ganeti_diskstats_written_bytes_total", "counter", "Bytes written.", *_DISK),
        SECTOR_BYTES,
    ),
    (
        "timeWrite",
        _family(
            "ganeti_diskstats_write_time_seconds_total", "counter", "Time spent writing.", *_DISK
        ),
        0.001,
    ),
    ("ios", _family("ganeti_diskstats_io_now", "gauge", "I/Os in progress.", *_DISK), 1),
    (
        "timeIO",
        _family(
            "ganeti_diskstats_io_time_seconds_total", "counter", "Time spent doing I/O.", *_DISK
        ),
        0.001,
    ),
    (
        "wIOmillis",
        _family(
            "ganeti_diskstats_io_time_weighted_seconds_total",
            "counter",
            "Weighted time spent doing I/O.",
            *_DISK,
        ),
        0.001,
    ),
    (
        "discardsNum",
        _family(
            "ganeti_diskstats_discards_completed_total", "counter", "Discards completed.", *_DISK
        ),
        1,
    ),
    (
        "mergedDiscards",
        _family("ganeti_diskstats_discards_merged_total", "counter", "Discards merged.", *_DISK),
        1,
    ),
    (
        "secDiscarded",
        _family("ganeti_diskstats_discarded_bytes_total", "counter", "Bytes discarded.", *_DISK),
        SECTOR_BYTES,
    ),
    (
        "timeDiscard",
        _family(
            "ganeti_diskstats_discard_time_seconds_total",
            "counter",
            "Time spent discarding.",
            *_DISK,
        ),
        0.001,
    ),
    (
        "flushesNum",
        _family(
            "ganeti_diskstats_flushes_completed_total", "counter", "Flushes completed.", *_DISK
        ),
        1,
    ),
    (
        "timeFlush",
        _family(
            "ganeti_diskstats_flush_time_seconds_total", "counter", "Time spent flushing.", *_DISK
        ),
        0.001,
    ),
)

# drbd
_MINOR = ("minor", "instance")
DRBD_VERSION = _family(
    "ganeti_drbd_version_info", "gauge", "DRBD kernel module version; always 1.", "version", "api"
)
DRBD_DEVICE_INFO = _family(
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
DRBD_CONNECTED = _family(
    "ganeti_drbd_connected", "gauge", "1 if the minor is connected to its peer.", *_MINOR
)
DRBD_PRIMARY = _family(
    "ganeti_drbd_primary", "gauge", "1 if the local role of the minor is Primary.", *_MINOR
)
DRBD_UP_TO_DATE = _family(
    "ganeti_drbd_disk_up_to_date",
    "gauge",
    "1 if the disk state is UpToDate; side is local or remote.",
    *_MINOR,
    "side",
)
DRBD_PERF_FIELDS: tuple[tuple[str, Family, float], ...] = (
    (
        "networkSend",
        _family(
            "ganeti_drbd_network_sent_bytes_total", "counter", "Bytes sent to the peer.", *_MINOR
        ),
        KIB,
    ),
    (
        "networkReceive",
        _family(
            "ganeti_drbd_network_received_bytes_total",
            "counter",
            "Bytes received from the peer.",
            *_MINOR,
        ),
        KIB,
    ),
    (
        "diskWrite",
        _family(
            "ganeti_drbd_disk_written_bytes_total",
            "counter",
            "Bytes written to the local disk.",
            *_MINOR,
        ),
        KIB,
    ),
    (
        "diskRead",
        _family(
            "ganeti_drbd_disk_read_bytes_total",
            "counter",
            "Bytes read from the local disk.",
            *_MINOR,
        ),
        KIB,
    ),
    (
        "activityLog",
        _family(
            "ganeti_drbd_activitylog_writes_total",
            "counter",
            "Activity log metadata updates.",
            *_MINOR,
        ),
        1,
    ),
    (
        "bitMap",
        _family("ganeti_drbd_bitmap_writes_total", "counter", "Bitmap metadata updates.", *_MINOR),
        1,
    ),
    (
        "localCount",
        _family("ganeti_drbd_local_pending", "gauge", "Open requests to the local disk.", *_MINOR),
        1,
    ),
    (
        "pending",
        _family(
            "ganeti_drbd_remote_pending", "gauge", "Requests sent to the peer, unanswered.", *_MINOR
        ),
        1,
    ),
    (
        "unacknowledged",
        _family(
            "ganeti_drbd_remote_unacknowledged",
            "gauge",
            "Requests from the peer not yet acknowledged.",
            *_MINOR,
        ),
        1,
    ),
    (
        "applicationPending",
        _family(
            "ganeti_drbd_application_pending",
            "gauge",
            "Block I/O requests forwarded to DRBD, not yet answered.",
            *_MINOR,
        ),
        1,
    ),
    (
        "epochs",
        _family("ganeti_drbd_epochs", "gauge", "Number of epoch objects.", *_MINOR),
        1,
    ),
    (
        "outOfSync",
        _family("ganeti_drbd_out_of_sync_bytes", "gauge", "Bytes out of sync.", *_MINOR),
        KIB,
    ),
)
DRBD_SYNC_RATIO = _family(
    "ganeti_drbd_sync_progress_ratio", "gauge", "Resynchronisation progress (0..1).", *_MINOR
)
DRBD_SYNC_SPEED = _family(
    "ganeti_drbd_sync_speed_bytes_per_second", "gauge", "Resynchronisation speed.", *_MINOR
)
DRBD_SYNC_REMAINING = _family(
    "ganeti_drbd_sync_remaining_seconds",
    "gauge",
    "Estimated time until resynchronisation finishes.",
    *_MINOR,
)
DRBD_CONNECTED_STATES = CONNECTED_STATES
SPEED_UNITS = {"KiloByte/Second": KIB, "MegaByte/Second": KIB * KIB}

# lv
_LV = ("vg", "lv", "instance")
LV_SIZE = _family("ganeti_lv_size_bytes", "gauge", "Size of the logical volume.", *_LV)
LV_SEGMENTS = _family("ganeti_lv_segments", "gauge", "Number of segments of the LV.", *_LV)
LV_ACTIVE = _family("ganeti_lv_active", "gauge", "1 if the LV is active (lv_attr).", *_LV)
LV_OPEN = _family("ganeti_lv_open", "gauge", "1 if the LV is open (lv_attr).", *_LV)

# inst-status-xen, inst-status-kvm
INSTANCE_STATUS = _family(
    "ganeti_instance_status_code",
    "gauge",
    "Ganeti status code of the instance (0 OK, 2 unknown, 4 needs intervention).",
    "instance",
)
INSTANCE_INFO = _family(
    "ganeti_instance_info",
    "gauge",
    "Primary instance of this node with its states as labels; always 1.",
    "instance",
    "uuid",
    "admin_state",
    "actual_state",
)
INSTANCE_RUNNING = _family(
    "ganeti_instance_running", "gauge", "1 if the instance is running (or blocked).", "instance"
)
INSTANCE_ADMIN_UP = _family(
    "ganeti_instance_admin_up", "gauge", "1 if the instance should be running.", "instance"
)
INSTANCE_UPTIME = _family(
    "ganeti_instance_uptime_seconds", "gauge", "Uptime of the instance.", "instance"
)
INSTANCE_MTIME = _family(
    "ganeti_instance_config_mtime_seconds",
    "gauge",
    "Last modification of the instance's configuration.",
    "instance",
)

# daemon-* (one collector per Ganeti daemon, and the agent itself)
_DAEMON = ("daemon",)
DAEMON_STATUS = _family(
    "ganeti_daemon_status_code",
    "gauge",
    "Ganeti status code of the daemon (0 OK, 2 unknown, 4 not running where it must).",
    *_DAEMON,
)
DAEMON_RUNNING = _family("ganeti_daemon_running", "gauge", "1 if the daemon runs.", *_DAEMON)
DAEMON_FIELDS: tuple[tuple[str, Family, float], ...] = (
    (
        "memory",
        _family("ganeti_daemon_resident_memory_bytes", "gauge", "Resident memory.", *_DAEMON),
        1,
    ),
    (
        "uptime",
        _family(
            "ganeti_daemon_uptime_seconds", "gauge", "Time since the daemon started.", *_DAEMON
        ),
        1,
    ),
    (
        "cpu_usage",
        _family(
            "ganeti_daemon_cpu_usage_percent",
            "gauge",
            "CPU used since the previous report, percent of one CPU.",
            *_DAEMON,
        ),
        1,
    ),
    ("threads", _family("ganeti_daemon_threads", "gauge", "Number of threads.", *_DAEMON), 1),
)

# hypervisor-xen, hypervisor-kvm
_HV = ("hypervisor",)
HYPERVISOR_INFO = _family(
    "ganeti_hypervisor_info", "gauge", "Hypervisor and its version; always 1.", *_HV, "version"
)
HYPERVISOR_FIELDS: tuple[tuple[str, Family, float], ...] = (
    (
        "memory_total",
        _family("ganeti_hypervisor_memory_total_bytes", "gauge", "Memory of the host.", *_HV),
        MIB,
    ),
    (
        "memory_free",
        _family(
            "ganeti_hypervisor_memory_free_bytes",
            "gauge",
            "Memory free for instances.",
            *_HV,
        ),
        MIB,
    ),
    ("cpu_total", _family("ganeti_hypervisor_cpus", "gauge", "Physical CPUs.", *_HV), 1),
    (
        "cpu_sockets",
        _family("ganeti_hypervisor_cpu_sockets", "gauge", "CPU sockets.", *_HV),
        1,
    ),
    ("cpu_nodes", _family("ganeti_hypervisor_numa_nodes", "gauge", "NUMA nodes.", *_HV), 1),
)

# node
NODE_CPU_BUSY = _family(
    "ganeti_node_cpu_busy_ratio",
    "gauge",
    "Busy fraction of one CPU since the previous node report (0..1).",
    "cpu",
)
NODE_CPU_NUMBER = _family("ganeti_node_cpu_number", "gauge", "Number of CPUs of the node.")
NODE_MEMORY = _family(
    "ganeti_node_memory_bytes",
    "gauge",
    "Memory and swap figures of the node OS; type is the report's key (total, available, ...).",
    "type",
)
_FS = ("device", "mountpoint", "fstype")
NODE_FS_FIELDS: tuple[tuple[str, Family, float], ...] = (
    (
        "total",
        _family("ganeti_node_filesystem_size_bytes", "gauge", "Size of a filesystem.", *_FS),
        1,
    ),
    (
        "used",
        _family("ganeti_node_filesystem_used_bytes", "gauge", "Used space.", *_FS),
        1,
    ),
    (
        "free",
        _family("ganeti_node_filesystem_free_bytes", "gauge", "Free space.", *_FS),
        1,
    ),
)
_NIC = ("interface",)
NODE_NIC_UP = _family("ganeti_node_network_up", "gauge", "1 if the interface is up.", *_NIC)
NODE_NIC_FIELDS: tuple[tuple[str, Family, float], ...] = (
    ("mtu", _family("ganeti_node_network_mtu_bytes", "gauge", "MTU of the interface.", *_NIC), 1),
    (
        "bytes_sent",
        _family("ganeti_node_network_transmit_bytes_total", "counter", "Bytes sent.", *_NIC),
        1,
    ),
    (
        "bytes_received",
        _family("ganeti_node_network_receive_bytes_total", "counter", "Bytes received.", *_NIC),
        1,
    ),
    (
        "packets_sent",
        _family("ganeti_node_network_transmit_packets_total", "counter", "Packets sent.", *_NIC),
        1,
    ),
    (
        "packets_received",
        _family("ganeti_node_network_receive_packets_total", "counter", "Packets received.", *_NIC),
        1,
    ),
    (
        "errors_in",
        _family("ganeti_node_network_receive_errs_total", "counter", "Receive errors.", *_NIC),
        1,
    ),
    (
        "errors_out",
        _family("ganeti_node_network_transmit_errs_total", "counter", "Transmit errors.", *_NIC),
        1,
    ),
    (
        "drops_in",
        _family("ganeti_node_network_receive_drop_total", "counter", "Dropped on receive.", *_NIC),
        1,
    ),
    (
        "drops_out",
        _family(
            "ganeti_node_network_transmit_drop_total", "counter", "Dropped on transmit.", *_NIC
        ),
        1,
    ),
)
NODE_VERSION = _family(
    "ganeti_node_version_info",
    "gauge",
    "Version of a component on the node (kernel, ganeti, drbd, ...); always 1.",
    "component",
    "version",
)

# plugin collectors
PLUGIN_VALUE = _family(
    "ganeti_plugin_value",
    "gauge",
    "A number from a plugin collector's data; field is its key (nested keys joined by _).",
    "collector",
    "field",
)


def _number(value: JSONValue) -> float | None:
    """A JSON number as a float; booleans and everything else are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _label(value: JSONValue) -> str:
    return "" if value is None else str(value)


def _objects(value: JSONValue) -> Iterator[Mapping[str, JSONValue]]:
    """The JSON objects of a list, skipping anything else."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def _fields(
    source: Mapping[str, JSONValue],
    table: Sequence[tuple[str, Family, float]],
    labels: tuple[str, ...],
) -> Iterator[Point]:
    for key, family, scale in table:
        number = _number(source.get(key))
        if number is not None:
            yield Point(family, labels, number * scale)


def _flag(family: Family, labels: tuple[str, ...], value: bool) -> Point:
    return Point(family, labels, 1.0 if value else 0.0)


def map_cpu_avg_load(_name: str, data: JSONValue) -> Iterator[Point]:
    if not isinstance(data, Mapping):
        return
    cpus = data.get("cpus")
    for index, load in enumerate(cpus if isinstance(cpus, list) else []):
        number = _number(load)
        if number is not None:
            yield Point(CPU_LOAD, (str(index),), number)
    for key, family in (("cpu_total", CPU_LOAD_AGGREGATE), ("cpu_number", CPU_NUMBER)):
        number = _number(data.get(key))
        if number is not None:
            yield Point(family, (), number)


def map_xen_cpu_avg_load(_name: str, data: JSONValue) -> Iterator[Point]:
    if not isinstance(data, Mapping) or "error" in data:
        return
    for instance, load in data.items():
        number = _number(load)
        if number is not None:
            yield Point(INSTANCE_CPU_LOAD, (str(instance),), number)


def map_diskstats(_name: str, data: JSONValue) -> Iterator[Point]:
    for disk in _objects(data):
        yield from _fields(disk, DISKSTATS_FIELDS, (_label(disk.get("name")),))


def map_drbd(_name: str, data: JSONValue) -> Iterator[Point]:
    if not isinstance(data, Mapping):
        return
    version = data.get("versionInfo")
    if isinstance(version, Mapping) and "version" in version:
        labels = (_label(version.get("version")), _label(version.get("api")))
        yield Point(DRBD_VERSION, labels, 1.0)
    for device in _objects(data.get("deviceInfos")):
        yield from _drbd_device(device)


def _drbd_device(device: Mapping[str, JSONValue]) -> Iterator[Point]:
    minor = (_label(device.get("minor")), _label(device.get("instance")))
    state = device.get("connectionState")
    states = tuple(
        _label(device.get(key))
        for key in ("connectionState", "localRole", "remoteRole", "localState", "remoteState")
    )
    yield Point(DRBD_DEVICE_INFO, minor + states, 1.0)
    yield _flag(DRBD_CONNECTED, minor, state in DRBD_CONNECTED_STATES)
    if "localRole" in device:
        yield _flag(DRBD_PRIMARY, minor, device.get("localRole") == "Primary")
    for side, key in (("local", "localState"), ("remote", "remoteState")):
        if key in device:
            yield _flag(DRBD_UP_TO_DATE, (*minor, side), device.get(key) == "UpToDate")
    perf = device.get("perfIndicators")
    if isinstance(perf, Mapping):
        yield from _fields(perf, DRBD_PERF_FIELDS, minor)
    sync = device.get("syncStatus")
    if isinstance(sync, Mapping):
        yield from _drbd_sync(sync, minor)


def _drbd_sync(sync: Mapping[str, JSONValue], minor: tuple[str, ...]) -> Iterator[Point]:
    percentage = _number(sync.get("percentage"))
    if percentage is not None:
        yield Point(DRBD_SYNC_RATIO, minor, percentage / 100)
    speed = _number(sync.get("speed"))
    unit = SPEED_UNITS.get(_label(sync.get("speedUnit")))
    if speed is not None and unit is not None:
        yield Point(DRBD_SYNC_SPEED, minor, speed * unit)
    remaining = duration_seconds(sync.get("timeToFinish"))
    if remaining is not None:
        yield Point(DRBD_SYNC_REMAINING, minor, remaining)


_DURATION = re.compile(r"\s*(?:(\d+)\s+days?,\s*)?(\d+):(\d{1,2}):(\d{1,2})(?:\.\d+)?\s*")


def duration_seconds(value: JSONValue) -> float | None:
    """Seconds from ``H:MM:SS`` or ``N days, H:MM:SS`` (xm uptime), or a plain number."""
    number = _number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value)
    if match is None:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def map_lv(_name: str, data: JSONValue) -> Iterator[Point]:
    for volume in _objects(data):
        labels = tuple(_label(volume.get(key)) for key in ("vg_name", "name", "instance"))
        size = _number(volume.get("size"))
        if size is not None:
            yield Point(LV_SIZE, labels, size)
        segments = _number(volume.get("seg_count"))
        if segments is not None:
            yield Point(LV_SEGMENTS, labels, segments)
        attr = volume.get("attr")
        if isinstance(attr, str) and len(attr) >= 6:
            yield _flag(LV_ACTIVE, labels, attr[4] == "a")
            yield _flag(LV_OPEN, labels, attr[5] == "o")


def map_instance_status(_name: str, data: JSONValue) -> Iterator[Point]:
    if not isinstance(data, Mapping):
        return
    for instance in _objects(data.get("instances")):
        name = (_label(instance.get("name")),)
        admin, actual = instance.get("adminState"), instance.get("actualState")
        info = (*name, _label(instance.get("uuid")), _label(admin), _label(actual))
        yield Point(INSTANCE_INFO, info, 1.0)
        code, _message = status_of(Kind.STATUS, instance)
        yield Point(INSTANCE_STATUS, name, float(code))
        if actual is not None:
            yield _flag(INSTANCE_RUNNING, name, actual in ("running", "blocked"))
        if admin is not None:
            yield _flag(INSTANCE_ADMIN_UP, name, admin == "up")
        uptime = duration_seconds(instance.get("uptime"))
        if uptime is not None:
            yield Point(INSTANCE_UPTIME, name, uptime)
        mtime = _number(instance.get("mtime"))
        if mtime is not None:
            yield Point(INSTANCE_MTIME, name, mtime)


def map_daemon(_name: str, data: JSONValue) -> Iterator[Point]:
    if not isinstance(data, Mapping):
        return
    daemon = (_label(data.get("daemon")),)
    code, _message = status_of(Kind.STATUS, data)
    yield Point(DAEMON_STATUS, daemon, float(code))
    yield _flag(DAEMON_RUNNING, daemon, data.get("pid") is not None)
    if data.get("size_unit", "B") == "B":
        yield from _fields(data, DAEMON_FIELDS, daemon)


def map_hypervisor(_name: str, data: JSONValue) -> Iterator[Point]:
    if not isinstance(data, Mapping):
        return
    hypervisor = (_label(data.get("hypervisor")),)
    yield Point(HYPERVISOR_INFO, (*hypervisor, _label(data.get("version"))), 1.0)
    if data.get("memory_unit", "MiB") == "MiB":
        yield from _fields(data, HYPERVISOR_FIELDS, hypervisor)


def map_node(_name: str, data: JSONValue) -> Iterator[Point]:
    if not isinstance(data, Mapping):
        return
    cpus = data.get("cpus")
    for index, busy in enumerate(cpus if isinstance(cpus, list) else []):
        number = _number(busy)
        if number is not None:
            yield Point(NODE_CPU_BUSY, (str(index),), number)
    cpu_number = _number(data.get("cpu_number"))
    if cpu_number is not None:
        yield Point(NODE_CPU_NUMBER, (), cpu_number)
    if data.get("size_unit", "B") == "B":
        yield from _node_sizes(data)
    for nic in _objects(data.get("NICs")):
        interface = (_label(nic.get("name")),)
        if isinstance(nic.get("up"), bool):
            yield _flag(NODE_NIC_UP, interface, bool(nic.get("up")))
        yield from _fields(nic, NODE_NIC_FIELDS, interface)
    versions = data.get("versions")
    if isinstance(versions, Mapping):
        for component, version in versions.items():
            if isinstance(version, str):
                yield Point(NODE_VERSION, (str(component), version), 1.0)


def _node_sizes(data: Mapping[str, JSONValue]) -> Iterator[Point]:
    memory = data.get("memory")
    if isinstance(memory, Mapping):
        for key, value in memory.items():
            number = _number(value)
            if number is not None:
                yield Point(NODE_MEMORY, (str(key),), number)
    for filesystem in _objects(data.get("filesystem")):
        labels = tuple(_label(filesystem.get(key)) for key in _FS)
        yield from _fields(filesystem, NODE_FS_FIELDS, labels)


def map_plugin(name: str, data: JSONValue) -> Iterator[Point]:
    """Numbers at the top level of a plugin's data, and one level further down."""
    if not isinstance(data, Mapping):
        return
    for key, value in data.items():
        number = _number(value)
        if number is not None:
            yield Point(PLUGIN_VALUE, (name, str(key)), number)
        elif isinstance(value, Mapping) and key != "status":
            for inner, inner_value in value.items():
                inner_number = _number(inner_value)
                if inner_number is not None:
                    yield Point(PLUGIN_VALUE, (name, f"{key}_{inner}"), inner_number)


MAPPERS: dict[str, Mapper] = {
    "cpu-avg-load": map_cpu_avg_load,
    "xen-cpu-avg-load": map_xen_cpu_avg_load,
    "diskstats": map_diskstats,
    "drbd": map_drbd,
    "lv": map_lv,
    "inst-status-xen": map_instance_status,
    "inst-status-kvm": map_instance_status,
    "node": map_node,
    "plugin": map_plugin,
}
"""Collector name (or a collector's ``metrics_mapper`` attribute) to its mapper."""

PREFIX_MAPPERS: dict[str, Mapper] = {"daemon-": map_daemon, "hypervisor-": map_hypervisor}
"""Mappers of collector families whose names share a prefix (one collector per daemon)."""


def mapper_for(managed: ManagedCollector) -> Mapper | None:
    """A collector may name its mapper (plugins share one); by default its own name."""
    key = getattr(managed.collector, "metrics_mapper", managed.name)
    if not isinstance(key, str):
        return None
    if key in MAPPERS:
        return MAPPERS[key]
    for prefix, mapper in PREFIX_MAPPERS.items():
        if key.startswith(prefix):
            return mapper
    return None


def collector_points(managed: ManagedCollector, collected: CollectedReport) -> Iterator[Point]:
    """The ``ganeti_collector_*`` series of one collector, then its own."""
    report = collected.report
    name = (report.name,)
    kind = "status" if report.kind is Kind.STATUS else "performance"
    yield Point(COLLECTOR_INFO, (*name, category_segment(report.category), kind), 1.0)
    yield _flag(COLLECTOR_SUCCESS, name, collected.success)
    yield Point(COLLECTOR_DURATION, name, collected.duration)
    code, _message = status_of(report.kind, report.data)
    yield Point(COLLECTOR_STATUS, name, float(code))
    yield Point(COLLECTOR_TIMESTAMP, name, report.timestamp / 1e9)
    mapper = mapper_for(managed)
    if mapper is not None:
        yield from _guarded(mapper, report.name, report.data)


def _guarded(mapper: Mapper, name: str, data: JSONValue) -> Iterator[Point]:
    """A mapper's points; a mapper bug costs that collector's series, nothing else."""
    try:
        points = list(mapper(name, data))
    except Exception:
        log.failure("mapping the {name} report to metrics failed", name=name)
        return iter(())
    return iter(points)


def families(points: Iterable[Point]) -> list[Metric]:
    """prometheus_client families in declaration order; the first of duplicate series wins."""
    grouped: dict[str, dict[tuple[str, ...], float]] = {name: {} for name in FAMILIES}
    for point in points:
        grouped[point.family.name].setdefault(point.labels, point.value)
    built: list[Metric] = []
    for name, series in grouped.items():
        if series:
            built.append(_metric(FAMILIES[name], series))
    return built


def _metric(family: Family, series: Mapping[tuple[str, ...], float]) -> Metric:
    metric: GaugeMetricFamily | CounterMetricFamily
    if family.type == "counter":
        metric = CounterMetricFamily(family.name, family.help, labels=family.labels)
    else:
        metric = GaugeMetricFamily(family.name, family.help, labels=family.labels)
    for labels, value in series.items():
        metric.add_metric(list(labels), value)
    return metric


class _Snapshot(PrometheusCollector):
    """Already built families, handed to prometheus_client's text encoder."""

    def __init__(self, built: list[Metric]) -> None:
        self.built = built

    def collect(self) -> Iterable[Metric]:
        return self.built


def exposition(reports: Iterable[tuple[ManagedCollector, CollectedReport]]) -> bytes:
    """The text exposition of the agent and of these collectors' reports."""
    points: list[Point] = [Point(AGENT_INFO, (__version__,), 1.0)]
    for managed, collected in reports:
        points.extend(collector_points(managed, collected))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families(points)))
    return generate_latest(registry)


class MetricsExporter:
    """Serves ``/metrics`` from a CollectorSet through the framework's report Deferreds."""

    def __init__(self, collectors: CollectorSet) -> None:
        self.collectors = collectors

    def render(self) -> Deferred[bytes]:
        """The exposition of every active collector; never fails for a collector's sake."""
        managed = self.collectors.active()
        gathered = self.collectors.reports(managed)
        return gathered.addCallback(lambda reports: exposition(zip(managed, reports, strict=True)))

    def route(self, request: IRequest, segments: Sequence[str]) -> Deferred[bytes] | None:
        """``MonitoringAPI.extra_routes`` handler: ``/metrics`` (a trailing ``/`` is fine)."""
        if list(segments) not in (["metrics"], ["metrics", ""]):
            return None
        request.setHeader(b"Content-Type", CONTENT_TYPE)
        return self.render().addErrback(self._failed, request)

    @staticmethod
    def _failed(failure: Failure, request: IRequest) -> bytes:
        log.failure("rendering /metrics failed", failure)
        request.setResponseCode(500)
        return f"# metrics unavailable: {failure.getErrorMessage()}\n".encode()
