"""Numbers read the way Ganeti's Haskell tools read them.

Ganeti parses option values and text-backend fields with Haskell's
``reads`` (through ``tryRead`` and ``parseUnit`` in ``Ganeti.Utils``), so a
value is accepted or refused by the rules of GHC's lexer, not Python's:
leading blanks, parentheses and a separate minus sign (``- 5``) are fine,
``0x10`` is sixteen, ``1e3`` is no ``Int``, ``.5`` and ``5.`` are no
``Double``, ``Infinity`` and ``NaN`` are. ``Int`` is 64 bits and wraps. The
messages are Ganeti's own, because scripts and users see them.

Almost every number in a cluster file is plain (``1024``, ``-1``, ``4.0``),
so ``try_read`` takes those without the lexer; the values are the same
(``tests/htools/test_haskell_read.py`` checks the two paths against each
other).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ganeti_agent.htools.types import DISK_TEMPLATES

TYPE_CHECKING = False  # typing's, without importing typing: start-up time of the tools
if TYPE_CHECKING:
    from fractions import Fraction
    from typing import Literal

    NumberKind = Literal["int", "double"]
    _LexemeKind = Literal["number", "ident", "symbol", "other"]

_INT_BITS = 64
_WHITESPACE = " \t\n\r\f\v\xa0"
_DECIMAL = re.compile(r"([0-9]+)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_BASED = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+)")
_PLAIN_DIGITS = 18
"""At most 18 digits: no 64-bit wrapping to do."""
_PLAIN_INT = re.compile(rf"-?[0-9]{{1,{_PLAIN_DIGITS}}}")
_PLAIN_DOUBLE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
_SYMBOL = re.compile(r"[!#$%&*+./<=>?@\\^|~:-]+")
# Python refuses to turn longer digit strings into an int in one go
# (``sys.get_int_max_str_digits``); longer ones are converted in chunks.
# ``fractions`` is only needed for units; it is imported there.
_DIGITS_PER_CHUNK = 4000


class ReadError(ValueError):
    """A value Ganeti would refuse; the message is Ganeti's text."""


_TOKENS: tuple[tuple[_LexemeKind, re.Pattern[str]], ...] = (
    ("number", _BASED),
    ("number", _DECIMAL),
    ("ident", _IDENTIFIER),
    ("symbol", _SYMBOL),
)


@dataclass(frozen=True)
class _Lexeme:
    """One token as Haskell's ``lex`` reads it, and where it ends."""

    kind: _LexemeKind
    text: str
    end: int


def wrap_int(value: int) -> int:
    """Reduce to a 64-bit signed value, as ``fromInteger :: Integer -> Int`` does."""
    modulus = 1 << _INT_BITS
    value %= modulus
    return value - modulus if value >= modulus >> 1 else value


def _skip_blanks(text: str, pos: int) -> int:
    while pos < len(text) and (text[pos] in _WHITESPACE or text[pos].isspace()):
        pos += 1
    return pos


def _lex(text: str, pos: int) -> _Lexeme:
    pos = _skip_blanks(text, pos)
    for kind, pattern in _TOKENS:
        match = pattern.match(text, pos)
        if match:
            return _Lexeme(kind, match.group(0), match.end())
    end = pos + 1 if pos < len(text) else pos
    return _Lexeme("other", text[pos:end], end)


def _decimal_int(digits: str) -> int:
    """The value of a string of decimal digits, modulo 2^64 when it is very long.

    Only its 64-bit wrapped value is ever used, so a long string (hostile
    input) is folded chunk by chunk and costs linear time.
    """
    if len(digits) <= _DIGITS_PER_CHUNK:
        return int(digits)
    modulus = 1 << _INT_BITS
    value = 0
    for start in range(0, len(digits), _DIGITS_PER_CHUNK):
        chunk = digits[start : start + _DIGITS_PER_CHUNK]
        value = (value * pow(10, len(chunk), modulus) + int(chunk)) % modulus
    return value


def _integral_value(literal: str) -> int:
    if literal[:2] in ("0x", "0X"):
        return int(literal[2:], 16)
    if literal[:2] in ("0o", "0O"):
        return int(literal[2:], 8)
    return _decimal_int(literal)


def _is_integral_literal(literal: str) -> bool:
    if literal[:2] in ("0x", "0X", "0o", "0O"):
        return True
    return literal.isdigit()


def _to_double(literal: str) -> float:
    """The literal's exact value rounded to the nearest double, as ``fromRational`` does.

    Python's ``float`` rounds a decimal string correctly whatever its length
    or exponent (``1e999`` is infinite, ``0e999999999`` is zero, both at
    once); based literals are integers.
    """
    if _is_integral_literal(literal) and not literal.isdigit():
        try:
            return float(_integral_value(literal))
        except OverflowError:
            return math.inf
    return float(literal)


def _convert(lexeme: _Lexeme, kind: NumberKind) -> int | float | None:
    if lexeme.kind == "number":
        if kind == "int":
            if not _is_integral_literal(lexeme.text):
                return None
            return wrap_int(_integral_value(lexeme.text))
        return _to_double(lexeme.text)
    if kind == "double" and lexeme.kind == "ident":
        return {"NaN": math.nan, "Infinity": math.inf}.get(lexeme.text)
    return None


