"""Parsers of a network interface's sysfs files and of Ganeti's NIC runtime files.

``/sys/class/net/<interface>/`` holds one value per file: ``statistics/rx_bytes`` and
its siblings (a decimal counter each), ``operstate`` (``up``, ``down``, ``unknown``,
...) and ``mtu``. Ganeti's KVM hypervisor writes, per instance NIC, a file
``kvm-hypervisor/nic/<instance>/<index>`` holding the tap interface's name; Xen names
a domain's interfaces ``vif<domid>.<index>`` (``-emu`` for an HVM domain's emulated
twin).
"""

from __future__ import annotations

import re

from ganeti_agent.parsers.errors import ParseError

STATISTICS: tuple[tuple[str, str], ...] = (
    ("tx_bytes", "bytes_sent"),
    ("rx_bytes", "bytes_received"),
    ("tx_packets", "packets_sent"),
    ("rx_packets", "packets_received"),
    ("rx_errors", "errors_in"),
    ("tx_errors", "errors_out"),
    ("rx_dropped", "drops_in"),
    ("tx_dropped", "drops_out"),
)
"""The kernel's statistics files and the report's names for them (the ``node`` NICs')."""

MAX_INTERFACE_NAME = 15
"""IFNAMSIZ less the terminating NUL: the kernel refuses longer interface names."""

_VIF = re.compile(r"vif([0-9]+)\.([0-9]+)(-emu)?")
_COUNTER = re.compile(r"[0-9]{1,20}")


def parse_counter(text: str) -> int:
    """One decimal value of a sysfs file (a counter, an MTU)."""
    value = text.strip()
    if not _COUNTER.fullmatch(value):
        raise ParseError(f"expected a decimal number, got {value[:40]!r}", text)
    return int(value)


def parse_operstate(text: str) -> bool | None:
    """``up`` is True, ``down`` and ``lowerlayerdown`` False; the kernel's other words None.

    Virtual interfaces without a carrier notion (loopback, some taps) say ``unknown``.
    """
    state = text.strip()
    if state == "up":
        return True
    if state in ("down", "lowerlayerdown"):
        return False
    return None


def parse_tap_name(text: str) -> str:
    """The interface name in a KVM NIC file: one valid interface name, nothing else."""
    name = text.strip()
    if not name or len(name) > MAX_INTERFACE_NAME or "/" in name or any(c.isspace() for c in name):
        raise ParseError(f"not an interface name: {name[:40]!r}", text)
    return name


def xen_vif(name: str) -> tuple[int, int] | None:
    """``(domid, index)`` of a Xen back-end interface name, None for any other name."""
    match = _VIF.fullmatch(name)
    return (int(match.group(1)), int(match.group(2))) if match else None
