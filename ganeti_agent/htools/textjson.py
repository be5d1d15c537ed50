"""JSON as Ganeti's Haskell tools read it (the ``json`` package's ``Text.JSON``).

The live backends must refuse what Ganeti refuses and say it the way Ganeti
says it, so this module decodes with ``Text.JSON``'s rules rather than
Python's: only an object or an array at the top, numbers kept as exact
rationals (an ``Int`` is the rational rounded half to even), objects kept as
ordered key/value pairs (the first of duplicate keys wins), and the same
error texts. It also renders values as Haskell's ``show`` and
``Text.JSON.Pretty`` do, because Ganeti's messages quote values that way.

Values: ``None`` (null), ``bool``, ``Fraction`` (numbers), ``str``,
``list`` (arrays) and ``JSObject`` (objects).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeAlias, TypeVar

from ganeti_agent.htools import hughespj
from ganeti_agent.htools.haskell_read import haskell_show_string, wrap_int
from ganeti_agent.htools.hsformat import show_double

T = TypeVar("T")


@dataclass(frozen=True)
class JSObject:
    """A JSON object as an ordered list of pairs (``JSObject JSValue``)."""

    pairs: tuple[tuple[str, JSValue], ...]

    def lookup(self, key: str) -> tuple[bool, JSValue]:
        """Haskell's ``lookup``: the first pair with this key."""
        for name, value in self.pairs:
            if name == key:
                return True, value
        return False, None

    def keys(self) -> list[str]:
        return [name for name, _ in self.pairs]


JSValue: TypeAlias = "bool | Fraction | str | list[JSValue] | JSObject | None"


MAX_DEPTH = 128
"""Deeper nesting is refused (Ganeti's objects are a few levels deep), so a hostile
reply cannot exhaust the stack."""


class JSONError(ValueError):
    """A value Ganeti refuses; the message is the Haskell side's text."""


# --- decoding (Text.JSON.String) ------------------------------------------------

_SPACE = " \t\n\r\f\v"


def _is_space(char: str) -> bool:
    return char in _SPACE or char.isspace()


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and _is_space(text[pos]):
        pos += 1
    return pos


def _context(text: str, pos: int) -> str:
    return text[pos : pos + 8]