def _read_signed(text: str, pos: int, kind: NumberKind) -> tuple[int | float, int] | None:
    first = _lex(text, pos)
    if first.kind == "symbol" and first.text == "-":
        second = _lex(text, first.end)
        value = _convert(second, kind)
        if value is None:
            return None
        return (wrap_int(-value) if isinstance(value, int) else -value), second.end
    value = _convert(first, kind)
    return None if value is None else (value, first.end)


def _read_parens(text: str, pos: int, kind: NumberKind) -> tuple[int | float, int] | None:
    """A number, optionally inside any number of parentheses (``parens``)."""
    found = _read_signed(text, pos, kind)
    if found is not None:
        return found
    opening = _lex(text, pos)
    if opening.text != "(":
        return None
    inner = _read_parens(text, opening.end, kind)
    if inner is None:
        return None
    closing = _lex(text, inner[1])
    if closing.text != ")":
        return None
    return inner[0], closing.end


def reads_number(text: str, kind: NumberKind) -> tuple[int | float, str] | None:
    """Haskell's ``reads`` for ``Int`` or ``Double``: the value and what is left."""
    found = _read_parens(text, 0, kind)
    if found is None:
        return None
    value, end = found
    return value, text[end:]


def try_read(name: str, text: str, kind: NumberKind) -> int | float:
    """Ganeti's ``tryRead``: the whole text must be one number."""
    return try_read_int(name, text) if kind == "int" else try_read_double(name, text)


def try_read_lexed(name: str, text: str, kind: NumberKind) -> int | float:
    """``tryRead`` through the lexer, for every form Haskell accepts."""
    found = reads_number(text, kind)
    if found is None:
        raise ReadError(f"{name}: cannot parse string '{text}'")
    value, rest = found
    if rest:
        raise ReadError(f"{name}: leftover characters when parsing '{text}': '{rest}'")
    return value


def try_read_int(name: str, text: str) -> int:
    """``tryRead`` at type ``Int``; plain decimal numbers skip the lexer."""
    if len(text) <= _PLAIN_DIGITS and text.isdigit() and text.isascii():
        return int(text)
    if _PLAIN_INT.fullmatch(text):
        return int(text)
    value = try_read_lexed(name, text, "int")
    assert isinstance(value, int)
    return value


def try_read_double(name: str, text: str) -> float:
    """``tryRead`` at type ``Double``; plain decimal numbers skip the lexer."""
    if _PLAIN_DOUBLE.fullmatch(text):
        return float(text)
    return float(try_read_lexed(name, text, "double"))


def _unit_scale(unit: str) -> Fraction:
    from fractions import Fraction

    upper = unit.upper()
    binary_kilo = Fraction(1024)
    decimal_mega = (Fraction(1000) / binary_kilo) ** 2
    scales = (
        (unit == "" or unit == "m" or upper == "MIB", Fraction(1)),
        (unit == "g" or upper == "GIB", binary_kilo),
        (unit == "t" or upper == "TIB", binary_kilo**2),
        (unit == "M" or upper == "MB", decimal_mega),
        (unit == "G" or upper == "GB", decimal_mega * 1000),
        (unit == "T" or upper == "TB", decimal_mega * 1000 * 1000),
    )
    for matches, scale in scales:
        if matches:
            return scale
    raise ReadError(f"Unknown unit '{unit}'")


def parse_unit(text: str) -> int:
    """Ganeti's ``parseUnit``: an ``Int`` and an optional unit, in MiB, truncated.

    ``m``/``g``/``t`` and ``MiB``/``GiB``/``TiB`` are binary; ``M``/``G``/``T`` and
    ``MB``/``GB``/``TB`` are decimal (so ``1G`` is 953 MiB).
    """
    found = reads_number(text, "int")
    if found is None:
        raise ReadError(f"Can't parse string '{text}'")
    value, suffix = found
    scale = _unit_scale(suffix.lstrip(" "))
    return wrap_int(math.trunc(value * scale))


def haskell_show_string(text: str) -> str:
    """Haskell's ``show`` of a ``String``: quoted, with Haskell's escapes."""
    names = {
        0: "NUL", 1: "SOH", 2: "STX", 3: "ETX", 4: "EOT", 5: "ENQ", 6: "ACK", 7: "a",
        8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r", 14: "SO", 15: "SI",
        16: "DLE", 17: "DC1", 18: "DC2", 19: "DC3", 20: "DC4", 21: "NAK", 22: "SYN",
        23: "ETB", 24: "CAN", 25: "EM", 26: "SUB", 27: "ESC", 28: "FS", 29: "GS",
        30: "RS", 31: "US", 127: "DEL",
    }  # fmt: skip
    out: list[str] = []
    pending_numeric = False
    pending_so = False
    for char in text:
        code = ord(char)
        if pending_numeric and char.isdigit() and code < 128:
            out.append("\\&")
        if pending_so and char == "H":
            out.append("\\&")
        pending_numeric = pending_so = False
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif code in names:
            out.append("\\" + names[code])
            pending_so = code == 14
        elif code > 127:
            out.append(f"\\{code}")
            pending_numeric = True
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def parse_disk_template(text: str) -> str:
    """``diskTemplateFromRaw``: one of Ganeti's disk template names."""
    if text in DISK_TEMPLATES:
        return text
    raise ReadError(f"Invalid string value for type DiskTemplate: {haskell_show_string(text)}")
