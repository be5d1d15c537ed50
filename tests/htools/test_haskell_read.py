"""Numbers as Haskell's ``reads`` and Ganeti's ``parseUnit`` read them."""

from __future__ import annotations

import math

import pytest

from ganeti_agent.htools.haskell_read import (
    ReadError,
    haskell_show_string,
    parse_unit,
    reads_number,
    try_read_double,
    try_read_int,
)


@pytest.mark.parametrize(
    ("text", "value", "rest"),
    [
        ("5", 5, ""),
        ("  5", 5, ""),
        ("5 ", 5, " "),
        ("(5)", 5, ""),
        ("( ( 5 ) )x", 5, "x"),
        ("- 5", -5, ""),
        ("(-5)", -5, ""),
        ("0x1F", 31, ""),
        ("0o17", 15, ""),
        ("0x", 0, "x"),
        ("5.", 5, "."),
        ("1e", 1, "e"),
        ("9223372036854775808", -9223372036854775808, ""),
    ],
)
def test_int_reads(text: str, value: int, rest: str) -> None:
    assert reads_number(text, "int") == (value, rest)


@pytest.mark.parametrize("text", ["", "x", "1e3", "1.5", "+5", "--5", "-(5)", "(5", ".5"])
def test_int_refused(text: str) -> None:
    assert reads_number(text, "int") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("2.5e1", 25.0), ("0x10", 16.0), ("Infinity", math.inf), ("-Infinity", -math.inf),
     ("1e400", math.inf), ("1e-400", 0.0), ("7", 7.0)],
)  # fmt: skip
def test_double_reads(text: str, value: float) -> None:
    assert try_read_double("d", text) == value


def test_nan_is_a_double() -> None:
    assert math.isnan(try_read_double("d", "NaN"))


def test_try_read_messages() -> None:
    with pytest.raises(ReadError, match=r"^n: cannot parse string 'x'$"):
        try_read_int("n", "x")
    with pytest.raises(ReadError, match=r"^n: leftover characters when parsing '5x': 'x'$"):
        try_read_int("n", "5x")


@pytest.mark.parametrize(
    ("text", "mib"),
    [("10", 10), ("1g", 1024), ("1 GiB", 1024), ("8T", 7629394), ("1G", 953), ("64g", 65536),
     ("1tb", 953674), ("2M", 1), ("-3g", -3072)],
)  # fmt: skip
def test_parse_unit(text: str, mib: int) -> None:
    assert parse_unit(text) == mib


def test_parse_unit_messages() -> None:
    with pytest.raises(ReadError, match=r"^Unknown unit 'x'$"):
        parse_unit("1x")
    with pytest.raises(ReadError, match=r"^Unknown unit '\tG'$"):
        parse_unit("1\tG")
    with pytest.raises(ReadError, match=r"^Can't parse string 'g'$"):
        parse_unit("g")


@pytest.mark.parametrize(
    ("text", "shown"),
    [("drbd", '"drbd"'), ('a"b\\', '"a\\"b\\\\"'), ("é1", '"\\233\\&1"'), ("\x0eH", '"\\SO\\&H"'),
     ("a\nb\x7f", '"a\\nb\\DEL"'), ("\x01", '"\\SOH"')],
)  # fmt: skip
def test_show_string(text: str, shown: str) -> None:
    assert haskell_show_string(text) == shown
