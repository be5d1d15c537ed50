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

from ganeti_agent.core.report import Category, JSONValue, Kind, StatusCode

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
    data: JSONValue


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


def _decode(output: bytes) -> JSONValue:
    try:
        text = output.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PluginReportError(f"output is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise PluginReportError("no output on stdout")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise PluginReportError(f"output is not one JSON object: {exc}") from None


def _no_constant(name: str) -> JSONValue:
    raise ValueError(f"{name} is not valid JSON")


def _show(value: JSONValue) -> str:
    text = json.dumps(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def _is_int(value: JSONValue) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _version(value: JSONValue) -> str:
    if not isinstance(value, str) or not value:
        raise PluginReportError(f"version must be a non-empty string, got {_show(value)}")
    return value


def _format_version(value: JSONValue) -> int:
    if not _is_int(value) or value < 1:
        raise PluginReportError(f"format_version must be a positive integer, got {_show(value)}")
    return int(value)


def _category(value: JSONValue) -> Category | None:
    if value is None:
        return None
    for category in Category:
        if value == category.value:
            return category
    allowed = ", ".join(c.value for c in Category)
    raise PluginReportError(f"category must be null or one of {allowed}; got {_show(value)}")


def _kind(value: JSONValue) -> Kind:
    if _is_int(value) and value in (Kind.PERFORMANCE, Kind.STATUS):
        return Kind(value)
    raise PluginReportError(f"kind must be 0 (performance) or 1 (status), got {_show(value)}")


def _check_status(data: JSONValue) -> None:
    status = data.get("status") if isinstance(data, Mapping) else None
    if not isinstance(status, Mapping):
        raise PluginReportError('a status report (kind 1) needs data.status = {"code", "message"}')
    code = status.get("code")
    if not _is_int(code) or code not in set(StatusCode):
        raise PluginReportError(f"data.status.code must be 0, 1, 2 or 4, got {_show(code)}")
    if not isinstance(status.get("message"), str):
        raise PluginReportError("data.status.message must be a string")
