"""Parsers of the kernel's NUMA files under ``/sys/devices/system/node/``.

``online`` and ``node<N>/cpulist`` use the kernel's list format (``0``, ``0-3,8-11``);
``node<N>/meminfo`` is ``/proc/meminfo`` for one node, each line prefixed ``Node <N>``.
"""

from __future__ import annotations

import re

from ganeti_agent.parsers.errors import ParseError

MAX_LIST_MEMBERS = 65536
"""Far above any machine's CPU or node count, so a corrupt range cannot exhaust memory."""

_RANGE = re.compile(r"([0-9]{1,6})(?:-([0-9]{1,6}))?")
_NODE_LINE = re.compile(r"Node\s+[0-9]+\s+([A-Za-z0-9_()]+):\s+([0-9]+)(?:\s+kB)?")


def parse_kernel_list(text: str) -> list[int]:
    """The members of a kernel list (``0-3,8``); an empty file is an empty list."""
    body = text.strip()
    if not body:
        return []
    members: list[int] = []
    for part in body.split(","):
        match = _RANGE.fullmatch(part)
        if not match:
            raise ParseError(f"expected N or N-M, got {part[:40]!r}", text)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first or len(members) + last - first >= MAX_LIST_MEMBERS:
            raise ParseError(f"range {part[:40]!r} is reversed or too large", text)
        members.extend(range(first, last + 1))
    return members


def parse_node_meminfo(text: str) -> dict[str, int]:
    """One node's memory counters by the kernel's names, values in KiB (pages for HugePages_*)."""
    counters: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _NODE_LINE.fullmatch(line.strip())
        if not match:
            raise ParseError(f"line {number}: expected 'Node N Key: value', got {line[:80]!r}")
        counters[match.group(1)] = int(match.group(2))
    return counters
