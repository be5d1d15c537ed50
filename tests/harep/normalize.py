"""What differs between two harep runs by nature: UUIDs, times, the version, job ids' timing.

A run's output and requests are compared after each new UUID becomes
``<uuid-N>`` (numbered in order of appearance), each tag time after the
start of the run becomes ``<time>``, each reason-trail time ``<ns>``, and
the version line ``<version>``.
"""

from __future__ import annotations

import re

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NANOSECONDS = re.compile(r"\b1[0-9]{18}\b")
VERSION = re.compile(r"harep \((?:ganeti|ganeti-agent)\) version [^\s\"]+")


def normalize(text: str, since: int) -> str:
    """``text`` with UUIDs numbered, times from ``since`` on and the version replaced."""
    uuids: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return uuids.setdefault(match.group(0), f"<uuid-{len(uuids) + 1}>")

    def recent(match: re.Match[str]) -> str:
        return "<time>" if int(match.group(0)) >= since else match.group(0)

    text = VERSION.sub("<version>", text)
    text = UUID.sub(number, text)
    text = NANOSECONDS.sub("<ns>", text)
    return re.sub(r"\b1[0-9]{9}\b", recent, text)
