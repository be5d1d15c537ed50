"""The scrape of the fixture agent is byte for byte the one captured in golden/metrics.prom."""

from __future__ import annotations

from ganeti_agent.server.metrics import exposition
from tests.server.metrics_fixture import fixture_reports, golden_exposition


def test_the_fixture_agents_scrape_is_the_golden_one() -> None:
    assert exposition(fixture_reports()).decode() == golden_exposition().decode()
