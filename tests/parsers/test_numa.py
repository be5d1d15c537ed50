"""The kernel's NUMA files: a capture of /sys/devices/system/node from a real host, and bad text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.numa import MAX_LIST_MEMBERS, parse_kernel_list, parse_node_meminfo

NODES = Path(__file__).parent / "data" / "sys" / "devices" / "system" / "node"


def test_real_node_files() -> None:
    assert parse_kernel_list((NODES / "online").read_text()) == [0]
    assert parse_kernel_list((NODES / "node0" / "cpulist").read_text()) == [0, 1]
    counters = parse_node_meminfo((NODES / "node0" / "meminfo").read_text())
    assert (counters["MemTotal"], counters["MemFree"]) == (21194488, 16451220)
    assert counters["Active(anon)"] == 1572 and counters["HugePages_Total"] == 0


def test_kernel_lists() -> None:
    assert parse_kernel_list("0-3,8-9,12\n") == [0, 1, 2, 3, 8, 9, 12]
    assert parse_kernel_list("\n") == []
    for bad in ("a", "1-", "3-1", "0,,1", "-1", "1 2"):
        with pytest.raises(ParseError):
            parse_kernel_list(bad)


def test_a_huge_range_is_refused_before_it_is_built() -> None:
    with pytest.raises(ParseError, match="too large"):
        parse_kernel_list(f"0-{MAX_LIST_MEMBERS}")


def test_bad_node_meminfo() -> None:
    with pytest.raises(ParseError, match="line 2: expected 'Node N Key: value'"):
        parse_node_meminfo("Node 0 MemTotal: 1 kB\nMemFree: 2 kB\n")
