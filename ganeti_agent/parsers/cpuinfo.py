"""Parser of ``/proc/cpuinfo``: one block of ``key : value`` lines per logical CPU."""

from __future__ import annotations

from dataclasses import dataclass

from ganeti_agent.parsers.errors import ParseError

VIRTUALIZATION_FLAGS = ("vmx", "svm")


@dataclass(frozen=True)
class CpuInfo:
    """The logical CPUs' fields, in the kernel's order."""

    processors: list[dict[str, str]]

    @property
    def cpu_number(self) -> int:
        return len(self.processors)

    @property
    def sockets(self) -> int:
        """Distinct ``physical id`` values; 1 where the kernel does not say (as Ganeti counts)."""
        return max(1, len({p["physical id"] for p in self.processors if "physical id" in p}))

    @property
    def cores(self) -> int | None:
        """Distinct (socket, core) pairs, or None where the kernel does not say."""
        pairs = {
            (p.get("physical id", "0"), p["core id"]) for p in self.processors if "core id" in p
        }
        return len(pairs) or None

    @property
    def model(self) -> str | None:
        return self._first("model name")

    @property
    def mhz(self) -> float | None:
        raw = self._first("cpu MHz")
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return None

    @property
    def virtualization(self) -> str | None:
        """``vmx`` (Intel VT-x) or ``svm`` (AMD-V) when the CPUs offer it."""
        flags = set((self._first("flags") or "").split())
        return next((flag for flag in VIRTUALIZATION_FLAGS if flag in flags), None)

    def _first(self, key: str) -> str | None:
        return next((p[key] for p in self.processors if key in p), None)


def parse_cpuinfo(text: str) -> CpuInfo:
    """Blocks separated by blank lines, each starting with ``processor``.

    Lines outside a block (a header or trailer, as on some architectures) are ignored.
    """
    processors: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            current = None
            continue
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon or not key:
            raise ParseError(f"line {number}: expected 'key : value', got {line.strip()[:80]!r}")
        if key == "processor":
            current = {}
            processors.append(current)
        if current is None:
            continue
        current[key] = value.strip()
    if not processors:
        raise ParseError("no processor entries")
    return CpuInfo(processors)
