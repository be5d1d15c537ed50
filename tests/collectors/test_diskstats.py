from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ganeti_agent.collectors.diskstats import DiskstatsCollector
from ganeti_agent.core.framework import AgentContext, CollectorSettings, ManagedCollector
from ganeti_agent.core.paths import GanetiPaths
from tests.support import FakeRunner


def collector(path: str) -> DiskstatsCollector:
    settings = CollectorSettings(options={"file": path})
    context = AgentContext(Clock(), FakeRunner(), GanetiPaths(), "node1", lambda _: settings)
    return DiskstatsCollector(context)


class DiskstatsCollectorTests(SynchronousTestCase):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def test_reads_the_configured_file(self) -> None:
        path = self.tmp_path / "input"
        path.write_text("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n")
        data: Any = collector(str(path)).collect()
        self.assertEqual(data[0]["name"], "sda")

    def test_missing_file_is_not_available_and_reports_error(self) -> None:
        missing = collector("/nonexistent/diskstats")
        self.assertFalse(missing.available())
        managed = ManagedCollector(missing, Clock(), lambda: 0.0)
        data = self.successResultOf(managed.report()).report.data
        self.assertEqual(
            data,
            {
                "error": "/nonexistent/diskstats: openFile: does not exist "
                "(No such file or directory)"
            },
        )

    def test_unparsable_file_reports_error(self) -> None:
        path = self.tmp_path / "input"
        path.write_text("garbage\n")
        managed = ManagedCollector(collector(str(path)), Clock(), lambda: 0.0)
        data: Any = self.successResultOf(managed.report()).report.data
        self.assertIn("cannot parse", data["error"])


@pytest.mark.skipif(not Path("/proc/diskstats").exists(), reason="no /proc/diskstats here")
def test_this_machines_proc_diskstats() -> None:
    real = collector("/proc/diskstats")
    assert real.available()
    data: Any = real.collect()
    assert isinstance(data, list)
    assert all(isinstance(disk["name"], str) for disk in data)
