"""Interface sysfs files and Ganeti's NIC files: captures from a real host, and broken text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.netif import (
    STATISTICS,
    parse_counter,
    parse_operstate,
    parse_tap_name,
    xen_vif,
)

SYS_NET = Path(__file__).parent / "data" / "sys" / "class" / "net"


def test_real_interface_files() -> None:
    eth0 = SYS_NET / "eth0"
    assert parse_counter((eth0 / "mtu").read_text()) == 1400
    assert parse_operstate((eth0 / "operstate").read_text()) is True
    counters = {
        name: parse_counter((eth0 / "statistics" / kernel).read_text())
        for kernel, name in STATISTICS
    }
    assert counters["bytes_received"] == int((eth0 / "statistics" / "rx_bytes").read_text())
    assert counters["bytes_received"] > 0 and counters["packets_sent"] > 0
    assert parse_operstate((SYS_NET / "lo" / "operstate").read_text()) is None  # "unknown"


@pytest.mark.parametrize("text", ["", "-1\n", "12 kB\n", "0x10\n", "1" * 21, "nan"])
def test_bad_counters(text: str) -> None:
    with pytest.raises(ParseError, match="expected a decimal number"):
        parse_counter(text)


def test_operstates() -> None:
    assert [parse_operstate(s) for s in ("up\n", "down\n", "lowerlayerdown", "dormant")] == [
        True,
        False,
        False,
        None,
    ]


def test_tap_names() -> None:
    assert parse_tap_name("tap0\n") == "tap0"
    assert parse_tap_name("gnt.com.0") == "gnt.com.0"
    for bad in ("", "\n", "a" * 16, "../eth0", "tap 0", "tap0\ntap1"):
        with pytest.raises(ParseError, match="not an interface name"):
            parse_tap_name(bad)


def test_xen_vif_names() -> None:
    assert xen_vif("vif3.0") == (3, 0)
    assert xen_vif("vif12.1-emu") == (12, 1)
    assert [xen_vif(n) for n in ("vif3", "vif.0", "eth0", "vif3.0x", "xvif3.0")] == [None] * 5
