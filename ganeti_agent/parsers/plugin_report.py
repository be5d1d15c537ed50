"""A plugin collector's standard output: one report object, checked field by field.

The design document's plugin collectors print the same envelope the built-in ones
produce. Anything the agent would have to guess about (a missing or mistyped field,
a status collector without a status, a name that is not the plugin's) is refused
with a message saying exactly what is wrong, so the plugin's author can fix it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import Category, Kind, StatusCode

REQUIRED = ("name", "version", "format_version", "category", "kind", "data")
MAX_SHOWN = 200


class PluginReportError(ValueError):
    """The output is not a valid report; ``str()`` says why in one line."""


@dataclass(frozen=True)
class PluginReport:
    """The envelope fields of a valid plugin report."""

    name: str
    version: str
    format_version: int
    category: Category | None
    kind: Kind
    data: JSON


def parse_plugin_report(output: bytes, expected_name: str) -> PluginReport:
    """Decode and validate one report printed by the plugin called ``expected_name``."""
    document = _decode(output)
    if not isinstance(document, dict):
        raise PluginReportError(f"output is a JSON {type(document).__name__}, not a report object")
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        raise PluginReportError("report lacks " + ", ".join(missing))
    name = document["name"]
    if name != expected_name:
        raise PluginReportError(
            f"report name {_show(name)} does not match the plugin's name {expected_name!r}"
        )
    kind = _kind(document["kind"])
    data = document["data"]
    if kind is Kind.STATUS:
        _check_status(data)
    return PluginReport(
        name=expected_name,
        version=_version(document["version"]),
        format_version=_format_version(document["format_version"]),
        category=_category(document["category"]),
        kind=kind,
        data=data,
    )


def _decode(output: bytes) -> JSON:
    try:
        text = output.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PluginReportError(f"output is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise PluginReportError("no output on stdout")
    try:
        decoded: JSON = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise PluginReportError(f"output is not one JSON object: {exc}") from None
    return decoded


def _no_constant(name: str) -> JSON:
    raise ValueError(f"{name} is not valid JSON")


def _show(value: JSON) -> str:
    text = json.dumps(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def _integer(value: JSON) -> int | None:
    """``value`` if it is an integer; JSON ``true`` is not one here."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _version(value: JSON) -> str:
    if not isinstance(value, str) or not value:
        raise PluginReportError(f"version must be a non-empty string, got {_show(value)}")
    return value


def _format_version(value: JSON) -> int:
    number = _integer(value)
    if number is None or number < 1:
        raise PluginReportError(f"format_version must be a positive integer, got {_show(value)}")
    return number


def _category(value: JSON) -> Category | None:
    if value is None:
        return None
    for category in Category:
        if value == category.value:
            return category
    allowed = ", ".join(c.value for c in Category)
    raise PluginReportError(f"category must be null or one of {allowed}; got {_show(value)}")


def _kind(value: JSON) -> Kind:
    number = _integer(value)
    if number is not None and number in (Kind.PERFORMANCE, Kind.STATUS):
        return Kind(number)
    raise PluginReportError(f"kind must be 0 (performance) or 1 (status), got {_show(value)}")


def _check_status(data: JSON) -> None:
    status = data.get("status") if isinstance(data, Mapping) else None
    if not isinstance(status, Mapping):
        raise PluginReportError('a status report (kind 1) needs data.status = {"code", "message"}')
    code = status.get("code")
    if _integer(code) not in set(StatusCode):
        raise PluginReportError(f"data.status.code must be 0, 1, 2 or 4, got {_show(code)}")
    if not isinstance(status.get("message"), str):
        raise PluginReportError("data.status.message must be a string")