class _Decoder:
    """A recursive descent parser with ``Text.JSON``'s behaviour and messages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.depth = 0

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise JSONError(f"JSON nested deeper than {MAX_DEPTH} levels")

    def top(self) -> JSValue:
        text = self.text
        value: JSValue
        if text[:1] == "[":
            value, pos = self.array(0)
        elif text[:1] == "{":
            value, pos = self.object(0)
        else:
            raise JSONError(
                "Invalid JSON: a JSON text a serialized object or array at the top level."
            )
        if pos < len(text):
            rest = text[pos : pos + 10]
            raise JSONError(f"Invalid tokens at end of JSON string: {haskell_show_string(rest)}")
        return value

    def value(self, pos: int) -> tuple[JSValue, int]:
        text = self.text
        head = text[pos : pos + 1]
        if head == '"':
            return self.string(pos)
        if head == "[":
            return self.array(pos)
        if head == "{":
            return self.object(pos)
        if head in ("t", "f"):
            for word, meaning in (("true", True), ("false", False)):
                if text.startswith(word, pos):
                    return meaning, pos + len(word)
            raise JSONError(f"Unable to parse JSON Bool: {_context(text, pos)}")
        if head == "-" or (head.isdigit() and head.isascii()):
            return self.number(pos)
        if text.startswith("null", pos):
            return None, pos + 4
        raise JSONError(f"Malformed JSON: invalid token in this context {_context(text, pos)}")

    def string(self, pos: int) -> tuple[str, int]:
        text = self.text
        if text[pos : pos + 1] != '"':
            raise JSONError(f"Malformed JSON: expecting string: {_context(text, pos)}")
        pos += 1
        out: list[str] = []
        escapes = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "f": "\f"}
        escapes |= {"b": "\b", "/": "/"}
        while True:
            if pos >= len(text):
                raise JSONError("Unable to parse JSON String: unterminated String: ")
            char = text[pos]
            if char == "\\" and pos + 1 < len(text):
                code = text[pos + 1]
                if code in escapes:
                    out.append(escapes[code])
                    pos += 2
                    continue
                if code == "u":
                    digits = text[pos + 2 : pos + 6]
                    if len(digits) < 4:
                        raise JSONError(
                            f"Unable to parse JSON String: invalid hex: {_context(text, pos + 2)}"
                        )
                    if not all(d in _HEX_DIGITS for d in digits):
                        raise JSONError(
                            f"Unable to parse JSON String: invalid hex: {_show_read_hex(digits)}"
                        )
                    out.append(chr(int(digits, 16)))
                    pos += 6
                    continue
                raise JSONError(
                    "Unable to parse JSON String: invalid escape char: " + _show_char(code)
                )
            if char == '"':
                return "".join(out), pos + 1
            if char < "\x20":
                raise JSONError(f"Illegal unescaped character in string: {_context(text, pos)}")
            out.append(char)
            pos += 1

    def number(self, pos: int) -> tuple[Fraction, int]:
        text = self.text
        negative = text[pos] == "-"
        if negative:
            pos += 1
        if pos >= len(text):
            raise JSONError("Unable to parse JSON Rational: ")
        if text[pos] == "0":
            whole, pos = Fraction(0), pos + 1
        elif text[pos].isdigit() and text[pos].isascii():
            start = pos
            while pos < len(text) and text[pos].isdigit() and text[pos].isascii():
                pos += 1
            whole = Fraction(int(text[start:pos]))
        else:
            raise JSONError(f"Unable to parse JSON Rational: {_context(text, pos + 1)}")
        value, pos = self._fraction(whole, pos)
        return (-value if negative else value), pos

    def _fraction(self, value: Fraction, pos: int) -> tuple[Fraction, int]:
        text = self.text
        if text[pos : pos + 1] == ".":
            start = pos + 1
            end = start
            while end < len(text) and text[end].isdigit() and text[end].isascii():
                end += 1
            if end == start:
                return value, start
            value += Fraction(int(text[start:end]), 10 ** (end - start))
            pos = end
        if text[pos : pos + 1] in ("e", "E"):
            return self._exponent(value, pos + 1)
        return value, pos

    def _exponent(self, value: Fraction, pos: int) -> tuple[Fraction, int]:
        text = self.text
        sign = text[pos : pos + 1]
        if sign in ("+", "-"):
            pos += 1
        end = pos
        while end < len(text) and text[end].isdigit() and text[end].isascii():
            end += 1
        if end == pos:
            raise JSONError(f"Unable to parse JSON exponential: {_context(text, pos)}")
        scale = Fraction(10) ** int(text[pos:end])
        return (value / scale if sign == "-" else value * scale), end

    def array(self, pos: int) -> tuple[list[JSValue], int]:
        self._enter()
        try:
            return self._array(pos)
        finally:
            self.depth -= 1

    def _array(self, pos: int) -> tuple[list[JSValue], int]:
        text = self.text
        pos = _skip(text, pos)
        if text[pos : pos + 1] != "[":
            raise JSONError(
                "Unable to parse JSON sequence: sequence stars with invalid character: "
                + _context(text, pos)
            )
        pos = _skip(text, pos + 1)
        if text[pos : pos + 1] == "]":
            return [], _skip(text, pos + 1)
        items: list[JSValue] = []
        while True:
            item, pos = self.value(pos)
            items.append(item)
            after = _skip(text, pos)
            mark = text[after : after + 1]
            if mark == ",":
                pos = _skip(text, after + 1)
            elif mark == "]":
                return items, _skip(text, after + 1)
            else:
                raise JSONError(
                    f"Unable to parse JSON array: unterminated array: {_context(text, pos)}"
                )

    def object(self, pos: int) -> tuple[JSObject, int]:
        self._enter()
        try:
            return self._object(pos)
        finally:
            self.depth -= 1

    def _object(self, pos: int) -> tuple[JSObject, int]:
        text = self.text
        pos = _skip(text, pos)
        if text[pos : pos + 1] != "{":
            raise JSONError("Unable to parse JSON object: unterminated object")
        pos = _skip(text, pos + 1)
        if text[pos : pos + 1] == "}":
            return JSObject(()), _skip(text, pos + 1)
        pairs: list[tuple[str, JSValue]] = []
        while True:
            key, pos = self.string(pos)
            after = _skip(text, pos)
            if text[after : after + 1] != ":":
                raise JSONError(f"Malformed JSON labelled field: {_context(text, pos)}")
            item, pos = self.value(_skip(text, after + 1))
            pairs.append((key, item))
            after = _skip(text, pos)
            mark = text[after : after + 1]
            if mark == ",":
                pos = _skip(text, after + 1)
            elif mark == "}":
                return JSObject(tuple(pairs)), _skip(text, after + 1)
            else:
                raise JSONError(
                    "Unable to parse JSON object: unterminated sequence: " + _context(text, pos)
                )


_HEX_DIGITS = "0123456789abcdefABCDEF"


def _show_read_hex(digits: str) -> str:
    """``take 8 (show (readHex digits))``, as Text.JSON quotes a bad ``\\u`` escape."""
    length = 0
    while length < len(digits) and digits[length] in _HEX_DIGITS:
        length += 1
    if length == 0:
        return "[]"
    shown = f"[({int(digits[:length], 16)},{haskell_show_string(digits[length:])})]"
    return shown[:8]


def _show_char(char: str) -> str:
    shown = haskell_show_string(char)[1:-1]
    return "'" + ("\\'" if char == "'" else shown.replace('\\"', '"')) + "'"


def decode_strict(text: str) -> JSValue:
    """``Text.JSON.decodeStrict``: an object or array, nothing after it."""
    return _Decoder(text).top()


# --- rendering -----------------------------------------------------------------


def _show_integer(value: int, precedence: int) -> str:
    return f"({value})" if value < 0 and precedence > 6 else str(value)


def show_value(value: JSValue) -> str:
    """Haskell's derived ``show`` of a ``JSValue`` (as Ganeti's messages print it)."""
    return _show(value, 0)


def _show(value: JSValue, precedence: int) -> str:
    def wrap(text: str) -> str:
        return f"({text})" if precedence > 10 else text

    if value is None:
        return "JSNull"
    if isinstance(value, bool):
        return wrap(f"JSBool {value}")
    if isinstance(value, Fraction):
        ratio = f"{_show_integer(value.numerator, 8)} % {_show_integer(value.denominator, 8)}"
        return wrap(f"JSRational False ({ratio})")
    if isinstance(value, str):
        return wrap(f"JSString (JSONString {{fromJSString = {haskell_show_string(value)}}})")
    if isinstance(value, list):
        return wrap(f"JSArray {show_list(value)}")
    pairs = ",".join(f"({haskell_show_string(k)},{_show(v, 0)})" for k, v in value.pairs)
    return wrap(f"JSObject (JSONObject {{fromJSObject = [{pairs}]}})")


def show_list(values: Sequence[JSValue]) -> str:
    """``show`` of a ``[JSValue]``."""
    return "[" + ",".join(_show(v, 0) for v in values) + "]"


def show_pairs(pairs: Sequence[tuple[JSValue, JSValue]]) -> str:
    """``show`` of a ``[(JSValue, JSValue)]`` (a LUXI query row)."""
    return "[" + ",".join(f"({_show(a, 0)},{_show(b, 0)})" for a, b in pairs) + "]"


def _pp_string(text: str) -> str:
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _pretty_flat(value: JSValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        return show_double(_to_double(value))
    if isinstance(value, str):
        return _pp_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_pretty_flat(v) for v in value) + "]"
    return "{" + ", ".join(f"{_pp_string(k)}: {_pretty_flat(v)}" for k, v in value.pairs) + "}"


def _pretty_doc(value: JSValue) -> hughespj.Doc:
    """``pp_value`` as a document: ``fsep`` of comma-separated items in brackets."""

    def enclose(opening: str, items: list[hughespj.Doc], closing: str) -> hughespj.Doc:
        body = hughespj.fsep(hughespj.punctuate(hughespj.text(","), items))
        inner = hughespj.beside_(hughespj.text(opening), False, body)
        return hughespj.beside_(inner, False, hughespj.text(closing))

    if isinstance(value, list):
        return enclose("[", [_pretty_doc(item) for item in value], "]")
    if isinstance(value, JSObject):
        fields = [
            hughespj.beside_(
                hughespj.beside_(hughespj.text(_pp_string(key)), False, hughespj.text(":")),
                True,
                _pretty_doc(item),
            )
            for key, item in value.pairs
        ]
        return enclose("{", fields, "}")
    return hughespj.text(_pretty_flat(value))


def pretty(value: JSValue) -> str:
    """``show (Text.JSON.Pretty.pp_value v)``, line breaks included."""
    if not isinstance(value, list | JSObject):
        return _pretty_flat(value)
    try:
        return hughespj.render(_pretty_doc(value))
    except RecursionError:
        return _pretty_flat(value)


# --- readJSON --------------------------------------------------------------------

Reader = Callable[[JSValue], T]


def _to_double(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def read_int(value: JSValue) -> int:
    """``readJSON :: Int``: a number rounded half to even, 64 bits."""
    if isinstance(value, Fraction):
        return wrap_int(round(value))
    raise JSONError("Unable to read Int")


def read_double(value: JSValue) -> float:
    if isinstance(value, Fraction):
        return _to_double(value)
    raise JSONError("Unable to read Double")


def read_bool(value: JSValue) -> bool:
    if isinstance(value, bool):
        return value
    raise JSONError("Unable to read Bool")


def read_string(value: JSValue) -> str:
    """``readJSON :: String``; an array of one-character strings is a string too."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        chars = []
        for item in value:
            if not isinstance(item, str) or len(item) != 1:
                raise JSONError("Unable to read Char")
            chars.append(item)
        return "".join(chars)
    raise JSONError("Unable to read String")


