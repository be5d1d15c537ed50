"""The collector wrapper: timeouts, single flight, caching, error reports, sampling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ganeti_agent.core.executor import CommandNotFound
from ganeti_agent.core.framework import (
    AVAILABILITY_TTL,
    INTERVAL_CHECK,
    MIN_CLUSTER_INTERVAL,
    AgentContext,
    CollectedReport,
    Collector,
    CollectorError,
    CollectorSet,
    CollectorSettings,
    Enablement,
    ManagedCollector,
    StatefulCollector,
    TypedCollector,
    Window,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import FamilyRegistry, Sample
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.report import Category, Kind
from tests.support import FakeRunner

COUNTED = FamilyRegistry().declare("counted", "gauge", "What Counted counted.")


def context(clock: Clock, **settings: CollectorSettings) -> AgentContext:
    return AgentContext(
        clock=clock,
        runner=FakeRunner(),
        paths=GanetiPaths(),
        hostname="node1",
        settings=lambda name: settings.get(name, CollectorSettings()),
    )


class Scripted(Collector):
    """A collector whose runs the test completes by hand."""

    name = "scripted"
    category = Category.STORAGE
    kind = Kind.STATUS

    def __init__(self, ctx: AgentContext, present: bool = True) -> None:
        super().__init__(ctx)
        self.runs: list[Deferred[JSON]] = []
        self.present = present

    def available(self) -> bool:
        return self.present

    def collect(self) -> Deferred[JSON]:
        self.runs.append(Deferred())
        return self.runs[-1]


class Failing(Collector):
    name = "failing"
    kind = Kind.PERFORMANCE

    def collect(self) -> JSON:
        raise CommandNotFound(["lvs"], "command not found or not executable")


class Buggy(Collector):
    name = "buggy"
    kind = Kind.STATUS

    def collect(self) -> JSON:
        empty: dict[str, JSON] = {}
        return empty["missing"]


def results(deferred: Deferred[CollectedReport], case: SynchronousTestCase) -> CollectedReport:
    return case.successResultOf(deferred)


class ManagedCollectorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.collector = Scripted(context(self.clock, scripted=CollectorSettings(timeout=5)))
        self.managed = ManagedCollector(self.collector, self.clock, lambda: 1795460473.5)

    def test_concurrent_requests_share_one_run(self) -> None:
        first, second = self.managed.report(), self.managed.report()
        self.assertEqual(len(self.collector.runs), 1)
        self.collector.runs[0].callback({"status": {"code": 0, "message": ""}})
        self.assertIs(results(first, self), results(second, self))

    def test_report_is_cached_briefly_then_collected_again(self) -> None:
        self.managed.report()
        self.collector.runs[0].callback({"status": {"code": 0, "message": ""}})
        self.clock.advance(0.5)
        results(self.managed.report(), self)
        self.assertEqual(len(self.collector.runs), 1)
        self.clock.advance(1)
        self.managed.report()
        self.assertEqual(len(self.collector.runs), 2)

    def test_timeout_gives_status_unknown_with_message(self) -> None:
        waiting = self.managed.report()
        self.assertNoResult(waiting)
        self.clock.advance(5)
        collected = results(waiting, self)
        self.assertEqual(
            collected.report.data,
            {"status": {"code": 2, "message": "collector timed out after 5 s"}},
        )
        self.assertFalse(collected.success)
        envelope = json.loads(collected.encoded)
        self.assertEqual(envelope["name"], "scripted")
        self.assertEqual(envelope["timestamp"], 1795460473500000000)

    def test_collector_error_message_is_reported(self) -> None:
        waiting = self.managed.report()
        self.collector.runs[0].errback(CollectorError("/proc/drbd: cannot parse"))
        self.assertEqual(
            cast(Any, results(waiting, self).report.data)["status"]["message"],
            "/proc/drbd: cannot parse",
        )

    def test_performance_collector_error_form(self) -> None:
        managed = ManagedCollector(Failing(context(self.clock)), self.clock, lambda: 0.0)
        data = results(managed.report(), self).report.data
        self.assertEqual(data, {"error": "lvs: command not found or not executable"})

    def test_programming_error_is_contained_and_logged(self) -> None:
        managed = ManagedCollector(Buggy(context(self.clock)), self.clock, lambda: 0.0)
        data: Any = results(managed.report(), self).report.data
        self.assertEqual(data["status"]["code"], 2)
        self.assertIn("missing", data["status"]["message"])
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)

    def test_unencodable_data_becomes_an_error_report(self) -> None:
        waiting = self.managed.report()
        self.collector.runs[0].callback({"value": float("nan")})
        collected = results(waiting, self)
        self.assertFalse(collected.success)
        self.assertIn("invalid data", cast(Any, collected.report.data)["status"]["message"])


class Counted(TypedCollector[float]):
    """A typed collector whose result the test sets; NaN cannot be encoded."""

    name = "counted"
    kind = Kind.PERFORMANCE

    def __init__(self, ctx: AgentContext) -> None:
        super().__init__(ctx)
        self.value = 3.0
        self.failure: Exception | None = None

    def result(self) -> float:
        if self.failure is not None:
            raise self.failure
        return self.value

    def to_data(self, result: float) -> JSON:
        return {"count": result}

    def samples(self, result: float) -> Iterator[Sample]:
        yield Sample(COUNTED, (), result)


class TypedCollectorTests(SynchronousTestCase):
    """A typed collector's samples come from its result and travel beside its report."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.collector = Counted(context(self.clock))
        self.managed = ManagedCollector(self.collector, self.clock, lambda: 0.0)

    def collected(self) -> CollectedReport:
        self.clock.advance(60)  # past the cache
        return results(self.managed.report(), self)

    def test_the_samples_of_the_result_are_kept_beside_its_report(self) -> None:
        collected = self.collected()
        self.assertEqual(collected.report.data, {"count": 3.0})
        self.assertIsNotNone(collected.samples)
        assert collected.samples is not None
        self.collector.value = 5.0  # a later result does not change this report's samples
        self.assertEqual([s.value for s in collected.samples()], [3.0])
        self.assertEqual(self.collector.collect(), {"count": 5.0})

    def test_a_failed_run_has_no_samples(self) -> None:
        self.collector.failure = CollectorError("no source")
        collected = self.collected()
        self.assertEqual(collected.report.data, {"error": "no source"})
        self.assertIsNone(collected.samples)

    def test_unencodable_data_drops_the_samples_with_the_data(self) -> None:
        self.collector.value = float("nan")
        collected = self.collected()
        self.assertFalse(collected.success)
        self.assertIsNone(collected.samples)
        self.assertEqual(len(self.flushLoggedErrors()), 0)


