"""``diskstats`` (storage, performance): per-device I/O counters from /proc/diskstats."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from ganeti_agent.core.files import read_text
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError, TypedCollector
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Family, Sample, family
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.parsers.diskstats import DiskStat, parse_diskstats
from ganeti_agent.parsers.errors import ParseError

NAME = "diskstats"


def read_diskstats(text: str, source: str) -> list[DiskStat]:
    """The devices of a diskstats file's text; a malformed file is a CollectorError."""
    try:
        return parse_diskstats(text)
    except ParseError as exc:
        raise CollectorError(f"{source}: cannot parse: {exc.reason}") from None


def diskstats_data(stats: list[DiskStat]) -> JSON:
    """The report's data: one object per device, in the file's order."""
    return [stat.to_json() for stat in stats]


class DiskstatsCollector(TypedCollector[list[DiskStat]]):
    """Reads the kernel's block device counters at query time."""

    name = NAME
    category = Category.STORAGE
    kind = Kind.PERFORMANCE

    @property
    def path(self) -> str:
        return self.settings.option("file", os.path.join(self.context.proc_root, "diskstats"))

    def available(self) -> bool:
        return os.path.exists(self.path)

    def result(self) -> list[DiskStat]:
        return read_diskstats(read_text(self.path), self.path)

    def to_data(self, result: list[DiskStat]) -> JSON:
        return diskstats_data(result)

    def samples(self, result: list[DiskStat]) -> Iterator[Sample]:
        for stat in result:
            device = (stat.name,)
            for key, value in stat.counters:
                declared, scale = DISKSTATS_FIELDS[key]
                yield Sample(declared, device, float(value) * scale)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [DiskstatsCollector(context)]


SECTOR_BYTES = 512
_DISK = ("device",)


def _counter(name: str, help_text: str) -> Family:
    return family(name, "counter", help_text, *_DISK)


_FIELD_ROWS: tuple[tuple[str, Family, float], ...] = (
    ("readsNum", _counter("ganeti_diskstats_reads_completed_total", "Reads completed."), 1),
    ("mergedReads", _counter("ganeti_diskstats_reads_merged_total", "Reads merged."), 1),
    ("secRead", _counter("ganeti_diskstats_read_bytes_total", "Bytes read."), SECTOR_BYTES),
    (
        "timeRead",
        _counter("ganeti_diskstats_read_time_seconds_total", "Time spent reading."),
        0.001,
    ),
    ("writes", _counter("ganeti_diskstats_writes_completed_total", "Writes completed."), 1),
    ("mergedWrites", _counter("ganeti_diskstats_writes_merged_total", "Writes merged."), 1),
    (
        "secWritten",
        _counter("ganeti_diskstats_written_bytes_total", "Bytes written."),
        SECTOR_BYTES,
    ),
    (
        "timeWrite",
        _counter("ganeti_diskstats_write_time_seconds_total", "Time spent writing."),
        0.001,
    ),
    ("ios", family("ganeti_diskstats_io_now", "gauge", "I/Os in progress.", *_DISK), 1),
    ("timeIO", _counter("ganeti_diskstats_io_time_seconds_total", "Time spent doing I/O."), 0.001),
    (
        "wIOmillis",
        _counter(
            "ganeti_diskstats_io_time_weighted_seconds_total", "Weighted time spent doing I/O."
        ),
        0.001,
    ),
    (
        "discardsNum",
        _counter("ganeti_diskstats_discards_completed_total", "Discards completed."),
        1,
    ),
    ("mergedDiscards", _counter("ganeti_diskstats_discards_merged_total", "Discards merged."), 1),
    (
        "secDiscarded",
        _counter("ganeti_diskstats_discarded_bytes_total", "Bytes discarded."),
        SECTOR_BYTES,
    ),
    (
        "timeDiscard",
        _counter("ganeti_diskstats_discard_time_seconds_total", "Time spent discarding."),
        0.001,
    ),
    ("flushesNum", _counter("ganeti_diskstats_flushes_completed_total", "Flushes completed."), 1),
    (
        "timeFlush",
        _counter("ganeti_diskstats_flush_time_seconds_total", "Time spent flushing."),
        0.001,
    ),
)
DISKSTATS_FIELDS = {key: (declared, scale) for key, declared, scale in _FIELD_ROWS}
"""Counter, family and scale: sectors are 512 bytes, times are milliseconds."""
