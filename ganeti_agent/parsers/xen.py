"""Parsers for the Xen toolstack's outputs: ``xl``/``xm list [--long]``, ``uptime``, ``xentop``.

They accept what Ganeti 3.0.2's Haskell parsers accept (``Ganeti.Hypervisor.Xen.XmParser``
and ``Ganeti.DataCollectors.XenCpuLoad``), including their quirks, so that a node gives
the same verdicts under ganeti-agent as under mond. Text in, typed data out, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ganeti_agent.parsers.errors import ParseError

_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WHITESPACE = " \t\n\r\f\v"

STATE_NAMES = {
    "r-----": "running",
    "-b----": "blocked",
    "--p---": "paused",
    "---s--": "shutdown",
    "----c-": "crashed",
    "-----d": "dying",
}
"""Ganeti maps exactly these six ``state`` strings; everything else is ``unknown``."""


@dataclass(frozen=True)
class LispList:
    """A parenthesised list of the ``xm list --long`` syntax."""

    items: tuple[LispList | str | float, ...] = field(default_factory=tuple)

    @property
    def head(self) -> str | None:
        first = self.items[0] if self.items else None
        return first if isinstance(first, str) else None


def haskell_double(value: float) -> str:
    """A Double as Haskell's ``show`` writes it (used in error texts Ganeti prints).

    Shortest round-trip digits; fixed notation from 0.1 up to 10^7, else ``d.ddde<n>``.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0.0"
    exact = Decimal(repr(abs(value))).normalize()
    _, digit_tuple, exponent = exact.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent
    if 0.1 <= abs(value) < 10**7:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        whole, fraction = digits[:point].ljust(point, "0"), digits[point:]
        return f"{sign}{whole}.{fraction or '0'}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}e{point - 1}"


def haskell_string(text: str) -> str:
    """A string literal as Haskell's ``show`` writes it (non-ASCII as decimal escapes)."""
    parts = ['"']
    for index, char in enumerate(text):
        if char in '"\\':
            parts.append("\\" + char)
        elif " " <= char <= "~":
            parts.append(char)
        else:
            parts.append(f"\\{ord(char)}")
            following = text[index + 1 : index + 2]
            if following.isdigit():
                parts.append("\\&")
    parts.append('"')
    return "".join(parts)


def show_lisp(value: LispList | str | float) -> str:
    """Haskell's ``show`` of Ganeti's ``LispConfig``, for messages identical to Ganeti's."""
    if isinstance(value, LispList):
        return "LCList [" + ",".join(show_lisp(item) for item in value.items) + "]"
    if isinstance(value, str):
        return f"LCString {haskell_string(value)}"
    return f"LCDouble {haskell_double(value)}"


class LispSyntaxError(ParseError):
    """Text that is not a sequence of s-expressions at all (Ganeti: ``takeWhile1``)."""


class _Cursor:
    """A position in a text, and the steps Ganeti's attoparsec parsers take over it.

    ``whitespace`` is what :meth:`skip_space` skips (None: anything ``str.isspace``);
    a failure is an ``error`` carrying the text still unread.
    """

    error: type[ParseError] = ParseError
    whitespace: str | None = None

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def fail(self, reason: str) -> ParseError:
        return self.error(reason, self.text[self.position :])

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def _is_space(self, char: str) -> bool:
        return char.isspace() if self.whitespace is None else char in self.whitespace

    def skip_space(self) -> bool:
        """Skip whitespace; whether there was any."""
        before = self.position
        while self.position < len(self.text) and self._is_space(self.text[self.position]):
            self.position += 1
        return self.position > before

    def literal(self, word: str) -> None:
        if not self.text.startswith(word, self.position):
            raise self.fail("string")
        self.position += len(word)

    def take_till(self, stop: str | None) -> str:
        """Characters up to one in ``stop`` (None: up to any whitespace)."""
        start = self.position
        while self.position < len(self.text):
            char = self.text[self.position]
            if char.isspace() if stop is None else char in stop:
                break
            self.position += 1
        return self.text[start : self.position]

    def decimal(self) -> int:
        start = self.position
        while self.position < len(self.text) and self.text[self.position] in "0123456789":
            self.position += 1
        if start == self.position:
            raise self.fail("Failed reading: takeWhile1")
        return int(self.text[start : self.position])


class _LispReader(_Cursor):
    """Reads ``xm list --long`` text, with Ganeti's separator rules.

    Inside a list every element but the last must be followed by whitespace; an atom
    is a number when the whole atom is a decimal number, otherwise a string.
    """

    error = LispSyntaxError
    whitespace = _WHITESPACE

    def atom(self) -> str | float:
        token = self.take_till("()" + _WHITESPACE)
        if not token:
            raise self.fail("expected an atom")
        return float(token) if _NUMBER.fullmatch(token) else token

    def value(self) -> LispList | str | float:
        return self.list() if self.peek() == "(" else self.atom()

    def list(self) -> LispList:
        self.position += 1
        items: list[LispList | str | float] = []
        while True:
            had_space = self.skip_space()
            if self.at_end():
                raise self.fail("not enough input: unclosed '('")
            if self.peek() == ")":
                self.position += 1
                return LispList(tuple(items))
            if items and not had_space:
                raise self.fail("expected whitespace or ')' after a list element")
            items.append(self.value())


