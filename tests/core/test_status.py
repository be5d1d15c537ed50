"""The one status rule shared by /metrics and the Nagios check."""

from __future__ import annotations

import pytest

from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import Kind, StatusCode
from ganeti_agent.core.status import report_status, status_of


@pytest.mark.parametrize(
    ("code", "expected"),
    [(0, StatusCode.OK), (1, StatusCode.TEMPORARILY_BAD), (2, StatusCode.UNKNOWN),
     (4, StatusCode.BAD), (3, StatusCode.UNKNOWN), (True, StatusCode.UNKNOWN),
     (False, StatusCode.UNKNOWN), (4.0, StatusCode.UNKNOWN), ("4", StatusCode.UNKNOWN),
     (None, StatusCode.UNKNOWN)],
)  # fmt: skip
def test_only_ganetis_integer_codes_are_codes(code: JSON, expected: StatusCode) -> None:
    assert status_of(Kind.STATUS, {"status": {"code": code, "message": ""}})[0] is expected


def test_an_invalid_code_keeps_the_reports_message_or_names_the_code() -> None:
    assert status_of(Kind.STATUS, {"status": {"code": True, "message": "m"}}) == (
        StatusCode.UNKNOWN,
        "m",
    )
    assert status_of(Kind.STATUS, {"status": {"code": True}}) == (
        StatusCode.UNKNOWN,
        "invalid status code True",
    )


def test_performance_reports_are_ok_unless_they_are_an_error_object() -> None:
    assert status_of(Kind.PERFORMANCE, [1, 2]) == (StatusCode.OK, "")
    assert status_of(Kind.PERFORMANCE, {"error": "Empty buffer"}) == (
        StatusCode.UNKNOWN,
        "Empty buffer",
    )


def test_a_status_report_without_status_is_unknown() -> None:
    assert status_of(Kind.STATUS, {"x": 1})[0] is StatusCode.UNKNOWN
    assert report_status([])[0] is StatusCode.UNKNOWN
    assert report_status({"kind": 1, "data": {"status": {"code": 4, "message": ""}}}) == (
        StatusCode.BAD,
        "",
    )
