"""``diskstats`` (storage, performance): per-device I/O counters from /proc/diskstats."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from ganeti_agent.core.files import read_text
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError
from ganeti_agent.core.metrics import Family, FieldTable, Sample, family, fields, label, objects
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

    def metric_samples(self, data: JSONValue) -> Iterator[Sample]:
        return disk_samples(data)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [DiskstatsCollector(context)]


SECTOR_BYTES = 512
_DISK = ("device",)


def _counter(name: str, help_text: str) -> Family:
    return family(name, "counter", help_text, *_DISK)


DISKSTATS_FIELDS: FieldTable = (
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
"""Wire key, family and scale: sectors are 512 bytes, times are milliseconds."""


def disk_samples(data: JSONValue) -> Iterator[Sample]:
    for disk in objects(data):
        yield from fields(disk, DISKSTATS_FIELDS, (label(disk.get("name")),))
