"""The clock jumping: NTP steps, a VM resumed after hours, a mis-set clock fixed by hand.

Unit level, on a ``task.Clock`` moved forwards and backwards: the windowed collectors
never compute an average over time that went backwards, the report cache never
serves a report "from the future", and timeouts still end a hung collection.

Not covered here, because it is Twisted's: the real reactor schedules timers on
``time.time()``, so after the wall clock steps back by N seconds, sampling loops and
timeouts wait N seconds longer (docs/security.md, "Clock").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from ganeti_agent.collectors.cpu_avg_load import CpuAvgLoadCollector
from ganeti_agent.collectors.xen_cpu_avg_load import LoadTracker
from ganeti_agent.core.framework import (
    AgentContext,
    CollectedReport,
    Collector,
    CollectorSettings,
    ManagedCollector,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from tests.support import FakeRunner

TICKS = 100
HOUR = 3600.0


def stat_text(busy: int, idle: int) -> str:
    return f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 {busy} 0 0 {idle} 0 0 0 0 0 0\nintr 1\n"


def context(clock: Clock, settings: CollectorSettings) -> AgentContext:
    return AgentContext(clock, FakeRunner(), GanetiPaths(), "node1", lambda _: settings)


def cpu_collector(tmp_path: Path, clock: Clock) -> tuple[CpuAvgLoadCollector, Path]:
    stat = tmp_path / "stat"
    settings = CollectorSettings(interval=5, options={"stat-file": str(stat), "window": "60"})
    collector = CpuAvgLoadCollector(context(clock, settings))
    collector.ticks_per_second = TICKS
    return collector, stat


def sample_at(collector: CpuAvgLoadCollector, stat: Path, clock: Clock, busy: int) -> None:
    """One sample of a CPU that has been ``busy`` ticks busy (and as many idle)."""
    stat.write_text(stat_text(busy, busy))
    collector.sample()


def test_cpu_avg_load_clock_going_back_restarts_the_window(tmp_path: Path) -> None:
    clock = Clock()
    clock.advance(HOUR)
    collector, stat = cpu_collector(tmp_path, clock)
    busy = 0
    for _ in range(4):
        busy += 5 * TICKS // 2
        sample_at(collector, stat, clock, busy)
        clock.advance(5)
    assert collector.collect() == {"cpu_number": 1, "cpus": [0.5], "cpu_total": 0.5}
    clock.advance(-HOUR)
    busy += 5 * TICKS // 2
    sample_at(collector, stat, clock, busy)
    data = collector.collect()
    assert isinstance(data, dict) and "error" in data, "an average over negative time"
    clock.advance(5)
    busy += 5 * TICKS // 2
    sample_at(collector, stat, clock, busy)
    assert collector.collect() == {"cpu_number": 1, "cpus": [0.5], "cpu_total": 0.5}


def test_cpu_avg_load_clock_leaping_forward_drops_the_old_window(tmp_path: Path) -> None:
    """After a leap longer than the window, no average is made across the gap."""
    clock = Clock()
    collector, stat = cpu_collector(tmp_path, clock)
    sample_at(collector, stat, clock, 0)
    clock.advance(5)
    sample_at(collector, stat, clock, 5 * TICKS)
    assert collector.collect() == {"cpu_number": 1, "cpus": [1.0], "cpu_total": 1.0}
    clock.advance(HOUR)
    sample_at(collector, stat, clock, 6 * TICKS)
    data: Any = collector.collect()
    assert isinstance(data, dict) and data["error"].startswith("Time covered by data")


def test_xen_cpu_avg_load_clock_going_back_restarts_the_window() -> None:
    """Without this, samples from "the future" made the span (and the average) wrong."""
    tracker = LoadTracker(window=600, min_span=10, forget=100)
    for second in range(0, 101, 5):
        tracker.add(HOUR + second, {"web": second * 0.5})
    assert tracker.loads() == {"web": 0.5}
    for second in range(0, 101, 5):
        tracker.add(float(second), {"web": 50 + second * 0.25})
        loads = tracker.loads()
        assert loads in ({}, {"web": 0.25}), loads
    assert tracker.loads() == {"web": 0.25}


class Counting(Collector):
    """A stateless collector that counts its runs; ``hang`` makes the next run never end."""

    name = "counting"

    def __init__(self, clock: Clock) -> None:
        super().__init__(context(clock, CollectorSettings(cache=10, timeout=5)))
        self.runs = 0
        self.hang = False

    def collect(self) -> Deferred[JSON] | JSON:
        self.runs += 1
        return Deferred() if self.hang else self.runs


def managed_counting() -> tuple[Clock, Counting, ManagedCollector]:
    clock = Clock()
    clock.advance(HOUR)
    collector = Counting(clock)
    return clock, collector, ManagedCollector(collector, clock, lambda: 0.0)


def data_of(managed: ManagedCollector) -> JSON:
    finished: list[CollectedReport] = []
    managed.report().addCallback(finished.append)
    assert finished, "the report did not finish"
    return finished[0].report.data


def test_cache_is_not_stretched_by_the_clock_going_back() -> None:
    """A report cached "in the future" would otherwise be served until time caught up."""
    clock, _, managed = managed_counting()
    assert data_of(managed) == 1
    assert data_of(managed) == 1
    clock.advance(-HOUR)
    assert data_of(managed) == 2
    clock.advance(1)
    assert data_of(managed) == 2


def test_cache_expires_when_the_clock_leaps_forward() -> None:
    clock, _, managed = managed_counting()
    assert data_of(managed) == 1
    clock.advance(HOUR)
    assert data_of(managed) == 2


def test_timeout_still_ends_a_hung_collection_across_a_leap() -> None:
    clock, collector, managed = managed_counting()
    collector.hang = True
    finished: list[CollectedReport] = []
    managed.report().addCallback(finished.append)
    clock.advance(HOUR)
    [result] = finished
    assert result.report.data == {"error": "collector timed out after 5 s"}
    collector.hang = False
    clock.advance(10)
    assert data_of(managed) == 2
