"""/proc/cpuinfo parser on a real capture, this machine, and broken text."""

from __future__ import annotations

import os

import pytest

from ganeti_agent.parsers.cpuinfo import parse_cpuinfo
from ganeti_agent.parsers.errors import ParseError
from tests.support import shared_fixture


def test_real_capture() -> None:
    info = parse_cpuinfo(shared_fixture("proc_cpuinfo.txt").read_text())
    assert info.cpu_number == 4
    assert info.sockets == 1
    assert info.cores == 2
    assert info.model == "Intel(R) Core(TM) i5-3320M CPU @ 2.60GHz"
    assert info.mhz == 1200.0
    assert info.virtualization == "vmx"


def test_this_machine() -> None:
    with open("/proc/cpuinfo") as handle:
        info = parse_cpuinfo(handle.read())
    assert info.cpu_number == os.cpu_count()


def test_header_and_trailer_lines_are_ignored() -> None:
    text = "Processor : ARMv7\n\nprocessor : 0\nBogoMIPS : 1.0\n\nHardware : BCM2835\n"
    info = parse_cpuinfo(text)
    assert info.cpu_number == 1
    assert info.sockets == 1
    assert info.cores is None
    assert info.mhz is None
    assert info.virtualization is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "no processor entries"), ("processor : 0\nnot a field\n", "line 2: expected")],
)
def test_garbage(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_cpuinfo(text)
