from __future__ import annotations

import pytest

from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.proc_stat import parse_proc_stat

STAT = """cpu  100 10 50 1000 5 1 2 3 4 5
cpu0 60 5 30 500 2 1 1 1 2 2
cpu1 40 5 20 500 3 0 1 2 2 3
intr 12345 1 2
ctxt 99
"""


def test_busy_ticks_exclude_only_idle() -> None:
    ticks = parse_proc_stat(STAT)
    assert ticks.total == 100 + 10 + 50 + 5 + 1 + 2 + 3 + 4 + 5
    assert ticks.cpus == (60 + 5 + 30 + 2 + 1 + 1 + 1 + 2 + 2, 40 + 5 + 20 + 3 + 0 + 1 + 2 + 2 + 3)


def test_old_kernels_with_fewer_columns() -> None:
    assert parse_proc_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n").cpus == (6,)


@pytest.mark.parametrize("text", ["", "intr 1\n", "cpu 1 2 x 4\n", "cpu 1 2\n"])
def test_broken_files_raise(text: str) -> None:
    with pytest.raises(ParseError):
        parse_proc_stat(text)


def test_real_proc_stat_of_this_machine() -> None:
    with open("/proc/stat") as handle:
        ticks = parse_proc_stat(handle.read())
    assert len(ticks.cpus) >= 1
