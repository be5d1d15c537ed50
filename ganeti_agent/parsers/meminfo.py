"""Parser of ``/proc/meminfo``: the kernel's memory counters, in KiB."""

from __future__ import annotations

from dataclasses import dataclass

from ganeti_agent.parsers.errors import ParseError

KIB_PER_MIB = 1024


@dataclass(frozen=True)
class MemInfo:
    """All counters of one read, by the kernel's names; values in KiB (pages for HugePages_*)."""

    counters: dict[str, int]

    def get(self, key: str) -> int | None:
        return self.counters.get(key)

    def mib(self, *keys: str) -> int:
        """The sum of some counters in MiB (missing ones count as 0, like Ganeti does)."""
        return sum(self.counters.get(key, 0) for key in keys) // KIB_PER_MIB


def parse_meminfo(text: str) -> MemInfo:
    """``Key:   value [kB]`` lines; a malformed line is a :class:`ParseError`."""
    counters: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, colon, rest = line.partition(":")
        words = rest.split()
        if not colon or not words or len(words) > 2 or (len(words) == 2 and words[1] != "kB"):
            raise ParseError(f"line {number}: expected 'Key: value kB', got {line.strip()[:80]!r}")
        try:
            counters[key.strip()] = int(words[0])
        except ValueError:
            raise ParseError(
                f"line {number}: {key.strip()} is not a number: {words[0][:40]!r}"
            ) from None
    if "MemTotal" not in counters:
        raise ParseError("no MemTotal line")
    return MemInfo(counters)
