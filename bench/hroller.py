"""The ``hroller`` part: the real hroller and ours on large DRBD clusters, same bytes.

    .venv/bin/python -m bench.hroller --base CLUSTER [--copies 1,5] [--real DIR]

``CLUSTER`` is a cluster state saved by hspace ``-S``; the one measured in
docs/benchmarks.md came from Ganeti's real hspace::

    hspace $(for g in $(seq 10); do echo --simulate=p,20,8T,256g,64; done) \\
        --disk-template=drbd --tiered-alloc=262144,65536,16 -S c200

(10 groups of 20 nodes, 1,511 DRBD instances; minutes of hspace, so it is
an input, not a step). ``--copies K`` puts K renamed copies of it side by
side (groups, nodes and instances renamed, one master), so 5 copies are
1,000 nodes. For each size and each command line the table gives wall
time and peak RSS (``wait4``'s ru_maxrss) of both tools and whether
stdout and the exit code were the same.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from bench.htools import REAL_DIR, measure

COMMAND_LINES = (
    (),
    ("--offline-maintenance",),
    ("--full-evacuation", "--print-moves"),
)
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


def ours() -> list[str]:
    script = Path(sys.executable).parent / "ganeti-hroller"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ganeti_agent.htools.hroller"]


def table(base: Path, copies: list[int], real_dir: Path) -> str:
    real = real_dir / "hroller"
    have_real = real.exists() and shutil.which(str(real)) is not None
    lines = [
        "| nodes | instances | options | real s | ours s | ours/real | real RSS MiB "
        "| ours RSS MiB | same stdout+rc |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    workdir = Path(tempfile.mkdtemp(prefix="bench-hroller-"))
    for count in copies:
        path = workdir / f"cluster-x{count}.data"
        path.write_text(scale_cluster(base.read_text(), count))
        n_nodes = len(re.findall(r"^node-.*\|[NYM]\|", path.read_text(), re.MULTILINE))
        n_insts = path.read_text().count("|drbd|")
        for options in COMMAND_LINES:
            argv = [*options, "-t", str(path)]
            mine = measure([*ours(), *argv])
            shown = " ".join(options) or "(none)"
            if not have_real:
                lines.append(
                    f"| {n_nodes} | {n_insts} | {shown} | not installed | {mine.seconds:.2f} "
                    f"| - | - | {mine.max_rss_kib / 1024:.0f} | - |"
                )
                continue
            theirs = measure([str(real), *argv])
            same = theirs.stdout == mine.stdout and theirs.code == mine.code
            lines.append(
                f"| {n_nodes} | {n_insts} | {shown} | {theirs.seconds:.2f} | {mine.seconds:.2f} "
                f"| {mine.seconds / theirs.seconds:.2f} | {theirs.max_rss_kib / 1024:.0f} "
                f"| {mine.max_rss_kib / 1024:.0f} | {'yes' if same else 'NO'} |"
            )
    shutil.rmtree(workdir)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, required=True, help="a cluster saved by hspace -S")
    parser.add_argument("--copies", default="1,5", help="comma-separated copy counts")
    parser.add_argument("--real", type=Path, default=REAL_DIR, help="directory of the real htools")
    args = parser.parse_args(argv)
    print(table(args.base, [int(n) for n in args.copies.split(",")], args.real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
