"""The ``htools`` part: the real hspace and ours on simulated clusters, same bytes.

    .venv/bin/python -m bench.htools [--nodes 10,20,40] [--real DIR]

For each node count N both tools run ``--simulate=p,N,8T,256g,64
--disk-template=drbd --tiered-alloc=102400,4096,2 --machine-readable``; the
table gives wall time and peak RSS (``wait4``'s ru_maxrss) of each, the
ratio, and whether stdout was byte for byte the same.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REAL_DIR = Path("/usr/lib/ganeti/3.0/usr/bin")


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


def table(counts: list[int], real_dir: Path) -> str:
    real = real_dir / "hspace"
    have_real = real.exists() and shutil.which(str(real)) is not None
    lines = [
        "| nodes | real hspace s | ours s | ours/real | real RSS MiB | ours RSS MiB "
        "| same stdout |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for count in counts:
        mine = measure([*ours(), *hspace_args(count)])
        if have_real:
            theirs = measure([str(real), *hspace_args(count)])
            same = "yes" if theirs.stdout == mine.stdout and theirs.code == mine.code else "NO"
            lines.append(
                f"| {count} | {theirs.seconds:.2f} | {mine.seconds:.2f} | "
                f"{mine.seconds / theirs.seconds:.3f} | {theirs.max_rss_kib / 1024:.0f} | "
                f"{mine.max_rss_kib / 1024:.0f} | {same} |"
            )
        else:
            lines.append(
                f"| {count} | not installed | {mine.seconds:.2f} | - | - | "
                f"{mine.max_rss_kib / 1024:.0f} | - |"
            )
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
