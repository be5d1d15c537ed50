"""Numbers as Haskell's ``reads`` and Ganeti's ``parseUnit`` read them."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganeti_agent.htools.haskell_read import (
    ReadError,
    haskell_show_string,
    parse_unit,
    reads_number,
    try_read,
    try_read_double,
    try_read_int,
    try_read_lexed,
    wrap_int,
)

if TYPE_CHECKING:
    from ganeti_agent.htools.haskell_read import NumberKind


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


# The fast path for plain numbers must give what the lexer gives, value and
# error alike; texts are drawn from the characters that matter to either.
_NUMBER_TEXT = st.one_of(
    st.text(alphabet="0123456789-+.eExXoO() \tNaIfinty", max_size=24),
    st.from_regex(r"\A-?[0-9]{1,25}(\.[0-9]{1,25})?([eE][-+]?[0-9]{1,4})?\Z"),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False).map(repr),
)


def _outcome(read: Callable[[], int | float]) -> tuple[str, object]:
    try:
        value = read()
    except ReadError as error:
        return "error", str(error)
    return "value", (type(value), value if value == value else "nan", math.copysign(1, value))


@given(text=_NUMBER_TEXT, kind=st.sampled_from(["int", "double"]))
@settings(max_examples=1500, deadline=None)
def test_fast_path_reads_what_the_lexer_reads(text: str, kind: NumberKind) -> None:
    fast = _outcome(lambda: try_read("n", text, kind))
    lexed = _outcome(lambda: try_read_lexed("n", text, kind))
    assert fast == lexed


@given(
    digits=st.from_regex(r"\A[0-9]{1,40}\Z"),
    fraction=st.from_regex(r"\A[0-9]{0,40}\Z"),
    exponent=st.integers(min_value=-420, max_value=420),
)
@settings(max_examples=1000, deadline=None)
def test_decimal_double_is_the_exact_value_rounded(
    digits: str, fraction: str, exponent: int
) -> None:
    """``fromRational`` of the literal's exact value, computed with fractions here."""
    literal = digits + (f".{fraction}" if fraction else "") + f"e{exponent}"
    exact = Fraction(int(digits + fraction)) * Fraction(10) ** (exponent - len(fraction))
    try:
        expected = float(exact)
    except OverflowError:
        expected = math.inf
    assert try_read_double("d", literal) == expected


def test_long_digit_strings_wrap_like_an_int() -> None:
    """Beyond Python's 4,300-digit limit for ``int(str)``: wrapped, no ValueError."""
    digits = "12345678901234567890" * 400
    expected = sum(int(d) * pow(10, k, 2**64) for k, d in enumerate(reversed(digits)))
    assert try_read_int("n", digits) == wrap_int(expected % 2**64)
    assert try_read_double("d", digits) == math.inf


def test_zero_with_a_huge_exponent_is_read_at_once() -> None:
    """``0e99999999999`` once computed 10 to that power (minutes, or memory exhausted)."""
    assert try_read_double("d", " 0e99999999999") == 0.0
    assert try_read_double("d", "-1e-99999999999") == -0.0
