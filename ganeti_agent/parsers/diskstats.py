"""``/proc/diskstats``: one record per block device.

Ganeti 3.0.2 accepts only the 14-field lines of kernels before 4.18 and rejects the
whole file otherwise. We accept those exactly as strictly, and also the 18-field
(4.18+, discard counters) and 20-field (5.5+, flush counters) lines, whose extra
counters are reported under extra keys after the standard ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ganeti_agent.core.jsontypes import JSONObject
from ganeti_agent.parsers.errors import ParseError, wrap_int64

STANDARD_FIELDS = (
    "readsNum",
    "mergedReads",
    "secRead",
    "timeRead",
    "writes",
    "mergedWrites",
    "secWritten",
    "timeWrite",
    "ios",
    "timeIO",
    "wIOmillis",
)
DISCARD_FIELDS = ("discardsNum", "mergedDiscards", "secDiscarded", "timeDiscard")
FLUSH_FIELDS = ("flushesNum", "timeFlush")
ACCEPTED_COUNTS = {
    len(STANDARD_FIELDS): STANDARD_FIELDS,
    len(STANDARD_FIELDS + DISCARD_FIELDS): STANDARD_FIELDS + DISCARD_FIELDS,
    len(STANDARD_FIELDS + DISCARD_FIELDS + FLUSH_FIELDS): STANDARD_FIELDS
    + DISCARD_FIELDS
    + FLUSH_FIELDS,
}

_LINE = re.compile(
    r"[ \t]*(?P<major>[0-9]+)[ \t]+(?P<minor>[0-9]+)[ \t]+(?P<name>[^ \t\r\n]*)"
    r"(?P<counters>(?:[ \t]+[0-9]+)+)(?:\r?\n)"
)


@dataclass(frozen=True)
class DiskStat:
    """One line of /proc/diskstats; ``counters`` maps Ganeti's field names to values."""

    major: int
    minor: int
    name: str
    counters: tuple[tuple[str, int], ...]

    def to_json(self) -> JSONObject:
        """The report object, members in mond's order."""
        result: JSONObject = {"major": self.major, "minor": self.minor, "name": self.name}
        result.update(self.counters)
        return result


def parse_diskstats(text: str) -> list[DiskStat]:
    """Parse the whole file; any malformed line rejects it (as mond does)."""
    stats: list[DiskStat] = []
    position = 0
    while position < len(text):
        match = _LINE.match(text, position)
        if match is None:
            raise ParseError("expected a diskstats line", text[position:])
        numbers = match.group("counters").split()
        names = ACCEPTED_COUNTS.get(len(numbers))
        if names is None:
            raise ParseError(
                f"expected 11, 15 or 17 counters per line, got {len(numbers)}", text[position:]
            )
        stats.append(
            DiskStat(
                major=wrap_int64(int(match.group("major"))),
                minor=wrap_int64(int(match.group("minor"))),
                name=match.group("name"),
                counters=tuple(zip(names, (wrap_int64(int(n)) for n in numbers), strict=True)),
            )
        )
        position = match.end()
    return stats
