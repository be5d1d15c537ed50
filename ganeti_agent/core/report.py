"""The report envelope of Ganeti's monitoring protocol and the types around it.

Every collector produces exactly one report; this module owns its shape (member
order as the real daemon writes it), the status codes and how several codes and
messages combine, so no collector repeats those rules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum

from ganeti_agent.core.jsontypes import JSON, JSONObject

REPORT_VERSION = "B"
FORMAT_VERSION = 1
DEFAULT_CATEGORY_SEGMENT = "default"


class Kind(IntEnum):
    """Whether a collector reports numbers (performance) or a health verdict (status)."""

    PERFORMANCE = 0
    STATUS = 1


class Category(Enum):
    """The categories of the report path; collectors without one use ``None``."""

    STORAGE = "storage"
    INSTANCE = "instance"
    DAEMON = "daemon"
    HYPERVISOR = "hypervisor"


class StatusCode(IntEnum):
    """Ganeti's status codes; a larger number is always the more severe one."""

    OK = 0
    TEMPORARILY_BAD = 1
    UNKNOWN = 2
    BAD = 4


def category_segment(category: Category | None) -> str:
    """The URL segment (and list entry) for a category: ``default`` stands for null."""
    return category.value if category is not None else DEFAULT_CATEGORY_SEGMENT


def parse_category_segment(segment: str) -> tuple[bool, Category | None]:
    """Map a URL segment to a category, case-sensitively, as mond does.

    Returns ``(known, category)``; ``(True, None)`` is the ``default`` segment.
    """
    if segment == DEFAULT_CATEGORY_SEGMENT:
        return True, None
    for category in Category:
        if category.value == segment:
            return True, category
    return False, None


def worst(codes: Iterable[StatusCode]) -> StatusCode:
    """The most severe of several codes; OK when there are none."""
    return max(codes, default=StatusCode.OK)


def combine_messages(messages: Sequence[str]) -> str:
    """Join per-item messages the way Ganeti's global status does.

    Non-empty messages, last item first, each prefixed by a newline.
    """
    return "".join("\n" + message for message in reversed(messages) if message)


def status_object(code: StatusCode, message: str) -> JSONObject:
    """The ``status`` member of a status collector's data."""
    return {"code": int(code), "message": message}


def timestamp_ns(clock: Callable[[], float] = time.time) -> int:
    """Report time in nanoseconds at microsecond resolution, as the real tools write it."""
    return int(clock() * 1_000_000) * 1000


@dataclass(frozen=True)
class Report:
    """One collector's report: the envelope plus its ``data``."""

    name: str
    category: Category | None
    kind: Kind
    data: JSON
    timestamp: int
    version: str = REPORT_VERSION
    format_version: int = FORMAT_VERSION

    def to_json_object(self) -> JSONObject:
        """The envelope with members in the order of the real daemon."""
        return {
            "name": self.name,
            "version": self.version,
            "format_version": self.format_version,
            "timestamp": self.timestamp,
            "category": self.category.value if self.category is not None else None,
            "kind": int(self.kind),
            "data": self.data,
        }


def encode_json(value: JSON) -> bytes:
    """Compact UTF-8 JSON without a trailing newline, as mond sends it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def pretty_json(value: JSON) -> str:
    """Indented JSON with a final newline, for people reading a report."""
    return json.dumps(value, indent=4, ensure_ascii=False, allow_nan=False) + "\n"
