"""xen-cpu-avg-load: the window arithmetic, and sampling through a replaying runner."""

from __future__ import annotations

from twisted.internet.task import Clock

from ganeti_agent.collectors.xen_cpu_avg_load import LoadTracker, XenCpuAvgLoadCollector
from ganeti_agent.core.framework import (
    AgentContext,
    CollectorSettings,
    Enablement,
    ManagedCollector,
)
from ganeti_agent.core.paths import GanetiPaths
from tests.support import FakeRunner

HEADER = "      NAME  STATE   CPU(sec) CPU(%)\n  Domain-0 -----r 100 0.0\n"


def test_nothing_before_min_span_then_average_over_window() -> None:
    tracker = LoadTracker(window=600, min_span=100, forget=100)
    for second in range(0, 101, 5):
        tracker.add(float(second), {"a": second * 0.5})
        if second < 100:
            assert tracker.loads() == {}
    assert tracker.loads() == {"a": 0.5}
    for second in range(105, 1001, 5):
        tracker.add(float(second), {"a": 50 + (second - 100) * 2.0})
    assert tracker.loads() == {"a": 2.0}  # old 0.5-load samples left the 600 s window


def test_restart_starts_afresh_and_absent_domains_are_forgotten() -> None:
    tracker = LoadTracker(window=600, min_span=100, forget=100)
    for second in range(0, 201, 10):
        tracker.add(float(second), {"a": 1000.0 + second, "b": float(second)})
    tracker.add(210.0, {"a": 3.0, "b": 210.0})
    assert "a" not in tracker.loads() and tracker.loads()["b"] == 1.0
    tracker.add(320.0, {"a": 113.0})
    assert "b" not in tracker.domains
    assert tracker.loads() == {"a": 1.0}


def test_sampling_via_runner_and_failures_keep_the_data() -> None:
    clock = Clock()
    runner = FakeRunner()
    settings = CollectorSettings(enabled=Enablement.YES)
    context = AgentContext(clock, runner, GanetiPaths(), "node1", lambda _: settings)
    collector = XenCpuAvgLoadCollector(context)
    managed = ManagedCollector(collector, clock, clock.seconds)
    cpu = 0.0
    for _ in range(25):
        runner.reply("xentop", (HEADER + f"web.example.org --b--- {cpu} 1.0\n").encode())
        managed._sample_once()
        clock.advance(5)
        cpu += 2.5
    assert runner.calls[0] == ("xentop", "-f", "-b", "-i", "1")
    assert collector.collect() == {"web.example.org": 0.5}
    runner.reply("xentop", b"garbage\n")
    managed._sample_once()
    assert managed.last_sample_error is not None
    assert "cannot parse" in managed.last_sample_error
    del runner.responses["xentop"]
    managed._sample_once()
    assert "not found" in (managed.last_sample_error or "")
    assert collector.collect() == {"web.example.org": 0.5}
