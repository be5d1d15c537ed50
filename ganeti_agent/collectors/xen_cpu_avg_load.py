"""``xen-cpu-avg-load`` (default category, performance, stateful): busy vCPUs per Xen domain.

Every interval ``xentop -f -b -i 1`` gives each domain's cumulative CPU seconds; the
report is, per domain, the CPU seconds used during the last ``window`` seconds divided
by the time covered, i.e. the average number of busy vCPUs (htools ``--mond-xen``).

Unlike Ganeti 3.0.2, which shifts older samples in time when a counter goes down, a
decrease (domain restarted) simply starts the domain's history afresh, and the average
always covers at most the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ganeti_agent.collectors.instances.xen_host import is_xen_control_domain
from ganeti_agent.core.executor import ProcessResult
from ganeti_agent.core.framework import (
    AgentContext,
    Collector,
    CollectorError,
    CollectorSettings,
    StatefulCollector,
    TypedCollector,
    Window,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample, family
from ganeti_agent.core.report import Kind
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.xen import XENTOP_ARGS, parse_xentop

log = Logger(namespace="ganeti_agent.collectors.xen_cpu_avg_load")

NAME = "xen-cpu-avg-load"
DEFAULT_WINDOW = 600.0
DEFAULT_MIN_SPAN = 100.0
DEFAULT_FORGET = 100.0
CAPACITY = 1024


@dataclass
class DomainLoad:
    """The samples of one domain: (time, cumulative CPU seconds), oldest first."""

    window: Window[float]
    last_seen: float = 0.0


@dataclass
class LoadTracker:
    """Per-domain windows, kept apart from I/O so the arithmetic is testable alone.

    ``min_span``: a domain is reported once its samples cover that many seconds;
    ``forget``: a domain absent from xentop that long is dropped.
    """

    window: float = DEFAULT_WINDOW
    min_span: float = DEFAULT_MIN_SPAN
    forget: float = DEFAULT_FORGET
    domains: dict[str, DomainLoad] = field(default_factory=dict)

    def add(self, now: float, cpu_seconds: dict[str, float]) -> None:
        for name, value in cpu_seconds.items():
            load = self.domains.get(name)
            if load is None:
                load = self.domains[name] = DomainLoad(Window(self.window, CAPACITY))
            newest = load.window.newest
            if newest is not None and (value < newest[1] or now < newest[0]):
                load.window.clear()  # a restarted domain, or the clock went back
            load.window.add(now, value)
            load.last_seen = now
        for name in [n for n, d in self.domains.items() if now - d.last_seen >= self.forget]:
            del self.domains[name]

    def loads(self) -> dict[str, float]:
        """Average busy vCPUs per domain, keys sorted, domains with enough history only."""
        result = {}
        for name in sorted(self.domains):
            samples = self.domains[name].window
            oldest, newest = samples.oldest, samples.newest
            if oldest is None or newest is None:
                continue
            span = newest[0] - oldest[0]
            if span >= self.min_span and span > 0:
                result[name] = (newest[1] - oldest[1]) / span
        return result


class XenCpuAvgLoadCollector(StatefulCollector, TypedCollector[dict[str, float]]):
    """Samples xentop on a timer; the report averages each domain's recent CPU use."""

    name = NAME
    category = None
    kind = Kind.PERFORMANCE

    def __init__(self, context: AgentContext, settings: CollectorSettings | None = None) -> None:
        super().__init__(context, settings)
        self.tracker = LoadTracker(
            window=float(self.settings.option("window", str(DEFAULT_WINDOW))),
            min_span=float(self.settings.option("min-span", str(DEFAULT_MIN_SPAN))),
            forget=float(self.settings.option("forget-after", str(DEFAULT_FORGET))),
        )
        self.command = self.settings.option("command", "xentop")

    def available(self) -> bool:
        return is_xen_control_domain(self.context.proc_root)

    def sample(self) -> Deferred[None]:
        started = self.context.clock.seconds()
        ran = self.context.runner.run([self.command, *XENTOP_ARGS], self.settings.timeout)
        return ran.addCallback(self._record, started)

    def _record(self, result: ProcessResult, started: float) -> None:
        try:
            values = parse_xentop(result.stdout.decode("utf-8", "replace"))
        except ParseError as exc:
            raise CollectorError(f"{self.command}: cannot parse its output: {exc.reason}") from None
        self.tracker.add(started, values)

    def result(self) -> dict[str, float]:
        return self.tracker.loads()

    def to_data(self, result: dict[str, float]) -> JSON:
        return {instance: load for instance, load in result.items()}

    def samples(self, result: dict[str, float]) -> Iterator[Sample]:
        for instance, load in result.items():
            yield Sample(INSTANCE_CPU_LOAD, (instance,), load)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [XenCpuAvgLoadCollector(context)]


INSTANCE_CPU_LOAD = family(
    "ganeti_instance_cpu_avg_load",
    "gauge",
    "Average busy virtual CPUs of an instance (xen-cpu-avg-load).",
    "instance",
)
