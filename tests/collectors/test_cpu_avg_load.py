from __future__ import annotations

import tempfile
from pathlib import Path

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ganeti_agent.collectors.cpu_avg_load import CpuAvgLoadCollector
from ganeti_agent.core.framework import AgentContext, CollectorSettings, ManagedCollector
from ganeti_agent.core.paths import GanetiPaths
from tests.support import FakeRunner


def stat_text(busy: int, per_cpu: tuple[int, int]) -> str:
    lines = [f"cpu  {busy} 0 0 100000 0 0 0 0 0 0"]
    lines += [f"cpu{i} {b} 0 0 50000 0 0 0 0 0 0" for i, b in enumerate(per_cpu)]
    return "\n".join([*lines, "intr 1"]) + "\n"


class CpuAvgLoadTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.stat = Path(tempfile.mkdtemp()) / "input"
        self.stat.write_text(stat_text(0, (0, 0)))
        settings = CollectorSettings(
            interval=5, options={"stat-file": str(self.stat), "window": "60"}
        )
        context = AgentContext(self.clock, FakeRunner(), GanetiPaths(), "n", lambda _: settings)
        self.collector = CpuAvgLoadCollector(context)
        self.collector.ticks_per_second = 100
        self.managed = ManagedCollector(self.collector, self.clock, lambda: 0.0)

    def data(self) -> object:
        return self.successResultOf(self.managed.report()).report.data

    def test_error_objects_before_enough_samples(self) -> None:
        self.assertEqual(self.data(), {"error": "Empty buffer"})
        self.managed.start()
        self.assertEqual(
            self.data(),
            {"error": "Time covered by data is not sufficient.The window considered is 60"},
        )
        self.managed.stop()

    def test_average_over_the_window_not_since_start(self) -> None:
        self.managed.start()
        busy = 0
        for _ in range(12):
            busy += 500
            self.stat.write_text(stat_text(busy, (busy, 0)))
            self.clock.advance(5)
        for _ in range(12):
            self.clock.advance(5)
        self.assertEqual(self.data(), {"cpu_number": 2, "cpus": [0.0, 0.0], "cpu_total": 0.0})
        busy += 100 * 60
        self.stat.write_text(stat_text(busy, (busy, 0)))
        self.clock.advance(5)
        data = self.data()
        assert isinstance(data, dict)
        self.assertAlmostEqual(data["cpu_total"], 6000 / (60 * 100))
        self.managed.stop()

    def test_broken_stat_file_skips_the_sample_only(self) -> None:
        self.managed.start()
        self.stat.write_text("garbage\n")
        self.clock.advance(5)
        self.assertIn("cannot parse", self.managed.last_sample_error or "")
        self.stat.write_text(stat_text(500, (500, 0)))
        self.clock.advance(5)
        self.assertIsNone(self.managed.last_sample_error)
        data = self.data()
        assert isinstance(data, dict)
        self.assertAlmostEqual(data["cpu_total"], 500 / (10 * 100))
        self.managed.stop()
