from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganeti_agent.parsers.diskstats import parse_diskstats
from ganeti_agent.parsers.errors import ParseError
from tests.support import shared_fixture

LINE_14 = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
LINE_18 = "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"
LINE_20 = "   8       2 sda2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"


def test_ganeti_fixture_parses_with_every_field() -> None:
    stats = parse_diskstats(shared_fixture("proc_diskstats.txt").read_text())
    assert len(stats) > 10
    first = stats[0].to_json()
    assert list(first) == [
        "major", "minor", "name", "readsNum", "mergedReads", "secRead", "timeRead", "writes",
        "mergedWrites", "secWritten", "timeWrite", "ios", "timeIO", "wIOmillis",
    ]  # fmt: skip


def test_modern_kernel_lines_are_accepted_with_extra_counters() -> None:
    stats = parse_diskstats(LINE_14 + LINE_18 + LINE_20)
    assert stats[0].to_json()["wIOmillis"] == 11
    assert stats[1].to_json()["timeDiscard"] == 15
    assert "flushesNum" not in stats[1].to_json()
    assert stats[2].to_json()["timeFlush"] == 17


def test_empty_input_and_crlf_and_tabs() -> None:
    assert parse_diskstats("") == []
    assert parse_diskstats("\t8\t0\tsda\t1 2 3 4 5 6 7 8 9 10 11\r\n")[0].name == "sda"


@pytest.mark.parametrize(
    "text",
    [
        LINE_14.replace("\n", " \n"),
        "\n" + LINE_14,
        LINE_14.rstrip("\n"),
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10\n",
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10 -11\n",
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12\n",
    ],
)
def test_rejections_of_the_real_parser_are_kept(text: str) -> None:
    with pytest.raises(ParseError):
        parse_diskstats(text)


def test_numbers_wrap_like_haskell_int() -> None:
    line = "8 0 sda 18446744073709551615 9223372036854775808 3 4 5 6 7 8 9 10 11\n"
    data = parse_diskstats(line)[0].to_json()
    assert data["readsNum"] == -1
    assert data["mergedReads"] == -9223372036854775808


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_diskstats(text)
