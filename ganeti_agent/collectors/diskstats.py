"""``diskstats`` (storage, performance): per-device I/O counters from /proc/diskstats."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ganeti_agent.core.files import read_text
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError
from ganeti_agent.core.report import Category, JSONValue, Kind
from ganeti_agent.parsers.diskstats import parse_diskstats
from ganeti_agent.parsers.errors import ParseError

NAME = "diskstats"


def diskstats_data(text: str, source: str) -> list[dict[str, JSONValue]]:
    """The report data for the text of a diskstats file."""
    try:
        return [stat.to_json() for stat in parse_diskstats(text)]
    except ParseError as exc:
        raise CollectorError(f"{source}: cannot parse: {exc.reason}") from None


class DiskstatsCollector(Collector):
    """Reads the kernel's block device counters at query time."""

    name = NAME
    category = Category.STORAGE
    kind = Kind.PERFORMANCE

    @property
    def path(self) -> str:
        return self.settings.option("file", os.path.join(self.context.proc_root, "diskstats"))

    def available(self) -> bool:
        return os.path.exists(self.path)

    def collect(self) -> JSONValue:
        return diskstats_data(read_text(self.path), self.path)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [DiskstatsCollector(context)]