class Sampling(StatefulCollector):
    name = "sampling"
    kind = Kind.PERFORMANCE

    def __init__(self, ctx: AgentContext) -> None:
        super().__init__(ctx)
        self.samples = 0
        self.fail_next = False
        self.hang_next = False

    def sample(self) -> Deferred[None] | None:
        if self.hang_next:
            self.hang_next = False
            return Deferred()
        if self.fail_next:
            self.fail_next = False
            raise CollectorError("broken source")
        self.samples += 1
        return None

    def collect(self) -> JSON:
        return {"samples": self.samples}


class StatefulTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        settings = CollectorSettings(interval=5, timeout=2)
        self.collector = Sampling(context(self.clock, sampling=settings))
        self.managed = ManagedCollector(self.collector, self.clock, lambda: 0.0)

    def test_samples_on_interval_and_survives_failures_and_hangs(self) -> None:
        self.managed.start()
        self.assertEqual(self.collector.samples, 1)
        self.collector.fail_next = True
        self.clock.advance(5)
        self.assertEqual(self.managed.last_sample_error, "broken source")
        self.collector.hang_next = True
        self.clock.advance(5)
        self.clock.advance(2)
        self.assertEqual(self.managed.last_sample_error, "collector timed out after 2 s")
        self.clock.advance(3)
        self.assertEqual(self.collector.samples, 2)
        self.assertIsNone(self.managed.last_sample_error)
        self.managed.stop()

    def test_report_is_rebuilt_only_after_a_new_sample(self) -> None:
        self.managed.start()
        first = results(self.managed.report(), self)
        self.assertIs(results(self.managed.report(), self), first)
        self.clock.advance(5)
        self.assertEqual(results(self.managed.report(), self).report.data, {"samples": 2})
        self.managed.stop()