def read_list(reader: Reader[T]) -> Reader[list[T]]:
    def read(value: JSValue) -> list[T]:
        if isinstance(value, list):
            return [reader(item) for item in value]
        raise JSONError("Unable to read list")

    return read


def read_object(value: JSValue) -> JSObject:
    if isinstance(value, JSObject):
        return value
    raise JSONError("Unable to read JSObject")


def read_enum(type_name: str, choices: Sequence[str]) -> Reader[str]:
    """A Ganeti string enumeration (``declareSADT``), by its raw names."""

    def read(value: JSValue) -> str:
        try:
            raw = read_string(value)
        except JSONError as error:
            raise JSONError(f"Can't parse value for '{type_name}': {error}") from None
        if raw not in choices:
            raise JSONError(
                f"Invalid string value for type {type_name}: {haskell_show_string(raw)}"
            )
        return raw

    return read


def from_jval(value: JSValue, reader: Reader[T]) -> T:
    """Ganeti's ``fromJVal``: the conversion error quotes the value."""
    try:
        return reader(value)
    except JSONError as error:
        raise JSONError(f"Cannot convert value '{pretty(value)}', error: {error}") from None


def _show_keys(keys: list[str]) -> str:
    return "[" + ",".join(haskell_show_string(k) for k in keys) + "]"


