"""``mon-collector diskstats [-f FILE]``."""

from __future__ import annotations

from ganeti_agent.cli.moncollector import (
    Invocation,
    Option,
    Subcommand,
    build_report,
    parse_failure,
    read_input,
)
from ganeti_agent.collectors.diskstats import DiskstatsCollector
from ganeti_agent.core.report import Report
from ganeti_agent.parsers.diskstats import parse_diskstats
from ganeti_agent.parsers.errors import ParseError

DEFAULT_FILE = "/proc/diskstats"


def run(invocation: Invocation) -> Report:
    text = read_input(invocation.options.get("file", DEFAULT_FILE))
    try:
        stats = parse_diskstats(text)
    except ParseError as error:
        raise parse_failure(error) from None
    return build_report(DiskstatsCollector, [stat.to_json() for stat in stats])


COMMAND = Subcommand(
    name="diskstats",
    summary=("gathers and displays the disk usage statistics in JSON format",),
    options=(Option("f", "file", "FILE", "the input FILE"),),
    run=run,
)