class WindowTests(SynchronousTestCase):
    def test_window_drops_old_samples_and_is_bounded(self) -> None:
        window: Window[int] = Window(span=10, capacity=3)
        for when in range(0, 30, 5):
            window.add(when, when)
        self.assertEqual(window.items(), [(15, 15), (20, 20), (25, 25)])
        window.add(100, 100)
        self.assertEqual(window.items(), [(100, 100)])


class CollectorSetTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()

    def test_listing_follows_enablement_availability_and_cluster(self) -> None:
        absent = Scripted(context(self.clock), present=False)
        forced = Failing(context(self.clock, failing=CollectorSettings(enabled=Enablement.YES)))
        buggy = Buggy(context(self.clock, buggy=CollectorSettings(enabled=Enablement.NO)))
        activation: dict[str, bool] = {}
        collectors = CollectorSet(
            [absent, forced, buggy], self.clock, lambda: 0.0, lambda: activation
        )
        self.assertEqual([m.name for m in collectors.active()], ["failing"])
        absent.present = True
        self.assertEqual([m.name for m in collectors.active()], ["failing"])
        self.clock.advance(AVAILABILITY_TTL)
        self.assertEqual([m.name for m in collectors.active()], ["scripted", "failing"])
        activation["scripted"] = False
        self.assertEqual([m.name for m in collectors.active()], ["failing"])

    def test_inactive_stateful_collector_is_not_sampled_and_keeps_its_samples(self) -> None:
        """As mond 3.0.2's collection loop, which samples only active collectors."""
        sampling = Sampling(context(self.clock, sampling=CollectorSettings(interval=5)))
        activation = {"sampling": True}
        collectors = CollectorSet([sampling], self.clock, lambda: 0.0, lambda: activation)
        collectors.start()
        self.assertEqual(sampling.samples, 1)
        activation["sampling"] = False
        self.clock.advance(5)
        self.clock.advance(5)
        self.assertEqual(sampling.samples, 1)
        activation["sampling"] = True
        self.clock.advance(5)
        self.assertEqual(sampling.samples, 2)
        collectors.stop()

    def test_sampling_follows_the_clusters_interval_unless_the_file_sets_one(self) -> None:
        """``gnt-cluster modify --data-collector-interval`` reaches the sampling loop."""
        sampling = Sampling(context(self.clock))
        intervals = {"sampling": 60.0}
        collectors = CollectorSet([sampling], self.clock, lambda: 0.0, intervals=lambda: intervals)
        collectors.start()
        self.assertEqual(sampling.samples, 1)
        self.clock.advance(30)
        self.assertEqual(sampling.samples, 1)
        self.clock.advance(30)
        self.assertEqual(sampling.samples, 2)
        intervals["sampling"] = 10.0
        self.clock.advance(INTERVAL_CHECK)
        self.assertEqual(sampling.samples, 2)
        self.clock.advance(10)
        self.assertEqual(sampling.samples, 3)
        intervals["sampling"] = 0.001
        self.clock.advance(INTERVAL_CHECK)
        self.assertEqual(collectors.managed[0].interval(), MIN_CLUSTER_INTERVAL)
        collectors.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_the_files_interval_beats_the_clusters(self) -> None:
        sampling = Sampling(
            context(self.clock, sampling=CollectorSettings(interval=7, interval_set=True))
        )
        collectors = CollectorSet(
            [sampling], self.clock, lambda: 0.0, intervals=lambda: {"sampling": 60.0}
        )
        collectors.start()
        self.clock.advance(7)
        self.assertEqual(sampling.samples, 2)
        collectors.stop()

    def test_find_needs_matching_category(self) -> None:
        collectors = CollectorSet([Scripted(context(self.clock))], self.clock, lambda: 0.0)
        self.assertIsNotNone(collectors.find(Category.STORAGE, "scripted"))
        self.assertIsNone(collectors.find(None, "scripted"))
        self.assertIsNone(collectors.find(Category.STORAGE, "other"))