def from_obj(obj: JSObject, key: str, reader: Reader[T]) -> T:
    """Ganeti's ``fromObj``: the key must be there and convert."""
    found, value = obj.lookup(key)
    if not found:
        raise JSONError(f"key '{key}' not found, object contains only {_show_keys(obj.keys())}")
    try:
        return reader(value)
    except JSONError as error:
        raise JSONError(f"key '{key}': {error}") from None


def field_of(obj: JSObject, key: str, reader: Reader[T]) -> T:
    """A field of a Ganeti record (THH ``buildObject``): present, and convertible.

    Unlike ``from_obj``, a conversion error names the field as
    ``readJSONWithDesc`` does: ``Can't parse value for 'key': ...``.
    """
    value = from_obj(obj, key, lambda raw: raw)
    try:
        return reader(value)
    except JSONError as error:
        raise JSONError(f"Can't parse value for '{key}': {error}") from None


def maybe_from_obj(obj: JSObject, key: str, reader: Reader[T]) -> T | None:
    """Ganeti's ``maybeFromObj``: a missing key or a null is ``None``."""
    found, value = obj.lookup(key)
    if not found or value is None:
        return None
    return from_obj(obj, key, reader)


def annotate(owner: str, action: Callable[[], T]) -> T:
    """Ganeti's ``annotateResult``: prefix an error with who failed."""
    try:
        return action()
    except JSONError as error:
        raise JSONError(f"{owner}: {error}") from None
