"""``/metrics``: the collectors' reports in the Prometheus text exposition format.

Every scrape asks the framework for the active collectors' reports (cached or fresh,
never blocking the reactor). Each collector gets the ``ganeti_collector_*`` series
declared here, whatever its state, and adds its own: a typed collector's samples of
the result behind the report, another collector's ``metric_samples`` of the report's
data. Their families are declared in the collector's module (``core.metrics``). A collector
whose samples raise loses only its own series. Families come out in the order of the
collectors that first report them, each collector's in the order it declares them;
``docs/integrations.md`` documents every family.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as PrometheusCollector
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest

from ganeti_agent import __version__
from ganeti_agent.core.framework import CollectedReport, CollectorSet, ManagedCollector
from ganeti_agent.core.metrics import FAMILIES, Family, Sample, family, flag
from ganeti_agent.core.report import Kind, category_segment
from ganeti_agent.core.status import status_of

log = Logger(namespace="ganeti_agent.server.metrics")

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

AGENT_INFO = family("ganeti_agent_info", "gauge", "Agent version; always 1.", "version")
COLLECTOR_INFO = family(
    "ganeti_collector_info",
    "gauge",
    "Active collector, its category (default = none) and kind; always 1.",
    "collector",
    "category",
    "kind",
)
COLLECTOR_SUCCESS = family(
    "ganeti_collector_success",
    "gauge",
    "1 if the collector's last run produced its data, 0 if it failed.",
    "collector",
)
COLLECTOR_DURATION = family(
    "ganeti_collector_duration_seconds",
    "gauge",
    "Duration of the collector's last run.",
    "collector",
)
COLLECTOR_STATUS = family(
    "ganeti_collector_status_code",
    "gauge",
    "Ganeti status code of the report: 0 OK, 1 being fixed, 2 unknown, 4 needs intervention.",
    "collector",
)
COLLECTOR_TIMESTAMP = family(
    "ganeti_collector_report_timestamp_seconds",
    "gauge",
    "Time the served report was built, in seconds since the epoch.",
    "collector",
)


def common_samples(collected: CollectedReport) -> Iterator[Sample]:
    """The ``ganeti_collector_*`` series every collector gets, failed or not."""
    report = collected.report
    name = (report.name,)
    kind = "status" if report.kind is Kind.STATUS else "performance"
    yield Sample(COLLECTOR_INFO, (*name, category_segment(report.category), kind), 1.0)
    yield flag(COLLECTOR_SUCCESS, name, collected.success)
    yield Sample(COLLECTOR_DURATION, name, collected.duration)
    code, _message = status_of(report.kind, report.data)
    yield Sample(COLLECTOR_STATUS, name, float(code))
    yield Sample(COLLECTOR_TIMESTAMP, name, report.timestamp / 1e9)


def own_samples(managed: ManagedCollector, collected: CollectedReport) -> list[Sample]:
    """A collector's own series; a bug in them costs that collector's series, nothing else.

    A typed collector's samples were bound to its result when it ran; any other
    collector reads them from its report's data.
    """
    try:
        if collected.samples is not None:
            return list(collected.samples())
        return list(managed.collector.metric_samples(collected.report.data))
    except Exception:
        log.failure("mapping the {name} report to metrics failed", name=managed.name)
        return []


def families(samples: Iterable[Sample]) -> list[Metric]:
    """prometheus_client families: the first of duplicate series wins."""
    grouped: dict[str, dict[tuple[str, ...], float]] = {}
    for sample in samples:
        grouped.setdefault(sample.family.name, {}).setdefault(sample.labels, sample.value)
    return [_metric(FAMILIES[name], series) for name, series in grouped.items()]


def ordered(reports: Sequence[tuple[ManagedCollector, CollectedReport]]) -> list[Sample]:
    """The agent's, every collector's common, then each collector's own samples.

    Own samples are ordered by the collector that first reports their family, then by
    declaration, so a family's place does not depend on which series a report has.
    """
    samples = [Sample(AGENT_INFO, (__version__,), 1.0)]
    for _managed, collected in reports:
        samples.extend(common_samples(collected))
    own: list[tuple[int, int, Sample]] = []
    first_seen: dict[str, int] = {}
    for index, (managed, collected) in enumerate(reports):
        for sample in own_samples(managed, collected):
            name = sample.family.name
            rank = first_seen.setdefault(name, index)
            own.append((rank, FAMILIES.position(name), sample))
    own.sort(key=lambda entry: entry[:2])
    return samples + [sample for _rank, _position, sample in own]


def _metric(declared: Family, series: Mapping[tuple[str, ...], float]) -> Metric:
    metric: GaugeMetricFamily | CounterMetricFamily
    if declared.type == "counter":
        metric = CounterMetricFamily(declared.name, declared.help, labels=declared.labels)
    else:
        metric = GaugeMetricFamily(declared.name, declared.help, labels=declared.labels)
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
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families(ordered(list(reports)))))
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
