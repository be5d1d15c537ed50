"""Haskell's ``reads``-based parsing (``tryRead``) with Ganeti's error texts."""

from __future__ import annotations

import re

from ganeti_agent.htools.types import LoadError

_INT = re.compile(r"\s*(-?[0-9]+)")
_DOUBLE = re.compile(r"\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)")
_NUMBER_TAIL = re.compile(r"(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _parse(owner: str, text: str, pattern: re.Pattern[str]) -> tuple[str, str] | None:
    match = pattern.match(text)
    if match is None:
        return None
    return match.group(1), text[match.end() :]


def read_int(owner: str, text: str) -> int:
    """``tryRead owner text :: Int``."""
    parsed = _parse(owner, text, _INT)
    if parsed is not None:
        number, rest = parsed
        tail = _NUMBER_TAIL.match(rest)
        if tail is not None and tail.group(0):
            parsed = None
        elif rest == "" or rest.isspace():
            if rest:
                raise LoadError(f"{owner}: leftover characters when parsing '{text}': '{rest}'")
            return int(number)
        else:
            raise LoadError(f"{owner}: leftover characters when parsing '{text}': '{rest}'")
    raise LoadError(f"{owner}: cannot parse string '{text}'")


def read_double(owner: str, text: str) -> float:
    """``tryRead owner text :: Double``."""
    parsed = _parse(owner, text, _DOUBLE)
    if parsed is None:
        raise LoadError(f"{owner}: cannot parse string '{text}'")
    number, rest = parsed
    if rest:
        raise LoadError(f"{owner}: leftover characters when parsing '{text}': '{rest}'")
    return float(number)


def sep_split(sep: str, text: str) -> list[str]:
    """Ganeti's ``sepSplit``: an empty string gives no fields at all."""
    if text == "":
        return []
    return text.split(sep)


def comma_split(text: str) -> list[str]:
    return sep_split(",", text)


def hs_show_str(value: str) -> str:
    """Haskell's ``show`` of a String (ASCII cases)."""
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) == 127 or ord(ch) > 127:
            out.append(f"\\{ord(ch)}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def hs_show_list(values: list[str]) -> str:
    return "[" + ",".join(hs_show_str(v) for v in values) + "]"
