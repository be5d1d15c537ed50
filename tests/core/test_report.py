from __future__ import annotations

import json

from ganeti_agent.core.report import (
    Category,
    Kind,
    Report,
    StatusCode,
    category_segment,
    combine_messages,
    encode_json,
    parse_category_segment,
    timestamp_ns,
    worst,
)


def test_envelope_member_order_and_values() -> None:
    report = Report("drbd", Category.STORAGE, Kind.STATUS, {"a": 1}, 1795460473116942000)
    encoded = encode_json(report.to_json_object())
    assert encoded == (
        b'{"name":"drbd","version":"B","format_version":1,"timestamp":1795460473116942000,'
        b'"category":"storage","kind":1,"data":{"a":1}}'
    )


def test_null_category_is_json_null_and_default_segment() -> None:
    report = Report("cpu-avg-load", None, Kind.PERFORMANCE, {}, 1000)
    assert json.loads(encode_json(report.to_json_object()))["category"] is None
    assert category_segment(None) == "default"
    assert parse_category_segment("default") == (True, None)
    assert parse_category_segment("storage") == (True, Category.STORAGE)
    assert parse_category_segment("STORAGE") == (False, None)
    assert parse_category_segment("null") == (False, None)


def test_worst_and_combined_messages_follow_ganeti() -> None:
    assert worst([]) is StatusCode.OK
    assert worst([StatusCode.UNKNOWN, StatusCode.BAD, StatusCode.OK]) is StatusCode.BAD
    assert combine_messages(["a", "", "b"]) == "\nb\na"
    assert combine_messages(["", ""]) == ""


def test_timestamp_is_nanoseconds_at_microsecond_resolution() -> None:
    assert timestamp_ns(lambda: 1795460473.1169425) == 1795460473116942000
    assert timestamp_ns() % 1000 == 0


def test_non_ascii_is_written_raw_and_slash_unescaped() -> None:
    assert encode_json({"n": "é/x"}) == '{"n":"é/x"}'.encode()
