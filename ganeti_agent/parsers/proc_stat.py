"""``/proc/stat``: busy CPU ticks of the aggregate ``cpu`` line and of each CPU.

"Busy" is every column but ``idle``, including ``iowait`` and the guest columns, which
is how Ganeti's cpu-avg-load counts it; numbers stay comparable with mond's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ganeti_agent.parsers.errors import ParseError

_CPU_LINE = re.compile(r"[ \t]*(cpu[0-9]*)((?:[ \t]+[0-9]+){4,})[ \t]*$")
IDLE_COLUMN = 3


@dataclass(frozen=True)
class CpuTicks:
    """Busy ticks of the aggregate line (``total``) and per CPU (``cpus``, file order)."""

    total: int
    cpus: tuple[int, ...]


def parse_proc_stat(text: str) -> CpuTicks:
    """Busy ticks of the ``cpu`` lines at the top of the file.

    Kernels since 2.6.33 print ten columns; older ones fewer, so at least four
    (user, nice, system, idle) are required and missing ones count as zero.
    """
    total: int | None = None
    cpus: list[int] = []
    for line in text.splitlines():
        if not line.startswith("cpu"):
            break
        match = _CPU_LINE.match(line)
        if match is None:
            raise ParseError("expected a cpu line with at least four counters", line)
        values = [int(v) for v in match.group(2).split()]
        busy = sum(values) - values[IDLE_COLUMN]
        if match.group(1) == "cpu":
            total = busy
        else:
            cpus.append(busy)
    if total is None:
        raise ParseError("no aggregate cpu line", text[:200])
    return CpuTicks(total, tuple(cpus))
