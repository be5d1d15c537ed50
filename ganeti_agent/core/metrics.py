"""Metric families and samples: what a collector yields for ``/metrics``.

A collector declares its families beside itself (``family(...)`` at module level) and
yields :class:`Sample` s of its typed result (``TypedCollector.samples``), the
prometheus_client ``Collector.collect`` pattern. Every family goes through the one
:data:`FAMILIES` registry, which refuses a second family of the same name: two
collectors exporting one name with different types or labels would make a scrape
that Prometheus rejects. The helpers serve collectors that read JSON (plugins,
inst-status-*): they take what they recognise and skip the rest, so an odd report
loses only its own series.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ganeti_agent.core.jsontypes import JSON, JSONObject

MetricType = Literal["gauge", "counter"]


@dataclass(frozen=True)
class Family:
    """One metric family: its exposed name (counters end in ``_total``), type and labels."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Sample:
    """One sample of a family, label values in the family's label order."""

    family: Family
    labels: tuple[str, ...]
    value: float


class DuplicateFamily(ValueError):
    """Two declarations claim one family name; a scrape could serve only one of them."""


class FamilyRegistry:
    """Every declared family by name, in declaration order; a name is declared once."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}
        self._order: dict[str, int] = {}

    def declare(self, name: str, kind: MetricType, help_text: str, *labels: str) -> Family:
        if name in self._families:
            raise DuplicateFamily(f"metric family {name!r} declared twice")
        declared = Family(name, kind, help_text, labels)
        self._order[name] = len(self._families)
        self._families[name] = declared
        return declared

    def position(self, name: str) -> int:
        """Where ``name`` was declared, counting from 0: the order families are shown in."""
        return self._order[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._families)

    def __len__(self) -> int:
        return len(self._families)

    def __getitem__(self, name: str) -> Family:
        return self._families[name]


FAMILIES = FamilyRegistry()
family = FAMILIES.declare


def number(value: JSON) -> float | None:
    """A JSON number as a float; booleans and everything else are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def label(value: JSON) -> str:
    return "" if value is None else str(value)


def objects(value: JSON) -> Iterator[JSONObject]:
    """The JSON objects of a list, skipping anything else."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def flag(declared: Family, labels: tuple[str, ...], value: bool) -> Sample:
    return Sample(declared, labels, 1.0 if value else 0.0)


_DURATION = re.compile(r"\s*(?:(\d+)\s+days?,\s*)?(\d+):(\d{1,2}):(\d{1,2})(?:\.\d+)?\s*")


def duration_seconds(value: JSON) -> float | None:
    """Seconds from ``H:MM:SS`` or ``N days, H:MM:SS`` (xm uptime), or a plain number."""
    found = number(value)
    if found is not None:
        return found
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value)
    if match is None:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)
