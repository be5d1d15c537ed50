"""/proc/meminfo parser on a real capture and on broken text."""

from __future__ import annotations

import pytest

from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.meminfo import parse_meminfo
from tests.support import shared_fixture


def test_real_capture() -> None:
    info = parse_meminfo(shared_fixture("proc_meminfo.txt").read_text())
    assert info.get("MemTotal") == 32263108
    assert info.get("MemAvailable") == 21604764
    assert info.get("HugePages_Total") == 0
    assert info.mib("MemTotal") == 31506
    assert info.mib("MemFree", "Buffers", "Cached") == (257212 + 1100556 + 20549156) // 1024
    assert info.mib("NoSuchCounter") == 0


def test_this_machine() -> None:
    with open("/proc/meminfo") as handle:
        assert (parse_meminfo(handle.read()).get("MemTotal") or 0) > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no MemTotal line"),
        ("MemFree: 1 kB\n", "no MemTotal line"),
        ("MemTotal 1 kB\n", "line 1: expected"),
        ("MemTotal: many kB\n", "MemTotal is not a number"),
        ("MemTotal: 1 MB\n", "line 1: expected"),
    ],
)
def test_garbage(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_meminfo(text)