def parse_lisp(text: str) -> list[LispList | str | float]:
    """All top-level expressions of ``xm list --long`` style text."""
    reader = _LispReader(text)
    values: list[LispList | str | float] = []
    reader.skip_space()
    while not reader.at_end():
        if reader.peek() == ")":
            raise reader.fail("unexpected ')'")
        values.append(reader.value())
        reader.skip_space()
    return values


@dataclass(frozen=True)
class Domain:
    """What Ganeti takes from one domain of ``xm list --long``."""

    domid: int
    name: str
    cpu_time: float
    state: str

    @property
    def actual_state(self) -> str:
        return STATE_NAMES.get(self.state, "unknown")


def _find(key: str, items: Sequence[LispList | str | float]) -> LispList | str | float:
    for item in items:
        if isinstance(item, LispList) and item.head == key:
            return item
    raise ParseError("Configuration not found")


def _scalar(value: LispList | str | float, kind: str) -> str | float:
    if isinstance(value, LispList) and len(value.items) == 2 and isinstance(value.items[0], str):
        value = value.items[1]
    wanted_string = kind == "String"
    if isinstance(value, str) == wanted_string and not isinstance(value, LispList):
        return value
    raise ParseError(f"Unable to extract a {kind} from this configuration: {show_lisp(value)}")


def domain_from_lisp(value: LispList | str | float) -> Domain:
    """One domain; raises :class:`ParseError` with Ganeti's message for anything else."""
    if not isinstance(value, LispList) or value.head != "domain":
        raise ParseError(f"Not a domain configuration: {show_lisp(value)}")
    fields = value.items[1:]
    domid = _scalar(_find("domid", fields), "Int")
    name = _scalar(_find("name", fields), "String")
    cpu_time = _scalar(_find("cpu_time", fields), "Double")
    state = _scalar(_find("state", fields), "String")
    assert isinstance(domid, float) and isinstance(cpu_time, float)
    assert isinstance(name, str) and isinstance(state, str)
    return Domain(math.floor(domid), name, cpu_time, state)


def parse_list_long(text: str) -> dict[str, Domain]:
    """Domains of ``xl list --long`` / ``xm list --long`` by name (the last one wins).

    Every top-level expression must be a domain with ``domid``, ``name``, ``cpu_time``
    and ``state``; anything else rejects the whole output, as in Ganeti.
    """
    domains: dict[str, Domain] = {}
    for value in parse_lisp(text):
        domain = domain_from_lisp(value)
        domains[domain.name] = domain
    return domains


@dataclass(frozen=True)
class Uptime:
    """One line of ``xm uptime``: the uptime is kept as the tool's text."""

    name: str
    domid: int
    uptime: str


def parse_uptime(text: str) -> dict[int, Uptime]:
    """``xm uptime`` / ``xl uptime`` by domain ID, with Ganeti's exact (lenient) grammar.

    Header ``Name``, ``ID``, ``Uptime``; then per line a name, a decimal ID and the rest of
    the line as uptime text. As in Ganeti, whitespace (newlines included) after each
    field is skipped, so a line with no uptime takes the next line as its uptime.
    """
    cursor = _Cursor(text)
    for word in ("Name", "ID", "Uptime"):
        cursor.literal(word)
        cursor.skip_space()
    uptimes: dict[int, Uptime] = {}
    while cursor.position < len(text):
        name = cursor.take_till(None)
        cursor.skip_space()
        domid = cursor.decimal()
        cursor.skip_space()
        uptime = cursor.take_till("\n\r")
        cursor.skip_space()
        uptimes[domid] = Uptime(name, domid, uptime)
    return uptimes


@dataclass(frozen=True)
class ListEntry:
    """One domain of plain ``xl list``."""

    name: str
    domid: int
    memory: int
    vcpus: int
    state: str
    cpu_time: float

    @property
    def flags(self) -> frozenset[str]:
        """The set state letters (``r``, ``b``, ``p``, ``s``, ``c``, ``d``)."""
        return frozenset(letter for letter in self.state if letter != "-")


def parse_list(text: str) -> list[ListEntry]:
    """Plain ``xl list`` / ``xm list``: a header line, then six columns per domain."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].split()[:1] != ["Name"]:
        raise ParseError("expected the header line of xl list", text[:200])
    entries = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) != 6:
            raise ParseError(f"expected 6 columns, got {len(fields)}", line)
        name, domid, memory, vcpus, state, cpu_time = fields
        try:
            entries.append(
                ListEntry(name, int(domid), int(memory), int(vcpus), state, float(cpu_time))
            )
        except ValueError:
            raise ParseError("a numeric column is not a number", line) from None
    return entries


XENTOP_ARGS = ("-f", "-b", "-i", "1")
_HASKELL_DOUBLE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def parse_xentop(text: str) -> dict[str, float]:
    """Cumulative CPU seconds per domain (Domain-0 excluded) from ``xentop -f -b -i 1``.

    The first line must have ``NAME`` as word 1 and ``CPU(sec)`` as word 3; later lines
    with at least three words contribute when word 3 is a number.
    """
    rows = [line.split() for line in text.splitlines()]
    if not rows:
        raise ParseError("No output received")
    header, *values = rows
    if len(header) < 3:
        raise ParseError("Insufficient number of output columns", text[:200])
    if header[0] != "NAME" or header[2] != "CPU(sec)":
        raise ParseError("Unexpected data format", text[:200])
    loads: dict[str, float] = {}
    for words in values:
        if len(words) < 3 or words[0] == "Domain-0":
            continue
        if _HASKELL_DOUBLE.fullmatch(words[2]):
            loads[words[0]] = float(words[2])
    return loads
