"""The ``htools`` part: the real hspace and ours on simulated clusters, same bytes.

    .venv/bin/python -m bench --only htools        (10, 20, 40 nodes; 10, 20 with --quick)
    .venv/bin/python -m bench.htools [--nodes 10,20,40,100] [--real DIR] [--tiny]

For each node count N both tools run ``--simulate=p,N,8T,256g,64
--disk-template=drbd --tiered-alloc=102400,4096,2 --machine-readable``; the
table gives wall time and peak RSS (GNU time's, see :func:`gnu_time_peak`)
of each, the ratio, and whether stdout was byte for byte the same.

A second table runs both on tiny text clusters (two or three nodes, the
default policy's 1 TiB / 32 GiB maximum spec): tiered allocation there
shrinks the spec in thousands of steps while the failure reason
alternates, a million cheap questions that Ganeti answers quickly.
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


TINY_CLUSTERS = {
    # three nodes, one with exclusive storage; plain: capacity checks on every size
    "3 nodes, plain": (
        "group-0|uuid-0|last_resort|gtag|\ngroup-1|uuid-1|preferred||\n\n"
        "node-0.example.com|4096|0|3583|20480|19456|8|M|uuid-0|1\n"
        "node-1.example.com|8192|512|7229|20480|19456|4|N|uuid-1|2||Y|2|1|1.0\n"
        "node-2.example.com|32768|512|31883|409600|409600|4|N|uuid-0|12||N\n\n"
        "inst-0.example.com|128|4096|2|running|Y|node-0.example.com||rbd|service:dns|1|1|N\n"
        "inst-1.example.com|128|4096|1|running|N|node-0.example.com||file||1|2|N\n"
        "inst-2.example.com|512|4096|1|ADMIN_down|Y|node-0.example.com|node-2.example.com"
        "|drbd|service:web|1\n\nhtools:iextags:service\n",
        "plain",
    ),
    "2 nodes, plain": (
        "group-0|uuid-0|last_resort|gtag|\ngroup-1|uuid-1|preferred||\n\n"
        "node-0.example.com|8192|0|7209|102400|102400|8|M|uuid-1|5||N|5|1|2.0\n"
        "node-1.example.com|32768|0|32356|409600|408576|16|N|uuid-0|10||N|9|1|2.0\n\n"
        "inst-0.example.com|512|1024|1|running|Y|node-1.example.com||sharedfile||1|2|N\n"
        "inst-1.example.com|512|4096|1|running|Y|node-1.example.com||plain|service:web|1\n\n"
        "htools:iextags:service\n",
        "plain",
    ),
    "3 nodes, drbd": (
        "group-0|uuid-0|preferred||\n\n"
        "node-0.example.com|16384|512|15941|20480|19456|4|M|uuid-0|10||N\n"
        "node-1.example.com|16384|512|15388|102400|101376|16|N|uuid-0|6||Y|6|1|2.0\n"
        "node-2.example.com|4096|0|3994|102400|101376|8|Y|uuid-0|5||Y|5|2|1.0\n\n"
        "inst-0.example.com|512|1024|2|ERROR_up|Y|node-1.example.com|node-2.example.com|drbd||1\n"
        "inst-1.example.com|128|1024|2|running|Y|node-1.example.com|node-0.example.com|drbd||1\n"
        "inst-2.example.com|1024|1024|2|running|Y|node-0.example.com||rbd|service:dns|1\n"
        "inst-3.example.com|128|4096|2|running|Y|node-0.example.com|node-1.example.com"
        "|drbd||1|2|Y\n\n",
        "drbd",
    ),
    # five nodes, two of them alone in their groups: no grown cluster is N+1
    # redundant; 4,113 tiers, each with nine shrink walks
    "5 nodes, plain, N+1 never": (
        "group-0|uuid-0|preferred|gtag|\n"
        "group-1|uuid-1|preferred|gtag|\n"
        "group-2|uuid-2|preferred||\n"
        "\n"
        "node-0.example.com|4096|512|3169|20480|20480|8|M|uuid-0|5||N\n"
        "node-1.example.com|4096|512|3962|102400|101376|8|Y|uuid-2|7\n"
        "node-2.example.com|16384|0|15374|102400|101376|16|N|uuid-1|7\n"
        "node-3.example.com|16384|0|16140|409600|409600|16|N|uuid-2|12\n"
        "node-4.example.com|8192|512|7276|20480|20480|16|N|uuid-2|4||Y|4|1|1.0\n"
        "\n"
        "inst-0.example.com|128|1024|2|running|N|node-4.example.com||ext|service:dns|1\n"
        "inst-1.example.com|1024|1024|1|running|N|node-3.example.com||ext||1|2|N\n"
        "inst-2.example.com|1024|4096|2|running|Y|node-4.example.com||file|service:web|1|1|N\n"
        "inst-3.example.com|128|1024|2|running|N|node-2.example.com||plain||1\n"
        "inst-4.example.com|128|4096|1|ERROR_up|Y|node-0.example.com||diskless|service:dns|1|2|N\n"
        "\n",
        "plain",
    ),
    # six nodes in pairs of groups, no instances: every tier walks memory down
    # through sizes that pass the node checks and fail global N+1
    "6 nodes, plain, N+1 walks": (
        "group-0|uuid-0|last_resort|gtag|\n"
        "group-1|uuid-1|last_resort||\n"
        "group-2|uuid-2|preferred|gtag|\n"
        "\n"
        "node-0.example.com|4096|0|3627|20480|19456|8|M|uuid-2|3||N|3|2|2.0\n"
        "node-1.example.com|8192|512|7212|409600|409600|16|N|uuid-1|5||Y|5|2|1.0\n"
        "node-2.example.com|8192|512|7903|102400|102400|8|N|uuid-2|4||N\n"
        "node-3.example.com|4096|512|3523|102400|101376|4|N|uuid-0|4\n"
        "node-4.example.com|16384|0|15967|102400|101376|8|N|uuid-1|3||N\n"
        "node-5.example.com|8192|512|8030|409600|409600|16|N|uuid-0|4||N|4|2|1.0\n"
        "\n"
        "\n",
        "plain",
    ),
}
TINY_COLUMNS = ["cluster", "real hspace s", "ours s", "ours/real", "same stdout"]


def tiny_table(real_dir: Path = REAL_DIR) -> Table:
    """Tiered allocation on tiny clusters: ours, then the real tool, per cluster."""
    real = real_hspace(real_dir)
    table = Table("htools: hspace on tiny clusters (long shrink chains)", TINY_COLUMNS)
    with tempfile.TemporaryDirectory() as folder:
        for name, (text, template) in TINY_CLUSTERS.items():
            path = Path(folder) / "cluster.data"
            path.write_text(text)
            args = ["-t", str(path), f"--disk-template={template}", "--machine-readable"]
            mine = measure([*ours(), *args])
            record: dict[str, object] = {"cluster": name, "ours_s": mine.seconds}
            cells = [name, NOT_INSTALLED, f"{mine.seconds:.2f}", "-", "-"]
            if real is not None:
                theirs = measure([str(real), *args])
                same = theirs.stdout == mine.stdout and theirs.code == mine.code
                ratio = mine.seconds / theirs.seconds
                record.update(real_s=theirs.seconds, ratio=ratio, same_stdout=same)
                cells[1:] = [
                    f"{theirs.seconds:.2f}",
                    cells[2],
                    f"{ratio:.2f}",
                    "yes" if same else "NO",
                ]
            table.rows.append(cells)
            table.records.append(record)
    table.notes.append("ganeti-hspace -t CLUSTER --disk-template=T --machine-readable; wall time")
    return table


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
    parser.add_argument("--tiny", action="store_true", help="only the tiny-cluster table")
    args = parser.parse_args(argv)
    if args.tiny:
        built = tiny_table(args.real)
        print("| " + " | ".join(built.columns) + " |\n|---|---:|---:|---:|---|")
        print("\n".join("| " + " | ".join(row) + " |" for row in built.rows))
        return 0
    print(table([int(n) for n in args.nodes.split(",")], args.real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
