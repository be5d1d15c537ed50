"""The ``hroller`` part: the real hroller and ours on small and large DRBD clusters, same bytes.

    .venv/bin/python -m bench --only hroller       (200 and 1,000 nodes; 200 with --quick)
    .venv/bin/python -m bench.hroller [--base CLUSTER] [--copies 1,5] [--repeat 3]
                                      [--small FILE] [--real DIR]

The large clusters start from a cluster state saved by hspace ``-S``::

    hspace $(for g in $(seq 10); do echo --simulate=p,20,8T,256g,64; done) \\
        --disk-template=drbd --tiered-alloc=262144,65536,16 -S c200

(10 groups of 20 nodes, 1,520 DRBD instances). Without ``--base`` the part
writes it with ``ganeti-hspace`` (about 20 s; the same bytes as Ganeti's
hspace, which takes minutes). ``--copies K`` puts K renamed copies of it
side by side (groups, nodes and instances renamed, one master), so 5
copies are 1,000 nodes. The small cluster is Ganeti's ``hroller-full.data``
shelltest input (8 nodes) from ``../shared/htools-golden/data`` when it is
there.

Each command line runs ``--repeat`` times, ours and the real tool in turn,
and the table gives the best wall time of each (the machine is shared, so
the best run is the one least disturbed), the peak RSS of one more run
under GNU time (``peak_rss_kib`` says why), and whether stdout and the
exit code were the same in every run. Our package is byte-compiled first, as an installed
one is (the test environment may forbid writing ``__pycache__``).
"""

from __future__ import annotations

import argparse
import compileall
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ganeti_agent
from bench.htools import GNU_TIME, REAL_DIR, Run, gnu_time_peak, measure
from bench.results import NOT_INSTALLED, Table

COMMAND_LINES = (
    (),
    ("--offline-maintenance",),
    ("--full-evacuation", "--print-moves"),
)
SMALL_CLUSTER = (
    Path(__file__).resolve().parents[2] / "shared" / "htools-golden" / "data" / "hroller-full.data"
)
BASE_GROUPS = 10
BASE_ARGS = (
    *(["--simulate=p,20,8T,256g,64"] * BASE_GROUPS),
    "--disk-template=drbd",
    "--tiered-alloc=262144,65536,16",
)
COLUMNS = [
    "nodes",
    "instances",
    "options",
    "real s",
    "ours s",
    "ours/real",
    "real RSS MiB",
    "ours RSS MiB",
    "same stdout+rc",
]
_GROUPED = re.compile(r"\b(group-|fake-uuid-|node-)(\d+)")


def _renamed(line: str, copy: int, group_count: int) -> str:
    def shift(match: re.Match[str]) -> str:
        width = len(match.group(2))
        return f"{match.group(1)}{int(match.group(2)) + copy * group_count:0{width}d}"

    return _GROUPED.sub(shift, line)


def scale_cluster(text: str, copies: int) -> str:
    """``copies`` side-by-side copies of a saved cluster; only the first keeps its master."""
    sections: list[list[str]] = [[]]
    for line in text.splitlines():
        if line:
            sections[-1].append(line)
        else:
            sections.append([])
    sections += [[] for _ in range(5 - len(sections))]
    groups, nodes, instances, tags, policies = sections[:5]
    out_groups, out_nodes, out_insts, out_policies = [], [], [], policies[:1]
    for copy in range(copies):
        out_groups += [_renamed(line, copy, len(groups)) for line in groups]
        for line in nodes:
            fields = _renamed(line, copy, len(groups)).split("|")
            if copy and fields[7] == "M":
                fields[7] = "N"
            out_nodes.append("|".join(fields))
        for line in instances:
            fields = _renamed(line, copy, len(groups)).split("|")
            if copy:
                fields[0] = f"{fields[0]}-c{copy}"
            out_insts.append("|".join(fields))
        out_policies += [_renamed(line, copy, len(groups)) for line in policies[1:]]
    parts = [out_groups, out_nodes, out_insts, tags, out_policies]
    lines: list[str] = []
    for pos, part in enumerate(parts):
        lines += part if pos == 0 else ["", *part]
    return "\n".join(lines) + "\n"


def _command(tool: str) -> list[str]:
    """Our console script for ``tool`` beside this Python, else its module."""
    script = Path(sys.executable).parent / f"ganeti-{tool}"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", f"ganeti_agent.htools.{tool}"]


def ours() -> list[str]:
    return _command("hroller")


