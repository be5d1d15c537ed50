"""Memory and idle-CPU parts: what the processes cost, measured alike from /proc.

The agent is one process (HTTP, confd and every collector); the real side is the sum
of ganeti-mond and ganeti-confd (the confd relay of the reference kit is not used).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from bench.procinfo import cpu_seconds, descendants, rss_kib
from bench.results import NOT_INSTALLED, Row


def total_rss_mib(pids: Sequence[int]) -> float:
    """Resident memory of the processes and all their children, in MiB."""
    everything = list(pids)
    for pid in pids:
        everything += descendants(pid)
    return sum(rss_kib(pid) for pid in everything) / 1024


def memory_row(
    label: str, agent_pid: int, real_pids: Sequence[int] | None, missing: str = NOT_INSTALLED
) -> Row:
    real: float | str = total_rss_mib(real_pids) if real_pids else missing
    return Row(label, total_rss_mib([agent_pid]), real, "MiB", higher_is_better=False)


def idle_cpu(pids_by_label: Mapping[str, Sequence[int]], seconds: float) -> dict[str, float]:
    """CPU seconds per minute of each group of processes over one shared idle window."""
    before = {label: sum(cpu_seconds(p) for p in pids) for label, pids in pids_by_label.items()}
    time.sleep(seconds)
    after = {label: sum(cpu_seconds(p) for p in pids) for label, pids in pids_by_label.items()}
    return {label: (after[label] - before[label]) * 60 / seconds for label in pids_by_label}
