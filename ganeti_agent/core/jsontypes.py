"""JSON as a type: what ``json.loads`` returns and ``json.dumps`` accepts.

The alias is recursive so that mypy follows a value into its members: reading
``report["cpus"]`` gives a ``JSON`` that must be narrowed before use, instead
of an ``Any`` that accepts every mistake. The ``expect_*`` functions narrow at
the edges where data arrives (files, sockets, child processes) and raise
:class:`JSONShapeError` naming the place, so callers turn a wrong shape into
one clear message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
"""Any JSON value."""

JSONObject: TypeAlias = "dict[str, JSON]"
"""A JSON object, members in insertion order."""

JSONArray: TypeAlias = "list[JSON]"
"""A JSON array."""


class JSONShapeError(ValueError):
    """A JSON value does not have the shape the reader needs."""


def _kind(value: object) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _wrong(where: str, wanted: str, value: object) -> JSONShapeError:
    return JSONShapeError(f"{where}: expected {wanted}, got {_kind(value)}")


def expect_object(value: object, where: str) -> JSONObject:
    """``value`` as a JSON object, or :class:`JSONShapeError` naming ``where``."""
    if not isinstance(value, dict):
        raise _wrong(where, "an object", value)
    return value


def expect_array(value: object, where: str) -> JSONArray:
    """``value`` as a JSON array, or :class:`JSONShapeError` naming ``where``."""
    if not isinstance(value, list):
        raise _wrong(where, "an array", value)
    return value


def expect_str(value: object, where: str) -> str:
    """``value`` as a string, or :class:`JSONShapeError` naming ``where``."""
    if not isinstance(value, str):
        raise _wrong(where, "a string", value)
    return value


def expect_int(value: object, where: str) -> int:
    """``value`` as an integer (booleans refused), or :class:`JSONShapeError`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(where, "an integer", value)
    return value


def expect_number(value: object, where: str) -> int | float:
    """``value`` as an int or float (booleans refused), or :class:`JSONShapeError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong(where, "a number", value)
    return value


def expect_bool(value: object, where: str) -> bool:
    """``value`` as a boolean, or :class:`JSONShapeError` naming ``where``."""
    if not isinstance(value, bool):
        raise _wrong(where, "a boolean", value)
    return value


def member(obj: Mapping[str, JSON], key: str, where: str) -> JSON:
    """``obj[key]``, or :class:`JSONShapeError` naming ``where`` and the key."""
    try:
        return obj[key]
    except KeyError:
        raise JSONShapeError(f"{where}: missing member {key!r}") from None
