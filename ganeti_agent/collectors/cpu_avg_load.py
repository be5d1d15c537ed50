"""``cpu-avg-load`` (no category, performance): average CPU load over a sliding window.

Ganeti's mond means to average over the last 600 s but, through two bugs (spec 7.1),
reports the average since its start. We average over the configured ``window`` (600 s
by default): newest sample against the oldest sample still inside the window. The
report's shape and its two error objects are mond's, which htools reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ganeti_agent.core.files import InputError, read_text
from ganeti_agent.core.framework import (
    MIN_CLUSTER_INTERVAL,
    AgentContext,
    Collector,
    StatefulCollector,
    TypedCollector,
    Window,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample, family
from ganeti_agent.core.report import Kind
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.proc_stat import CpuTicks, parse_proc_stat

NAME = "cpu-avg-load"
DEFAULT_WINDOW = 600.0


def clock_ticks_per_second() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return 100


@dataclass(frozen=True)
class AverageLoad:
    """Busy CPUs on average between two samples: 0 to 1 per CPU, 0 to N for the total."""

    cpus: tuple[float, ...]
    total: float


@dataclass(frozen=True)
class NoAverage:
    """Why the window gives no average yet, in mond's words (htools reads them)."""

    reason: str


LoadResult = AverageLoad | NoAverage


def average_load(
    oldest: tuple[float, CpuTicks], newest: tuple[float, CpuTicks], ticks_per_second: int
) -> AverageLoad:
    (then, before), (now, after) = oldest, newest
    ticks = (now - then) * ticks_per_second
    cpus = tuple((a - b) / ticks for a, b in zip(after.cpus, before.cpus, strict=False))
    return AverageLoad(cpus, (after.total - before.total) / ticks)


class CpuAvgLoadCollector(StatefulCollector, TypedCollector[LoadResult]):
    """Samples /proc/stat every ``interval`` seconds into a window of ``window`` seconds."""

    name = NAME
    category = None
    kind = Kind.PERFORMANCE

    def __init__(self, context: AgentContext) -> None:
        super().__init__(context)
        self.window_seconds = float(self.settings.option("window", str(DEFAULT_WINDOW)))
        shortest = min(self.settings.interval, MIN_CLUSTER_INTERVAL)
        capacity = int(self.window_seconds / shortest) + 2
        self.window: Window[CpuTicks] = Window(self.window_seconds, capacity)
        self.ticks_per_second = clock_ticks_per_second()

    @property
    def path(self) -> str:
        return self.settings.option("stat-file", os.path.join(self.context.proc_root, "stat"))

    def available(self) -> bool:
        return os.path.exists(self.path)

    def sample(self) -> None:
        """Take one sample; a broken /proc/stat skips it (mond's sampler would die)."""
        try:
            ticks = parse_proc_stat(read_text(self.path))
        except ParseError as exc:
            raise InputError(f"{self.path}: cannot parse: {exc.reason}") from None
        when = self.context.clock.seconds()
        newest = self.window.newest
        if newest is not None and (when < newest[0] or ticks.total < newest[1].total):
            self.window.clear()
        self.window.add(when, ticks)

    def result(self) -> LoadResult:
        oldest, newest = self.window.oldest, self.window.newest
        if oldest is None or newest is None:
            return NoAverage("Empty buffer")
        if newest[0] <= oldest[0]:
            return NoAverage(
                "Time covered by data is not sufficient."
                f"The window considered is {self.window_seconds:g}"
            )
        return average_load(oldest, newest, self.ticks_per_second)

    def to_data(self, result: LoadResult) -> JSON:
        if isinstance(result, NoAverage):
            return {"error": result.reason}
        return {
            "cpu_number": len(result.cpus),
            "cpus": list(result.cpus),
            "cpu_total": result.total,
        }

    def samples(self, result: LoadResult) -> Iterator[Sample]:
        """Per-CPU and aggregate load; no average yet gives none."""
        if isinstance(result, NoAverage):
            return
        for index, load in enumerate(result.cpus):
            yield Sample(CPU_LOAD, (str(index),), load)
        yield Sample(CPU_LOAD_AGGREGATE, (), result.total)
        yield Sample(CPU_NUMBER, (), float(len(result.cpus)))


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [CpuAvgLoadCollector(context)]


CPU_LOAD = family("ganeti_cpu_avg_load", "gauge", "Average busy fraction of one CPU (0..1).", "cpu")
CPU_LOAD_AGGREGATE = family(
    "ganeti_cpu_avg_load_aggregate",
    "gauge",
    "Average busy CPUs of the whole node (0..number of CPUs).",
)
CPU_NUMBER = family("ganeti_cpu_number", "gauge", "Number of CPUs in the cpu-avg-load report.")
