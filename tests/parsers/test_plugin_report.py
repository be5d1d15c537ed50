"""Validation of a plugin collector's output, one rejection per envelope rule."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.parsers.plugin_report import PluginReportError, parse_plugin_report


def envelope(**changes: JSON) -> dict[str, JSON]:
    report: dict[str, JSON] = {
        "name": "raid",
        "version": "1.2",
        "format_version": 1,
        "category": "storage",
        "kind": 1,
        "data": {"status": {"code": 0, "message": ""}, "arrays": 2},
    }
    report.update(changes)
    return report


def encode(value: JSON) -> bytes:
    return json.dumps(value).encode()


def test_a_valid_status_report_is_accepted() -> None:
    report = parse_plugin_report(encode(envelope()) + b"\n", "raid")
    assert report.category is Category.STORAGE
    assert report.kind is Kind.STATUS
    assert report.version == "1.2"
    assert report.data == {"status": {"code": 0, "message": ""}, "arrays": 2}


def test_a_performance_report_needs_no_status() -> None:
    report = parse_plugin_report(encode(envelope(kind=0, category=None, data=[1, 2])), "raid")
    assert report.kind is Kind.PERFORMANCE
    assert report.category is None
    assert report.data == [1, 2]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (b"", "no output on stdout"),
        (b"  \n", "no output on stdout"),
        (b"\xff{}", "not UTF-8"),
        (b"OK all fine", "not one JSON object"),
        (encode(envelope()) + encode(envelope()), "not one JSON object"),
        (b'{"data": NaN}', "NaN is not valid JSON"),
        (b"[1]", "output is a JSON list, not a report object"),
        (encode({"name": "raid"}), "report lacks version, format_version, category, kind, data"),
        (encode(envelope(name="other")), 'report name "other" does not match the plugin\'s name'),
        (encode(envelope(version="")), "version must be a non-empty string"),
        (encode(envelope(version=2)), "version must be a non-empty string"),
        (encode(envelope(format_version="1")), "format_version must be a positive integer"),
        (encode(envelope(format_version=True)), "format_version must be a positive integer"),
        (encode(envelope(category="Storage")), "category must be null or one of"),
        (encode(envelope(kind=2)), "kind must be 0 (performance) or 1 (status)"),
        (encode(envelope(kind=True)), "kind must be 0 (performance) or 1 (status)"),
        (encode(envelope(data={})), "needs data.status"),
        (encode(envelope(data={"status": {"code": 3, "message": ""}})), "must be 0, 1, 2 or 4"),
        (encode(envelope(data={"status": {"code": "0", "message": ""}})), "must be 0, 1, 2 or 4"),
        (encode(envelope(data={"status": {"code": 0}})), "message must be a string"),
    ],
)
def test_invalid_output_is_refused_with_the_reason(output: bytes, message: str) -> None:
    with pytest.raises(PluginReportError) as raised:
        parse_plugin_report(output, "raid")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@given(st.binary(max_size=200))
def test_arbitrary_output_is_either_a_report_or_a_clear_refusal(output: bytes) -> None:
    try:
        parse_plugin_report(output, "raid")
    except PluginReportError as exc:
        assert str(exc)
