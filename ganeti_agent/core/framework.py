"""The collector framework: what a collector is, and the one wrapper that runs them all.

A collector only knows how to produce its ``data``. Everything every collector needs
the same way lives in :class:`ManagedCollector`: timeouts, single flight, a short
cache, timing, turning any error into a report, and the sampling loop of stateful
collectors. A failing collector therefore never fails a request for the others.
"""

from __future__ import annotations

import enum
import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from twisted.internet import defer
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime, IReactorUNIX
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from ganeti_agent.core.cluster import ClusterUnavailable
from ganeti_agent.core.executor import (
    DEFAULT_SEARCH_PATH,
    CommandRunner,
    ExecutionError,
    find_executable,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.report import (
    FORMAT_VERSION,
    REPORT_VERSION,
    Category,
    Kind,
    Report,
    StatusCode,
    encode_json,
    status_object,
    timestamp_ns,
)

if TYPE_CHECKING:
    from ganeti_agent.confd.server import ConfdServer
    from ganeti_agent.core.cluster import ClusterQueries

log = Logger(namespace="ganeti_agent.core.framework")

T = TypeVar("T")
R = TypeVar("R")
U = TypeVar("U")


def then(value: Deferred[T] | T, step: Callable[[T], U]) -> Deferred[U] | U:
    """``step`` applied to a value or to a Deferred's result, staying synchronous if it was."""
    if isinstance(value, Deferred):
        return value.addCallback(step)
    return step(value)


def as_deferred(call: Callable[[], Deferred[T] | T]) -> Deferred[T]:
    """Call ``call`` and always get a Deferred: its result, or its exception as a failure."""
    try:
        result = call()
    except Exception:
        return fail(Failure())
    if isinstance(result, Deferred):
        return result
    return succeed(result)


class Enablement(enum.Enum):
    """Whether a collector is served: ``auto`` serves it where its source exists."""

    AUTO = "auto"
    YES = "yes"
    NO = "no"


@dataclass(frozen=True)
class CollectorSettings:
    """Per-collector knobs from the configuration file.

    ``interval`` drives stateful sampling, ``timeout`` bounds one run, ``cache`` is how
    long (seconds) a stateless report is reused, ``options`` holds the collector's own
    keys (e.g. ``file`` or ``lvs-extra-args``). ``interval_set`` says the configuration
    file gave the interval, which then beats the cluster's data-collector interval.
    """

    enabled: Enablement = Enablement.AUTO
    interval: float = 5.0
    timeout: float = 10.0
    cache: float = 1.0
    options: Mapping[str, str] = field(default_factory=dict)
    interval_set: bool = False

    def option(self, key: str, default: str) -> str:
        return self.options.get(key, default)


def find_on_default_path(name: str) -> str | None:
    """Where a runner with the default search path would find ``name``."""
    return find_executable(name, DEFAULT_SEARCH_PATH)


@dataclass
class AgentContext:
    """The world a collector may touch, injected so tests can replace any of it.

    ``find_command`` answers where ``runner`` would find a command (for ``available``
    checks), ``unix`` connects to UNIX sockets (QEMU monitors), ``confd_server`` is the
    confd server this process runs, if any: collectors get these here, never by probing
    what the other fields happen to be.
    """

    clock: IReactorTime
    runner: CommandRunner
    paths: GanetiPaths
    hostname: str
    settings: Callable[[str], CollectorSettings] = lambda _name: CollectorSettings()
    cluster: ClusterQueries | None = None
    proc_root: str = "/proc"
    membership: Callable[[], bool] | None = None
    find_command: Callable[[str], str | None] = find_on_default_path
    unix: IReactorUNIX | None = None
    confd_server: ConfdServer | None = None

    def settings_for(self, name: str) -> CollectorSettings:
        return self.settings(name)

    def current_cluster(self) -> ClusterQueries | None:
        """The cluster to ask, or None while this node has no Ganeti cluster files.

        A plain host (no config.data, no hmac.key) is not a failure: collectors then
        report without cluster data, as they do when no cluster is configured at all.
        """
        if self.membership is not None and not self.membership():
            return None
        return self.cluster


class CollectorError(Exception):
    """A collector could not produce its data; the text becomes the report's message."""


@dataclass(frozen=True)
class Observation:
    """One run of a collector as the framework keeps it: the report's data, and samples.

    ``samples`` is bound to a typed collector's result when it ran; None means the
    samples are read from ``data`` by the collector's ``metric_samples``.
    """

    data: JSON
    samples: Callable[[], Iterator[Sample]] | None = None


class Collector:
    """Base class of all collectors: identity plus one entry point, :meth:`collect`.

    Subclasses set ``name``, ``category`` and ``kind`` and implement ``collect``,
    returning the report's ``data`` or a Deferred of it, raising ``CollectorError``
    with a clear message when they cannot. A collector with a typed result derives
    from :class:`TypedCollector` instead.
    """

    name: str = ""
    category: Category | None = None
    kind: Kind = Kind.PERFORMANCE
    version: str = REPORT_VERSION
    format_version: int = FORMAT_VERSION
    stateful: ClassVar[bool] = False

    def __init__(self, context: AgentContext, settings: CollectorSettings | None = None) -> None:
        self.context = context
        self.settings = settings if settings is not None else context.settings_for(self.name)

    def available(self) -> bool:
        """Whether this node has the collector's source; used for ``enabled = auto``."""
        return True

    def collect(self) -> Deferred[JSON] | JSON:
        raise NotImplementedError

    def observe(self) -> Deferred[Observation] | Observation:
        """One run as the framework keeps it; here, data whose samples are read later."""
        return then(self.collect(), Observation)

    def error_data(self, message: str) -> JSON:
        """The ``data`` of a report whose collection failed.

        Status collectors say "unknown" (code 2) with the message, as the design document
        prescribes; performance collectors have no status member, so they use the same
        ``{"error": ...}`` form that the real ``cpu-avg-load`` uses for missing data.
        """
        if self.kind is Kind.STATUS:
            return {"status": status_object(StatusCode.UNKNOWN, message)}
        return {"error": message}

    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        """This collector's own ``/metrics`` series, read from its report's ``data``.

        For collectors whose data is JSON by nature (plugins); a typed collector
        yields its samples from its result instead. Families are declared in the
        collector's module; a collector without any still gets the
        ``ganeti_collector_*`` series from the exposition.
        """
        return iter(())


class TypedCollector(Collector, Generic[R]):
    """A collector whose report data and ``/metrics`` samples come from one typed result.

    The prometheus_client ``Collector`` pattern: :meth:`result` produces the typed
    value (a parser's dataclasses, say), :meth:`to_data` writes the report's wire
    form and :meth:`samples` yields the series, both from that value, so no one
    reads the report's JSON back. The framework keeps the samples beside the report.
    """

    def result(self) -> Deferred[R] | R:
        raise NotImplementedError

    def to_data(self, result: R) -> JSON:
        raise NotImplementedError

    def samples(self, result: R) -> Iterator[Sample]:
        return iter(())

    def collect(self) -> Deferred[JSON] | JSON:
        return then(self.result(), self.to_data)

    def observe(self) -> Deferred[Observation] | Observation:
        return then(self.result(), self.observation)

    def observation(self, result: R) -> Observation:
        """The report's data and the samples of ``result``, computed when asked for."""
        return Observation(self.to_data(result), functools.partial(self.samples, result))


class StatefulCollector(Collector):
    """A collector sampled on a timer, whose report summarises its in-memory window."""

    stateful: ClassVar[bool] = True

    def sample(self) -> Deferred[None] | None:
        raise NotImplementedError


class SampledCollector(StatefulCollector):
    """Sampled on the timer like a stateful collector, but its report needs no samples.

    Only some figures come from the samples (CPU usage over the last interval, not
    over the time since whoever asked last); the rest is read on request. So it is not
    ``stateful``: reports are rebuilt within ``cache`` as a stateless one's, and
    ``check --local`` runs it once (its first report takes one sample itself).
    """

    stateful: ClassVar[bool] = False


class Window(Generic[T]):
    """A bounded, time-stamped window of samples, oldest first.

    Samples older than ``span`` seconds (relative to the newest) are dropped, and at most
    ``capacity`` are kept, so memory stays bounded whatever the interval.
    """

    def __init__(self, span: float, capacity: int) -> None:
        self.span = span
        self._samples: deque[tuple[float, T]] = deque(maxlen=capacity)

    def add(self, when: float, value: T) -> None:
        self._samples.append((when, value))
        while self._samples and when - self._samples[0][0] > self.span:
            self._samples.popleft()

    def clear(self) -> None:
        self._samples.clear()

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def oldest(self) -> tuple[float, T] | None:
        return self._samples[0] if self._samples else None

    @property
    def newest(self) -> tuple[float, T] | None:
        return self._samples[-1] if self._samples else None

    def items(self) -> list[tuple[float, T]]:
        return list(self._samples)


@dataclass(frozen=True)
class CollectedReport:
    """A finished report, its encoded bytes (served as is) and how it was obtained."""

    report: Report
    encoded: bytes
    duration: float
    success: bool
    finished_at: float
    samples: Callable[[], Iterator[Sample]] | None = None
    """A typed collector's samples of this report; None: read from the report's data."""


AVAILABILITY_TTL = 2.0
"""Seconds an availability check of a collector's source is reused."""

MIN_CLUSTER_INTERVAL = 1.0
"""Shortest sampling interval taken from the cluster: its stored value may be any number."""
MAX_CLUSTER_INTERVAL = 86400.0
"""Longest one, the configuration file's bound for every duration."""
INTERVAL_CHECK = 15.0
"""Seconds between two looks at the cluster's intervals (mond re-reads its every 15 s)."""


def sampling_interval(settings: CollectorSettings, cluster_seconds: float | None) -> float:
    """Seconds between samples: the configuration file's if it names one, else the cluster's.

    The cluster's value (``gnt-cluster modify --data-collector-interval``) is kept within
    :data:`MIN_CLUSTER_INTERVAL` and :data:`MAX_CLUSTER_INTERVAL`; without one, the
    default of ``[collectors]`` applies.
    """
    if settings.interval_set or cluster_seconds is None:
        return settings.interval
    return min(max(cluster_seconds, MIN_CLUSTER_INTERVAL), MAX_CLUSTER_INTERVAL)


EXPECTED_FAILURES: tuple[type[BaseException], ...] = (
    CollectorError,
    ExecutionError,
    ClusterUnavailable,
    OSError,
    defer.TimeoutError,
    defer.CancelledError,
)
"""Failures that are facts about the node, logged as warnings; anything else is a bug."""

FAILED_SAMPLES_BEFORE_ERROR = 2
"""Consecutive failed samples after which a stateful report is an error, not old data.

One failed sample is skipped (the window still holds recent data); a source that
keeps failing (a vanished /proc/stat) must not leave the last average on show forever.
"""


def describe_failure(failure: Failure, timeout: float) -> str:
    """A one-line message for a report, from whatever went wrong."""
    if failure.check(defer.TimeoutError, defer.CancelledError):
        return f"collector timed out after {timeout:g} s"
    value = failure.value
    text = str(value).strip()
    if isinstance(value, CollectorError | OSError) or text:
        return text or type(value).__name__
    return f"collector failed: {type(value).__name__}"


class ManagedCollector:
    """Runs one collector: timeout, single flight, cache, error reports, sampling loop."""

    def __init__(
        self, collector: Collector, clock: IReactorTime, wall_clock: Callable[[], float]
    ) -> None:
        self.collector = collector
        self.clock = clock
        self.wall_clock = wall_clock
        self.last: CollectedReport | None = None
        self.last_sample_error: str | None = None
        self.failed_samples = 0
        self._waiters: list[Deferred[CollectedReport]] = []
        self._running = False
        self._loop: LoopingCall | None = None
        self._sampling: Deferred[None] | None = None
        self._availability: tuple[float, bool] | None = None
        self._samples_taken = 0
        self._samples_reported = -1
        self.sampling_wanted: Callable[[], bool] = lambda: True
        self.cluster_interval: Callable[[], float | None] = lambda: None

    @property
    def name(self) -> str:
        return self.collector.name

    @property
    def settings(self) -> CollectorSettings:
        return self.collector.settings

    def report(self) -> Deferred[CollectedReport]:
        """The collector's current report; never fails, at worst it is an error report."""
        if self._fresh():
            assert self.last is not None
            return succeed(self.last)
        waiter: Deferred[CollectedReport] = Deferred()
        self._waiters.append(waiter)
        if not self._running:
            self._run()
        return waiter

    def _fresh(self) -> bool:
        if self.last is None or self._running:
            return False
        if self.collector.stateful:
            return self._samples_reported == self._samples_taken
        age = self.clock.seconds() - self.last.finished_at
        return 0 <= age < self.settings.cache  # a negative age: the clock went back

    def _run(self) -> None:
        self._running = True
        self._samples_reported = self._samples_taken
        started = self.clock.seconds()
        timeout = self.settings.timeout
        attempt: Deferred[Observation] = as_deferred(self._collect)
        attempt.addTimeout(timeout, self.clock)
        attempt.addCallbacks(
            lambda observed: self._finish(observed, True, started),
            lambda failure: self._finish(self._failed(failure, timeout), False, started),
        )

    def _collect(self) -> Deferred[Observation] | Observation:
        """The collector's data, unless its sampling has been failing for a while."""
        if self.failed_samples >= FAILED_SAMPLES_BEFORE_ERROR and self.last_sample_error:
            raise CollectorError(
                f"{self.last_sample_error} (last {self.failed_samples} samples failed)"
            )
        return self.collector.observe()

    def _failed(self, failure: Failure, timeout: float) -> Observation:
        message = describe_failure(failure, timeout)
        if not failure.check(*EXPECTED_FAILURES):
            log.failure("collector {name} raised", failure, name=self.name)
        else:
            log.warn("collector {name} failed: {message}", name=self.name, message=message)
        return Observation(self.collector.error_data(message))

    def _finish(self, observed: Observation, success: bool, started: float) -> None:
        collector = self.collector
        finished = self.clock.seconds()
        stamp = timestamp_ns(self.wall_clock)
        report = Report(
            collector.name,
            collector.category,
            collector.kind,
            observed.data,
            stamp,
            collector.version,
            collector.format_version,
        )
        samples = observed.samples
        try:
            encoded = encode_json(report.to_json_object())
        except (TypeError, ValueError) as exc:
            log.error("collector {name} produced unencodable data: {exc}", name=self.name, exc=exc)
            report = Report(
                collector.name,
                collector.category,
                collector.kind,
                collector.error_data(f"collector produced invalid data: {exc}"),
                report.timestamp,
                report.version,
                report.format_version,
            )
            encoded = encode_json(report.to_json_object())
            success, samples = False, None
        self.last = CollectedReport(report, encoded, finished - started, success, finished, samples)
        self._running = False
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(self.last)

    def interval(self) -> float:
        """Seconds between two samples now (see :func:`sampling_interval`)."""
        return sampling_interval(self.settings, self.cluster_interval())

    def start(self) -> None:
        """Begin sampling a stateful collector every :meth:`interval` seconds."""
        if not isinstance(self.collector, StatefulCollector) or self._loop is not None:
            return
        self._start_loop(now=True)

    def _start_loop(self, now: bool) -> None:
        """Sample every :meth:`interval`; one log line unless it is the plain default."""
        interval = self.interval()
        origin = self._interval_origin()
        if origin != "default" or not now:
            log.info(
                "sampling {name} every {interval:g} s ({origin})",
                name=self.name,
                interval=interval,
                origin=origin,
            )
        self._loop = LoopingCall(self._sample_once)
        self._loop.clock = self.clock
        self._loop.start(interval, now=now)

    def _interval_origin(self) -> str:
        if self.settings.interval_set:
            return "configuration file"
        return "default" if self.cluster_interval() is None else "cluster"

    def follow_interval(self) -> None:
        """Restart the sampling loop if the interval changed (the cluster's was modified).

        The next sample then comes one new interval later; samples already taken stay.
        """
        loop = self._loop
        if loop is None or not loop.running or loop.interval == self.interval():
            return
        loop.stop()
        self._start_loop(now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._sampling is not None:
            self._sampling.cancel()

    def available(self) -> bool:
        """The collector's source exists here; a raising check counts as absent.

        The answer is reused for :data:`AVAILABILITY_TTL` seconds: the checks are file
        system probes, and on every ``/1/report/all`` they cost more than the serving.
        """
        now = self.clock.seconds()
        if self._availability is not None:
            checked_at, answer = self._availability
            if 0 <= now - checked_at < AVAILABILITY_TTL:
                return answer
        try:
            answer = bool(self.collector.available())
        except Exception:
            log.failure("availability check of {name} raised", name=self.name)
            answer = False
        self._availability = (now, answer)
        return answer

    def _sample_once(self) -> Deferred[None]:
        """One sample, bounded by the timeout; errors are logged, never propagated.

        An errback would stop the LoopingCall for good, so this Deferred always succeeds.
        """
        assert isinstance(self.collector, StatefulCollector)
        if self._sampling is not None:  # the loop was restarted while a sample ran
            return succeed(None)
        if self.settings.enabled is Enablement.AUTO and not self.available():
            return succeed(None)
        if not self.sampling_wanted():  # inactive in the cluster: samples kept, as in mond
            return succeed(None)
        timeout = self.settings.timeout
        attempt: Deferred[None] = as_deferred(self.collector.sample)
        attempt.addTimeout(timeout, self.clock)
        self._sampling = attempt

        def sampled(_: None) -> None:
            self.last_sample_error = None
            self.failed_samples = 0

        def failed(failure: Failure) -> None:
            self.last_sample_error = describe_failure(failure, timeout)
            self.failed_samples += 1
            log.warn(
                "sampling {name} failed: {message}", name=self.name, message=self.last_sample_error
            )

        def done(_: None) -> None:
            self._sampling = None
            self._samples_taken += 1

        attempt.addCallbacks(sampled, failed)
        attempt.addBoth(done)
        return attempt


ActivationSource = Callable[[], Mapping[str, bool] | None]
IntervalSource = Callable[[], Mapping[str, float] | None]


class CollectorSet:
    """The collectors of this agent, in registry order, and which of them are served."""

    def __init__(
        self,
        collectors: Iterable[Collector],
        clock: IReactorTime,
        wall_clock: Callable[[], float],
        activation: ActivationSource | None = None,
        intervals: IntervalSource | None = None,
    ) -> None:
        self.managed = [ManagedCollector(c, clock, wall_clock) for c in collectors]
        self._by_name = {m.name: m for m in self.managed}
        self.activation = activation
        self.intervals = intervals
        self.clock = clock
        self.wall_clock = wall_clock
        self._interval_check: LoopingCall | None = None
        self._started = False

    def add(self, collector: Collector) -> None:
        """Serve one more collector (a plugin that appeared); sampled if the set runs."""
        if collector.name in self._by_name:
            raise ValueError(f"collector name {collector.name!r} is taken")
        managed = ManagedCollector(collector, self.clock, self.wall_clock)
        self.managed = [*self.managed, managed]
        self._by_name[managed.name] = managed
        if self._started:
            self._start_one(managed)

    def remove(self, name: str) -> None:
        """Stop serving and sampling a collector (a plugin that was removed)."""
        managed = self._by_name.pop(name, None)
        if managed is not None:
            self.managed = [m for m in self.managed if m is not managed]
            managed.stop()

    def active(self) -> list[ManagedCollector]:
        """Collectors to list and report: enabled, present on this node, active in the cluster.

        As in mond, a collector the cluster configuration does not mention is active.
        """
        cluster_activation = self.activation() if self.activation is not None else None
        return [m for m in self.managed if self._serves(m, cluster_activation)]

    @staticmethod
    def _serves(managed: ManagedCollector, cluster: Mapping[str, bool] | None) -> bool:
        enabled = managed.settings.enabled
        if enabled is Enablement.NO:
            return False
        if cluster is not None and not cluster.get(managed.name, True):
            return False
        if enabled is Enablement.YES:
            return True
        return managed.available()

    def find(self, category: Category | None, name: str) -> ManagedCollector | None:
        """An active collector by category and name (both must match, as in mond).

        Only the named collector's availability is checked: checking every collector's
        (file system probes) on each single-report request cost more than the request.
        """
        managed = self._by_name.get(name)
        if managed is None or managed.collector.category != category:
            return None
        cluster_activation = self.activation() if self.activation is not None else None
        return managed if self._serves(managed, cluster_activation) else None

    def get(self, name: str) -> ManagedCollector | None:
        return self._by_name.get(name)

    def start(self) -> None:
        """Start sampling; a collector inactive in the cluster skips its samples meanwhile.

        Every :data:`INTERVAL_CHECK` seconds the loops follow the cluster's intervals.
        """
        self._started = True
        for managed in self.managed:
            self._start_one(managed)
        if self.intervals is not None and self._interval_check is None:
            self._interval_check = LoopingCall(self.follow_intervals)
            self._interval_check.clock = self.clock
            self._interval_check.start(INTERVAL_CHECK, now=False)

    def _start_one(self, managed: ManagedCollector) -> None:
        if managed.settings.enabled is not Enablement.NO:
            managed.sampling_wanted = functools.partial(self._cluster_active, managed.name)
            managed.cluster_interval = functools.partial(self._cluster_interval, managed.name)
            managed.start()

    def follow_intervals(self) -> None:
        for managed in self.managed:
            managed.follow_interval()

    def _cluster_interval(self, name: str) -> float | None:
        intervals = self.intervals() if self.intervals is not None else None
        return intervals.get(name) if intervals is not None else None

    def _cluster_active(self, name: str) -> bool:
        cluster_activation = self.activation() if self.activation is not None else None
        return cluster_activation is None or cluster_activation.get(name, True)

    def stop(self) -> None:
        self._started = False
        if self._interval_check is not None and self._interval_check.running:
            self._interval_check.stop()
        self._interval_check = None
        for managed in self.managed:
            managed.stop()

    def reports(self, managed: Sequence[ManagedCollector]) -> Deferred[list[CollectedReport]]:
        """Reports of several collectors, gathered concurrently, in the given order."""
        gathered = defer.gatherResults([m.report() for m in managed], consumeErrors=True)
        return gathered
