"""The Nagios/Icinga plugin verdict: Ganeti status codes to plugin states and one line.

Ganeti's codes combine by severity (0 < 1 < 2 < 4) first, as everywhere in Ganeti;
the worst code then maps to a plugin state: 0 OK, 1 OK (or WARNING when asked: it is
"being fixed automatically"), 2 UNKNOWN, 4 CRITICAL. The output follows the plugin
guidelines: ``SERVICE STATE - text | perfdata`` on one line.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import StatusCode, worst
from ganeti_agent.core.status import report_status

SERVICE = "GANETI"
MAX_MESSAGE = 200


class PluginState(enum.IntEnum):
    """Plugin exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def plugin_state(code: StatusCode, temporary_is_warning: bool = False) -> PluginState:
    if code is StatusCode.OK:
        return PluginState.OK
    if code is StatusCode.TEMPORARILY_BAD:
        return PluginState.WARNING if temporary_is_warning else PluginState.OK
    if code is StatusCode.BAD:
        return PluginState.CRITICAL
    return PluginState.UNKNOWN


@dataclass(frozen=True)
class Verdict:
    """What the plugin prints and how it exits."""

    state: PluginState
    text: str
    perfdata: tuple[str, ...] = ()

    def line(self) -> str:
        text = f"{SERVICE} {self.state.name} - {self.text}".replace("|", "/")
        return text + (" | " + " ".join(self.perfdata) if self.perfdata else "")


def unknown(text: str) -> Verdict:
    return Verdict(PluginState.UNKNOWN, text)


def _one_line(message: str) -> str:
    parts = [part.strip() for part in message.splitlines() if part.strip()]
    text = ", ".join(parts)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _perf_label(name: str) -> str:
    return f"'{name}'" if any(c in name for c in " '=") else name


def select(reports: Sequence[JSON], wanted: Iterable[str]) -> list[JSON] | str:
    """The reports of the wanted collectors (all if none named), or what is missing."""
    names = list(wanted)
    if not names:
        return list(reports)
    by_name = {r.get("name"): r for r in reports if isinstance(r, Mapping)}
    missing = [name for name in names if name not in by_name]
    if missing:
        return "no report from " + ", ".join(missing)
    return [by_name[name] for name in names]


def evaluate(reports: Sequence[JSON], temporary_is_warning: bool = False) -> Verdict:
    """One verdict over several reports; the text names every collector that is not OK."""
    if not reports:
        return unknown("the agent reported no collectors")
    statuses: list[tuple[str, StatusCode, str]] = []
    for report in reports:
        name = report.get("name") if isinstance(report, Mapping) else None
        code, message = report_status(report)
        statuses.append((str(name) if name is not None else "?", code, message))
    overall = worst(code for _, code, _ in statuses)
    perfdata = tuple(f"{_perf_label(name)}={int(code)};;;0;4" for name, code, _ in statuses)
    state = plugin_state(overall, temporary_is_warning)
    bad = sorted((s for s in statuses if s[1] is not StatusCode.OK), key=lambda s: -s[1])
    if not bad:
        return Verdict(state, f"{len(statuses)} collectors OK", perfdata)
    details = "; ".join(
        f"{name}: {_one_line(message) or f'status {int(code)}'}" for name, code, message in bad
    )
    return Verdict(state, details, perfdata)
