"""The ``htools`` part: the real hspace and ours on simulated clusters, same bytes.

    .venv/bin/python -m bench --only htools        (10, 20, 40 nodes; 10, 20 with --quick)
    .venv/bin/python -m bench.htools [--nodes 10,20,40,100] [--real DIR]

For each node count N both tools run ``--simulate=p,N,8T,256g,64
--disk-template=drbd --tiered-alloc=102400,4096,2 --machine-readable``; the
table gives wall time and peak RSS (GNU time's, see :func:`measure_under_time`)
of each, the ratio, and whether stdout was byte for byte the same.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.results import NOT_INSTALLED, Table

REAL_DIR = Path("/usr/lib/ganeti/3.0/usr/bin")
GNU_TIME = Path("/usr/bin/time")


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_kib: int
    stdout: bytes
    code: int


def measure(argv: list[str]) -> Run:
    """Run once; wall time and the child's peak resident set."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(elapsed, usage.ru_maxrss, out, proc.returncode)


def gnu_time_peak(argv: list[str]) -> tuple[Run, int | None]:
    """One run under GNU time: the run, and the peak RSS GNU time reports (None without it).

    ``wait4``'s ``ru_maxrss`` of a child forked from this process starts at this
    process's own resident set (the kernel keeps the high-water mark across
    ``exec``), so it never shows less than the bench's size, about 20 MiB. GNU
    time is small and reports its own child's figure.
    """
    if not GNU_TIME.exists():
        return measure(argv), None
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        run = measure([str(GNU_TIME), "-q", "-f", "%M", "-o", rss.name, *argv])
        reported = rss.read().strip().splitlines()
    peak = int(reported[-1]) if reported and reported[-1].isdigit() else None
    return run, peak


def measure_under_time(argv: list[str]) -> Run:
    """:func:`measure` with GNU time's peak RSS; for runs of seconds, where its ~1 ms is noise."""
    run, peak = gnu_time_peak(argv)
    return run if peak is None else Run(run.seconds, peak, run.stdout, run.code)


def hspace_args(nodes: int) -> list[str]:
    return [
        f"--simulate=p,{nodes},8T,256g,64",
        "--disk-template=drbd",
        "--tiered-alloc=102400,4096,2",
        "--machine-readable",
    ]


def ours() -> list[str]:
    script = Path(sys.executable).parent / "ganeti-hspace"
    return (
        [str(script)] if script.exists() else [sys.executable, "-m", "ganeti_agent.htools.hspace"]
    )


COLUMNS = [
    "nodes",
    "real hspace s",
    "ours s",
    "ours/real",
    "real RSS MiB",
    "ours RSS MiB",
    "same stdout",
]


def _row(count: int, real: Path | None) -> tuple[list[str], dict[str, object]]:
    """One node count: ours, then the real tool right after it (same conditions)."""
    mine = measure_under_time([*ours(), *hspace_args(count)])
    record: dict[str, object] = {
        "nodes": count,
        "ours_s": mine.seconds,
        "ours_rss_kib": mine.max_rss_kib,
        "ours_exit": mine.code,
    }
    if real is None:
        cells = [str(count), NOT_INSTALLED, f"{mine.seconds:.2f}", "-", "-"]
        return [*cells, f"{mine.max_rss_kib / 1024:.0f}", "-"], record
    theirs = measure_under_time([str(real), *hspace_args(count)])
    same = theirs.stdout == mine.stdout and theirs.code == mine.code
    record.update(
        real_s=theirs.seconds,
        real_rss_kib=theirs.max_rss_kib,
        ratio=mine.seconds / theirs.seconds,
        same_stdout=same,
    )
    cells = [
        str(count),
        f"{theirs.seconds:.2f}",
        f"{mine.seconds:.2f}",
        f"{mine.seconds / theirs.seconds:.3f}",
        f"{theirs.max_rss_kib / 1024:.0f}",
        f"{mine.max_rss_kib / 1024:.0f}",
        "yes" if same else "NO",
    ]
    return cells, record


def real_hspace(real_dir: Path) -> Path | None:
    real = real_dir / "hspace"
    return real if real.exists() and os.access(real, os.X_OK) else None


def htools_table(counts: list[int], real_dir: Path = REAL_DIR) -> Table:
    """The bench section: wall time and peak RSS of both tools, outputs compared."""
    real = real_hspace(real_dir)
    table = Table("htools: hspace, real vs ganeti-hspace", COLUMNS)
    for count in counts:
        cells, record = _row(count, real)
        table.rows.append(cells)
        table.records.append(record)
    table.notes.append(
        "ganeti-hspace " + " ".join(hspace_args(0)).replace(",0,", ",N,") + "; wall time "
        "and peak RSS (GNU time) of one run each, ours first; the goal is ours/real <= 0.1 at 20 "
        "and 40 nodes with the same stdout"
    )
    if real is None:
        table.notes.append(
            f"real hspace not measured: {real_dir / 'hspace'} is {NOT_INSTALLED} "
            "(apt-get install ganeti-htools-3.0)"
        )
    return table


def table(counts: list[int], real_dir: Path) -> str:
    """The section as a Markdown table (for the README)."""
    built = htools_table(counts, real_dir)
    lines = ["| " + " | ".join(built.columns) + " |", "|---:" * 6 + "|---|"]
    lines.extend("| " + " | ".join(row) + " |" for row in built.rows)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", default="10,20,40", help="comma-separated node counts")
    parser.add_argument("--real", type=Path, default=REAL_DIR, help="directory of the real htools")
    args = parser.parse_args(argv)
    print(table([int(n) for n in args.nodes.split(",")], args.real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
