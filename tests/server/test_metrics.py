"""The Prometheus exposition: names, labels, tolerance of odd reports, promtool's lint."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from treq.testing import StubTreq
from twisted.internet.task import Clock

from ganeti_agent.core.framework import AgentContext, Collector, CollectorError, CollectorSet
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.report import Category, JSONValue, Kind
from ganeti_agent.server.api import MonitoringAPI
from ganeti_agent.server.metrics import (
    CONTENT_TYPE,
    FAMILIES,
    MAPPERS,
    PREFIX_MAPPERS,
    MetricsExporter,
    duration_seconds,
    exposition,
)
from tests.support import REPO, FakeRunner, async_test

DRBD = {
    "status": {"code": 4, "message": "\n8: No network config available"},
    "versionInfo": {"version": "8.4.11", "api": "1", "proto": "86-101"},
    "deviceInfos": [
        {
            "minor": 0,
            "connectionState": "SyncTarget",
            "localRole": "Secondary",
            "remoteRole": "Primary",
            "localState": "Inconsistent",
            "remoteState": "UpToDate",
            "replicationProtocol": "C",
            "ioFlags": "r-----",
            "perfIndicators": {
                "networkSend": 0,
                "networkReceive": 2048,
                "diskWrite": 2048,
                "diskRead": 0,
                "activityLog": 0,
                "bitMap": 7,
                "localCount": 1,
                "pending": 0,
                "unacknowledged": 2,
                "applicationPending": 0,
                "epochs": 1,
                "writeOrder": "f",
                "outOfSync": 4096,
            },
            "syncStatus": {
                "percentage": 25.5,
                "progress": "3072/4096",
                "progressUnit": "MegaByte",
                "timeToFinish": "01:02:03",
                "speed": 2,
                "speedUnit": "MegaByte/Second",
            },
            "instance": "web1.example.org",
        },
        {"minor": 8, "connectionState": "StandAlone", "localRole": "Primary",
         "remoteRole": "Unknown", "localState": "UpToDate", "remoteState": "DUnknown",
         "replicationProtocol": " ", "ioFlags": "r-----", "instance": None},
        {"minor": 9, "connectionState": "Unconfigured"},
    ],
}  # fmt: skip
LV = [
    {"uuid": "u1", "name": "disk0", "attr": "-wi-ao----", "size": 1073741824, "seg_count": 2,
     "vg_name": "xenvg", "seg_size": 536870912, "instance": "web1.example.org"},
    {"uuid": "u1", "name": "disk0", "attr": "-wi-ao----", "size": 1073741824, "seg_count": 2,
     "vg_name": "xenvg", "seg_size": 536870912, "instance": "web1.example.org"},
    {"uuid": "u2", "name": "spare", "attr": "-wi-------", "size": 4096, "seg_count": 1,
     "vg_name": "xenvg", "instance": None},
]  # fmt: skip
INSTANCES = {
    "instances": [
        {"name": "web1.example.org", "uuid": "i-1", "adminState": "up", "actualState": "running",
         "uptime": "2 days, 1:00:05", "mtime": 1700000000.5, "state_reason": [],
         "status": {"code": 0, "message": ""}},
        {"name": "db1.example.org", "uuid": "i-2", "adminState": "up", "actualState": "hung",
         "uptime": None, "mtime": 1700000001.0, "state_reason": [],
         "status": {"code": 2, "message": "Instance marked as running, but it appears to be hung"}},
    ],
    "status": {"code": 2, "message": "\nInstance marked as running, but it appears to be hung"},
}  # fmt: skip
DISKSTATS = [
    {"major": 8, "minor": 0, "name": "sda", "readsNum": 10, "mergedReads": 1, "secRead": 4,
     "timeRead": 1500, "writes": 3, "mergedWrites": 0, "secWritten": 2, "timeWrite": 20,
     "ios": 0, "timeIO": 30, "wIOmillis": 40},
]  # fmt: skip
DAEMON = {"daemon": "ganeti-noded", "pid": 42, "memory": 1048576, "size_unit": "B",
          "uptime": 60, "cpu_usage": 1.5, "threads": 3,
          "status": {"code": 0, "message": ""}}  # fmt: skip


class Fixed(Collector):
    """Reports given data, or fails with a CollectorError."""

    def __init__(
        self, ctx: AgentContext, name: str, kind: Kind, data: JSONValue, error: str = ""
    ) -> None:
        self.name = name
        self.kind = kind
        self.category = Category.STORAGE
        super().__init__(ctx)
        self.data = data
        self.error = error

    def collect(self) -> JSONValue:
        if self.error:
            raise CollectorError(self.error)
        return self.data


def collector_set(*specs: tuple[str, Kind, JSONValue, str]) -> CollectorSet:
    clock = Clock()
    ctx = AgentContext(clock=clock, runner=FakeRunner(), paths=GanetiPaths(), hostname="n1")
    made = [Fixed(ctx, name, kind, data, error) for name, kind, data, error in specs]
    return CollectorSet(made, clock, lambda: 1_700_000_000.0)


ALL = collector_set(
    ("cpu-avg-load", Kind.PERFORMANCE, {"cpu_number": 2, "cpus": [0.5, 0.2], "cpu_total": 0.7}, ""),
    ("xen-cpu-avg-load", Kind.PERFORMANCE, {"web1.example.org": 0.4}, ""),
    ("diskstats", Kind.PERFORMANCE, DISKSTATS, ""),
    ("drbd", Kind.STATUS, DRBD, ""),
    ("inst-status-xen", Kind.STATUS, INSTANCES, ""),
    ("lv", Kind.PERFORMANCE, None, "lvs: exited with status 5"),
    ("daemon-noded", Kind.STATUS, DAEMON, ""),
    ("mystery", Kind.STATUS, {"whatever": [1, 2]}, ""),
)  # fmt: skip


def rendered(collectors: CollectorSet) -> str:
    results: list[bytes] = []
    MetricsExporter(collectors).render().addCallback(results.append)
    assert results, "the exposition of synchronous collectors is immediate"
    return results[0].decode()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found[(name, frozenset(labels.items()))]


def test_every_collector_gets_success_duration_and_status() -> None:
    found = samples(rendered(ALL))
    assert value(found, "ganeti_collector_success", collector="drbd") == 1
    assert value(found, "ganeti_collector_success", collector="lv") == 0
    assert value(found, "ganeti_collector_status_code", collector="drbd") == 4
    assert value(found, "ganeti_collector_status_code", collector="lv") == 2
    assert value(found, "ganeti_collector_status_code", collector="cpu-avg-load") == 0
    assert value(found, "ganeti_collector_status_code", collector="mystery") == 2
    assert value(found, "ganeti_collector_duration_seconds", collector="mystery") == 0
    assert (
        value(found, "ganeti_collector_info", collector="drbd", category="storage", kind="status")
        == 1
    )
    assert value(found, "ganeti_collector_report_timestamp_seconds", collector="drbd") == 1.7e9


def test_collector_data_becomes_named_series() -> None:
    found = samples(rendered(ALL))
    assert value(found, "ganeti_cpu_avg_load", cpu="1") == 0.2
    assert value(found, "ganeti_cpu_avg_load_aggregate") == 0.7
    assert value(found, "ganeti_cpu_number") == 2
    assert value(found, "ganeti_instance_cpu_avg_load", instance="web1.example.org") == 0.4
    assert value(found, "ganeti_diskstats_read_bytes_total", device="sda") == 2048
    assert value(found, "ganeti_diskstats_read_time_seconds_total", device="sda") == 1.5
    minor0 = {"minor": "0", "instance": "web1.example.org"}
    assert value(found, "ganeti_drbd_network_received_bytes_total", **minor0) == 2048 * 1024
    assert value(found, "ganeti_drbd_out_of_sync_bytes", **minor0) == 4096 * 1024
    assert value(found, "ganeti_drbd_sync_progress_ratio", **minor0) == 0.255
    assert value(found, "ganeti_drbd_sync_speed_bytes_per_second", **minor0) == 2 * 1024 * 1024
    assert value(found, "ganeti_drbd_sync_remaining_seconds", **minor0) == 3723
    assert value(found, "ganeti_drbd_connected", **minor0) == 1
    assert value(found, "ganeti_drbd_connected", minor="8", instance="") == 0
    assert value(found, "ganeti_drbd_disk_up_to_date", side="remote", **minor0) == 1
    assert value(found, "ganeti_drbd_version_info", version="8.4.11", api="1") == 1
    assert value(found, "ganeti_drbd_device_info", minor="9", instance="",
                 connection_state="Unconfigured", local_role="", remote_role="",
                 local_state="", remote_state="") == 1  # fmt: skip
    assert value(found, "ganeti_instance_status_code", instance="db1.example.org") == 2
    assert value(found, "ganeti_instance_running", instance="db1.example.org") == 0
    assert value(found, "ganeti_instance_uptime_seconds", instance="web1.example.org") == 176405
    assert value(found, "ganeti_daemon_resident_memory_bytes", daemon="ganeti-noded") == 1048576
    assert value(found, "ganeti_daemon_running", daemon="ganeti-noded") == 1


def test_lv_segments_are_one_series_per_volume() -> None:
    lv = collector_set(("lv", Kind.PERFORMANCE, LV, ""))
    text = rendered(lv)
    found = samples(text)
    disk0 = {"vg": "xenvg", "lv": "disk0", "instance": "web1.example.org"}
    assert value(found, "ganeti_lv_size_bytes", **disk0) == 1073741824
    assert value(found, "ganeti_lv_active", **disk0) == 1
    assert value(found, "ganeti_lv_open", vg="xenvg", lv="spare", instance="") == 0
    assert text.count("ganeti_lv_size_bytes{") == 2


def test_plugins_numbers_are_exported_by_field() -> None:
    class Plugin(Fixed):
        metrics_mapper = "plugin"

    clock = Clock()
    ctx = AgentContext(clock=clock, runner=FakeRunner(), paths=GanetiPaths(), hostname="n1")
    data = {"status": {"code": 0, "message": ""}, "arrays": 2, "md0": {"degraded": 1, "x": "y"}}
    plugin = Plugin(ctx, "raid", Kind.STATUS, data)
    found = samples(rendered(CollectorSet([plugin], clock, lambda: 1.0)))
    assert value(found, "ganeti_plugin_value", collector="raid", field="arrays") == 2
    assert value(found, "ganeti_plugin_value", collector="raid", field="md0_degraded") == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:04:08", 248), ("15 days, 20:57:07", 1371427), ("1 day, 0:00:01", 86401), (12, 12),
     ("soon", None), (None, None)],
)  # fmt: skip
def test_durations(text: JSONValue, seconds: float | None) -> None:
    assert duration_seconds(text) == seconds


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=9), inner, max_size=5)
    ),
    max_leaves=20,
)
mapper_names = st.sampled_from(sorted({*MAPPERS, *(p + "x" for p in PREFIX_MAPPERS)}))


@given(mapper_names, json_values)
def test_any_data_gives_a_valid_exposition(name: str, data: JSONValue) -> None:
    collectors = collector_set((name, Kind.STATUS, data, ""))
    text = rendered(collectors)
    assert list(text_string_to_metric_families(text))
    assert f'ganeti_collector_success{{collector="{name}"}} 1.0' in text


@given(json_values)
def test_odd_shapes_of_known_fields_are_skipped(data: JSONValue) -> None:
    shaped = {"deviceInfos": [data], "instances": [data], "cpus": data, "memory": data}
    for name in MAPPERS:
        list(
            text_string_to_metric_families(rendered(collector_set((name, Kind.STATUS, shaped, ""))))
        )


def test_every_family_is_documented() -> None:
    doc = (REPO / "docs" / "integrations.md").read_text()
    missing = [name for name in FAMILIES if f"`{name}`" not in doc]
    assert missing == []


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed"
)
def test_promtool_accepts_the_exposition(tmp_path: Path) -> None:
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=rendered(ALL).encode(), capture_output=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_empty_agent_still_has_its_info() -> None:
    assert b"ganeti_agent_info{" in exposition([])


@async_test
async def test_metrics_route_has_the_prometheus_content_type() -> None:
    api = MonitoringAPI(ALL)
    api.extra_routes["metrics"] = MetricsExporter(ALL).route
    client: Any = StubTreq(api.resource())
    response = await client.get("http://agent/metrics")
    assert response.code == 200
    assert response.headers.getRawHeaders(b"content-type") == [CONTENT_TYPE]
    body = await response.text()
    assert "ganeti_collector_status_code" in body
    other = await client.get("http://agent/metrics/extra")
    assert other.code == 404
