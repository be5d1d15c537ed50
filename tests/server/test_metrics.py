"""The Prometheus exposition: names, labels, tolerance of odd reports, promtool's lint."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from treq.testing import StubTreq
from twisted.internet.task import Clock

from ganeti_agent.collectors import REGISTRY, factory
from ganeti_agent.core.framework import (
    AgentContext,
    Collector,
    CollectorError,
    CollectorSet,
    ManagedCollector,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import (
    FAMILIES,
    DuplicateFamily,
    FamilyRegistry,
    Sample,
    duration_seconds,
)
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.server.api import MonitoringAPI
from ganeti_agent.server.metrics import CONTENT_TYPE, MetricsExporter, exposition
from tests.server.metrics_fixture import AGENT, DRBD, bare, fixture_reports
from tests.support import REPO, FakeRunner, async_test


class Fixed(Collector):
    """Reports given data, or fails with a CollectorError."""

    def __init__(
        self, ctx: AgentContext, name: str, kind: Kind, data: JSON, error: str = ""
    ) -> None:
        self.name = name
        self.kind = kind
        self.category = Category.STORAGE
        super().__init__(ctx)
        self.data = data
        self.error = error

    def collect(self) -> JSON:
        if self.error:
            raise CollectorError(self.error)
        return self.data


def collector_set(*specs: tuple[str, Kind, JSON, str]) -> CollectorSet:
    clock = Clock()
    ctx = AgentContext(clock=clock, runner=FakeRunner(), paths=GanetiPaths(), hostname="n1")
    made = [Fixed(ctx, name, kind, data, error) for name, kind, data, error in specs]
    return CollectorSet(made, clock, lambda: 1_700_000_000.0)


ALL = collector_set(
    ("cpu-avg-load", Kind.PERFORMANCE, {"cpu_number": 2, "cpus": [0.5, 0.2], "cpu_total": 0.7}, ""),
    ("xen-cpu-avg-load", Kind.PERFORMANCE, {"web1.example.org": 0.4}, ""),
    ("drbd", Kind.STATUS, DRBD, ""),
    ("lv", Kind.PERFORMANCE, None, "lvs: exited with status 5"),
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


def fixture_samples() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return samples(exposition(fixture_reports()).decode())


def test_collector_data_becomes_named_series() -> None:
    found = fixture_samples()
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
    assert value(found, "ganeti_instance_status_code", instance="weird.example.org") == 2
    assert value(found, "ganeti_instance_running", instance="db1.example.org") == 0
    assert value(found, "ganeti_instance_uptime_seconds", instance="web1.example.org") == 176405
    assert value(found, "ganeti_daemon_resident_memory_bytes", daemon="ganeti-noded") == 1048576
    assert value(found, "ganeti_daemon_running", daemon="ganeti-noded") == 1
    assert value(found, "ganeti_daemon_running", daemon="ganeti-confd") == 0


def test_lv_segments_are_one_series_per_volume() -> None:
    found = fixture_samples()
    disk0 = {"vg": "xenvg", "lv": "disk0", "instance": "web1.example.org"}
    assert value(found, "ganeti_lv_size_bytes", **disk0) == 1073741824
    assert value(found, "ganeti_lv_active", **disk0) == 1
    assert value(found, "ganeti_lv_open", vg="xenvg", lv="spare", instance="") == 0
    assert sum(1 for name, _labels in found if name == "ganeti_lv_size_bytes") == 2


def test_plugins_numbers_are_exported_by_field() -> None:
    found = fixture_samples()
    assert value(found, "ganeti_plugin_value", collector="raid", field="arrays") == 2
    assert value(found, "ganeti_plugin_value", collector="raid", field="md0_degraded") == 1
    assert ("ganeti_plugin_value", frozenset({("collector", "raid"), ("field", "flag")})) not in (
        found
    )


class Broken(Fixed):
    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        raise RuntimeError("a bug in this collector's samples")


def test_a_collector_whose_samples_raise_loses_only_its_own_series() -> None:
    reports = fixture_reports()
    _managed, collected = reports[0]
    broken = ManagedCollector(bare(Broken, "broken"), Clock(), lambda: 1.0)
    renamed = replace(collected, report=replace(collected.report, name="broken"))
    found = samples(exposition([(broken, renamed), *reports]).decode())
    assert value(found, "ganeti_collector_success", collector="broken") == 1
    assert value(found, "ganeti_drbd_primary", minor="8", instance="") == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:04:08", 248), ("15 days, 20:57:07", 1371427), ("1 day, 0:00:01", 86401), (12, 12),
     ("soon", None), (None, None)],
)  # fmt: skip
def test_durations(text: JSON, seconds: float | None) -> None:
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
COLLECTORS = [bare(cls, name) for cls, name, *_rest in AGENT]
collectors_with_samples = st.sampled_from(COLLECTORS)


def check_samples(collector: Collector, data: JSON) -> None:
    """The collector's own mapping, called directly: an exception fails the test."""
    for sample in collector.metric_samples(data):
        assert len(sample.labels) == len(sample.family.labels)
        assert all(isinstance(part, str) for part in sample.labels)
        assert isinstance(sample.value, float)
        assert FAMILIES[sample.family.name] is sample.family


@given(collectors_with_samples, json_values)
def test_any_data_gives_well_formed_samples(collector: Collector, data: JSON) -> None:
    check_samples(collector, data)


@given(json_values)
def test_odd_shapes_of_known_fields_are_skipped(data: JSON) -> None:
    shaped = {"deviceInfos": [data], "instances": [data], "cpus": data, "memory": data,
              "NICs": [data], "filesystem": [data], "versionInfo": data, "versions": data,
              "syncStatus": data, "perfIndicators": data}  # fmt: skip
    for collector in COLLECTORS:
        check_samples(collector, shaped)
        check_samples(collector, [shaped, data])


@given(json_values)
def test_any_data_gives_a_valid_exposition(data: JSON) -> None:
    reports = [
        (managed, replace(collected, report=replace(collected.report, data=data)))
        for managed, collected in fixture_reports()
    ]
    assert list(text_string_to_metric_families(exposition(reports).decode()))


def test_a_family_name_is_declared_once() -> None:
    registry = FamilyRegistry()
    registry.declare("ganeti_x", "gauge", "X.")
    with pytest.raises(DuplicateFamily, match="ganeti_x"):
        registry.declare("ganeti_x", "counter", "Another X.")
    assert list(registry) == ["ganeti_x"]


def test_every_family_is_documented() -> None:
    for module in REGISTRY:
        factory(module)
    doc = (REPO / "docs" / "integrations.md").read_text()
    ours = [name for name in FAMILIES if name.startswith("ganeti_")]
    assert len(ours) >= 87
    assert [name for name in ours if f"`{name}`" not in doc] == []


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed"
)
def test_promtool_accepts_the_exposition() -> None:
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition(fixture_reports()),
        capture_output=True, timeout=60, check=False,
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
