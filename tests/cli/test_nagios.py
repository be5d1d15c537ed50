"""Ganeti status codes to Nagios plugin states, and the plugin's one line."""

from __future__ import annotations

from typing import Any

import pytest

from ganeti_agent.cli.nagios import PluginState, evaluate, plugin_state, select
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import StatusCode


def status_report(name: str, code: JSON, message: str = "") -> dict[str, JSON]:
    return {"name": name, "kind": 1, "data": {"status": {"code": code, "message": message}}}


@pytest.mark.parametrize(
    ("code", "warn", "state"),
    [
        (StatusCode.OK, False, PluginState.OK),
        (StatusCode.OK, True, PluginState.OK),
        (StatusCode.TEMPORARILY_BAD, False, PluginState.OK),
        (StatusCode.TEMPORARILY_BAD, True, PluginState.WARNING),
        (StatusCode.UNKNOWN, False, PluginState.UNKNOWN),
        (StatusCode.BAD, False, PluginState.CRITICAL),
    ],
)
def test_status_codes_map_to_plugin_states(
    code: StatusCode, warn: bool, state: PluginState
) -> None:
    assert plugin_state(code, warn) is state
    assert evaluate([status_report("drbd", int(code), "x")], warn).state is state


def test_the_worst_code_wins_in_ganeti_order() -> None:
    reports = [
        status_report("a", 2, "unsure"),
        status_report("b", 4, "broken"),
        status_report("c", 1),
    ]
    verdict = evaluate(reports)
    assert verdict.state is PluginState.CRITICAL
    assert verdict.line() == (
        "GANETI CRITICAL - b: broken; a: unsure; c: status 1 | a=2;;;0;4 b=4;;;0;4 c=1;;;0;4"
    )


def test_all_ok_is_one_short_line() -> None:
    reports: list[Any] = [status_report("drbd", 0), {"name": "lv", "kind": 0, "data": []}]
    assert evaluate(reports).line() == "GANETI OK - 2 collectors OK | drbd=0;;;0;4 lv=0;;;0;4"


def test_combined_messages_and_pipes_stay_on_one_line() -> None:
    verdict = evaluate([status_report("drbd", 4, "\n8: a | b\n4: c")])
    assert verdict.line() == "GANETI CRITICAL - drbd: 8: a / b, 4: c | drbd=4;;;0;4"


def test_failed_performance_collectors_and_odd_reports_are_unknown() -> None:
    reports: list[JSON] = [
        {"name": "lv", "kind": 0, "data": {"error": "lvs: not found"}},
        {"name": "x", "kind": 1, "data": {"status": {"code": 3, "message": ""}}},
        "not a report",
    ]
    verdict = evaluate(reports)
    assert verdict.state is PluginState.UNKNOWN
    assert "lv: lvs: not found" in verdict.text
    assert "x: invalid status code 3" in verdict.text
    assert "?: report is not a JSON object" in verdict.text


def test_no_reports_is_unknown() -> None:
    assert evaluate([]).state is PluginState.UNKNOWN


def test_selecting_collectors() -> None:
    reports: list[JSON] = [status_report("a", 0), status_report("b", 4)]
    assert select(reports, []) == reports
    assert select(reports, ["b"]) == [reports[1]]
    assert select(reports, ["b", "zz"]) == "no report from zz"