def write_base(workdir: Path) -> Path:
    """The 200-node base cluster, saved by ``ganeti-hspace -S`` (its ``.tiered`` state)."""
    subprocess.run(
        [*_command("hspace"), *BASE_ARGS, "-S", str(workdir / "c200")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return workdir / "c200.tiered"


def peak_rss_kib(argv: list[str]) -> int | None:
    """The command's peak RSS in a run of its own, so the timed runs carry no wrapper."""
    return gnu_time_peak(argv)[1]


@dataclass(frozen=True)
class Best:
    """The fastest of several runs of one command, and whether all printed the same."""

    run: Run
    outputs: frozenset[tuple[bytes, int]]
    rss_kib: int


def _best(runs: list[Run], argv: list[str]) -> Best:
    fastest = min(runs, key=lambda r: r.seconds)
    rss = peak_rss_kib(argv)
    outputs = frozenset((r.stdout, r.code) for r in runs)
    return Best(fastest, outputs, fastest.max_rss_kib if rss is None else rss)


def _measure_both(argv: list[str], real: Path | None, repeat: int) -> tuple[Best, Best | None]:
    """Ours and the real tool in turn, ``repeat`` times each."""
    mine: list[Run] = []
    theirs: list[Run] = []
    for _ in range(repeat):
        mine.append(measure([*ours(), *argv]))
        if real is not None:
            theirs.append(measure([str(real), *argv]))
    real_argv = [str(real), *argv]
    return _best(mine, [*ours(), *argv]), (_best(theirs, real_argv) if theirs else None)


def _row(label: tuple[int, int, str], mine: Best, theirs: Best | None) -> list[str]:
    nodes, instances, shown = label
    ours_cells = [f"{mine.run.seconds:.3f}", f"{mine.rss_kib / 1024:.0f}"]
    if theirs is None:
        return [str(nodes), str(instances), shown, NOT_INSTALLED, ours_cells[0], "-", "-",
                ours_cells[1], "-"]  # fmt: skip
    same = len(mine.outputs | theirs.outputs) == 1
    return [
        str(nodes),
        str(instances),
        shown,
        f"{theirs.run.seconds:.3f}",
        ours_cells[0],
        f"{mine.run.seconds / theirs.run.seconds:.2f}",
        f"{theirs.rss_kib / 1024:.0f}",
        ours_cells[1],
        "yes" if same else "NO",
    ]


def _clusters(workdir: Path, base: Path, copies: list[int], small: Path | None) -> list[Path]:
    paths = [] if small is None or not small.exists() else [small]
    text = base.read_text()
    for count in copies:
        path = workdir / f"cluster-x{count}.data"
        path.write_text(scale_cluster(text, count))
        paths.append(path)
    return paths


def hroller_table(
    copies: list[int],
    repeat: int = 3,
    base: Path | None = None,
    small: Path | None = SMALL_CLUSTER,
    real_dir: Path = REAL_DIR,
) -> Table:
    """The bench section: best wall time and peak RSS of both tools, outputs compared."""
    real = real_dir / "hroller"
    have_real = real.exists()
    compileall.compile_dir(Path(ganeti_agent.__file__).parent, quiet=1)
    table = Table("hroller: real vs ganeti-hroller", COLUMNS)
    with tempfile.TemporaryDirectory(prefix="bench-hroller-") as work:
        workdir = Path(work)
        source = base if base is not None else write_base(workdir)
        for path in _clusters(workdir, source, copies, small):
            content = path.read_text()
            n_nodes = len(re.findall(r"^[^|\n]+(?:\|[^|\n]*){6}\|[NYM]\|", content, re.MULTILINE))
            n_insts = content.count("|drbd|")
            for options in COMMAND_LINES:
                argv = [*options, "-t", str(path)]
                mine, theirs = _measure_both(argv, real if have_real else None, repeat)
                label = (n_nodes, n_insts, " ".join(options) or "(none)")
                table.rows.append(_row(label, mine, theirs))
    table.notes.append(
        f"best of {repeat} runs each, ours and the real tool in turn; the small cluster is "
        "Ganeti's hroller-full.data, the others ganeti-hspace -S output copied side by side"
    )
    if not GNU_TIME.exists():
        table.notes.append(
            "peak RSS from wait4: without GNU time (/usr/bin/time) it includes the bench "
            "process's own size, about 20 MiB"
        )
    if not have_real:
        table.notes.append(f"real hroller not measured: {real} is {NOT_INSTALLED}")
    return table


def table(copies: list[int], repeat: int, base: Path | None, small: Path | None, real: Path) -> str:
    """The section as a Markdown table (for the README and docs/benchmarks.md)."""
    built = hroller_table(copies, repeat, base, small, real)
    lines = ["| " + " | ".join(built.columns) + " |", "|---:|---:|---|" + "---:|" * 5 + "---|"]
    lines.extend("| " + " | ".join(row) + " |" for row in built.rows)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, help="a cluster saved by hspace -S (else written)")
    parser.add_argument("--copies", default="1,5", help="comma-separated copy counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command line and tool")
    parser.add_argument("--small", type=Path, default=SMALL_CLUSTER, help="a small cluster file")
    parser.add_argument("--real", type=Path, default=REAL_DIR, help="directory of the real htools")
    args = parser.parse_args(argv)
    copies = [int(n) for n in args.copies.split(",")]
    print(table(copies, args.repeat, args.base, args.small, args.real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
