"""ganeti-hroller against Ganeti 3.0.2's real hroller on random clusters.

Each case is a random cluster in the text backend's format (DRBD, plain,
diskless and file instances over random nodes and groups, tags, offline
nodes, no, one or two masters, memory and disk tight enough that moves
sometimes fail) and a random hroller command line. Stdout, stderr and the
exit code must be the same bytes. Skipped where the real tool is not
installed (Debian: ``ganeti-htools-3.0``); tests never need it otherwise.

By hand, many more cases:
``python -m tests.htools.test_hroller_differential COUNT [SEED]``.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from ganeti_agent.htools import cli, hroller
from ganeti_agent.htools.source import ExitError

REAL_HROLLER = Path("/usr/lib/ganeti/3.0/usr/bin/hroller")
ENV = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC", "HOME": "/tmp", "PATH": "/usr/bin:/bin"}
TAGS = ("red", "blue", "green")
POLICY = (
    "128,1,1024,1,1,1|128,1,1024,1,1,1;32768,8,1048576,16,8,12|"
    "diskless,file,sharedfile,plain,blockdev,drbd,rbd,ext|4.0|32.0"
)


@dataclass(frozen=True)
class Case:
    data: str
    args: list[str]
    group_names: list[str]
    node_names: list[str]


def _node_line(rng: random.Random, name: str, uuid: str, status: str, roomy: bool) -> str:
    t_mem = rng.choice((65536, 131072) if roomy else (2048, 4096, 8192, 16384))
    n_mem = rng.choice((0, 256, 1024))
    f_mem = t_mem - n_mem - rng.randint(0, 4096) if roomy else rng.randint(0, t_mem - n_mem)
    t_dsk = rng.choice((409600, 1048576) if roomy else (4096, 10240, 51200, 102400))
    f_dsk = t_dsk - rng.randint(0, 40960) if roomy else rng.randint(0, t_dsk)
    tags = ",".join(t for t in TAGS if rng.random() < 0.4)
    cpus = rng.choice((2, 4, 8))
    return f"{name}|{t_mem}|{n_mem}|{f_mem}|{t_dsk}|{f_dsk}|{cpus}|{status}|{uuid}|1|{tags}"


def _instance_line(rng: random.Random, name: str, nodes: list[tuple[str, int]]) -> str:
    template = rng.choices(("drbd", "plain", "diskless", "file"), (60, 25, 10, 5))[0]
    pname, pgroup = rng.choice(nodes)
    snode = ""
    if template == "drbd":
        same = [n for n, g in nodes if g == pgroup and n != pname]
        other = [n for n, _ in nodes if n != pname]
        pool = same if same and rng.random() < 0.85 else other
        snode = rng.choice(pool) if pool else ""
    elif rng.random() < 0.03:
        snode = rng.choice(nodes)[0]
    status = rng.choices(("running", "ADMIN_down", "ADMIN_offline", "ERROR_up"), (80, 8, 6, 6))[0]
    mem = rng.choice((128, 512, 1024, 2048, 4096))
    dsk = rng.choice((256, 1024, 4096, 10240))
    balance = "Y" if rng.random() < 0.9 else "N"
    return f"{name}|{mem}|{dsk}|1|{status}|{balance}|{pname}|{snode}|{template}||1"


def random_cluster(rng: random.Random) -> tuple[str, list[str], list[str]]:
    """A cluster in the text format, its group names and its node names."""
    group_count = rng.choice((1, 1, 2, 3))
    groups = [(f"group-{g:02d}", f"uuid-{g:02d}") for g in range(1, group_count + 1)]
    node_count = rng.randint(0 if rng.random() < 0.03 else 1, 12)
    masters = rng.choices((0, 1, 2), (10, 85, 5))[0]
    master_positions = set(rng.sample(range(node_count), min(masters, node_count)))
    roomy = rng.random() < 0.5
    node_lines = []
    nodes: list[tuple[str, int]] = []
    for pos in range(node_count):
        gpos = rng.randrange(group_count)
        name = f"node-{pos:02d}"
        status = "M" if pos in master_positions else ("Y" if rng.random() < 0.12 else "N")
        node_lines.append(_node_line(rng, name, groups[gpos][1], status, roomy))
        nodes.append((name, gpos))
    inst_lines = []
    if nodes:
        for pos in range(rng.randint(0, 3 * node_count)):
            inst_lines.append(_instance_line(rng, f"inst-{pos:02d}", nodes))
    sections = [
        "\n".join(f"{name}|{uuid}|preferred|" for name, uuid in groups),
        "\n".join(node_lines),
        "\n".join(inst_lines),
        "",
        "\n".join([f"|{POLICY}"] + [f"{name}|{POLICY}" for name, _ in groups]),
    ]
    return "\n\n".join(sections) + "\n", [g for g, _ in groups], [n for n, _ in nodes]


def random_args(rng: random.Random, group_names: list[str], node_names: list[str]) -> list[str]:
    args: list[list[str]] = []
    for flag, chance in (
        ("--no-headers", 0.5),
        ("--ignore-non-redundant", 0.25),
        ("--skip-non-redundant", 0.15),
        ("--offline-maintenance", 0.2),
        ("--full-evacuation", 0.3),
        ("--print-moves", 0.4),
        ("--one-step-only", 0.25),
        ("-f", 0.2),
        ("-v", 0.15),
        ("-v", 0.15),
    ):
        if rng.random() < chance:
            args.append([flag])
    if rng.random() < 0.2:
        args.append(["--node-tags=" + ",".join(rng.sample(TAGS, rng.randint(1, 2)))])
    if group_names and rng.random() < 0.15:
        args.append(["-G", rng.choice([*group_names, "no-such-group"])])
    if node_names and rng.random() < 0.15:
        args.append(["-O", rng.choice(node_names)])
    rng.shuffle(args)
    return [word for option in args for word in option]


def random_case(seed: int) -> Case:
    rng = random.Random(seed)
    data, groups, nodes = random_cluster(rng)
    return Case(data, random_args(rng, groups, nodes), groups, nodes)


def run_ours(data_file: str, args: list[str]) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        options = cli.parse_options("hroller", [*args, "-t", data_file])
        code = hroller.run(options, out, err)
    except cli.UsageExit as stop:
        return stop.stdout_text, stop.stderr_text, stop.code
    except ExitError as exc:
        err.write(f"Error: {exc}\n")
        code = 1
    return out.getvalue(), err.getvalue(), code


def run_real(data_file: str, args: list[str]) -> tuple[str, str, int]:
    done = subprocess.run(
        [str(REAL_HROLLER), *args, "-t", data_file],
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
        timeout=120,
    )
    return done.stdout, done.stderr, done.returncode


def haskell_crash_answered(real: tuple[str, str, int], ours: tuple[str, str, int]) -> bool:
    """The real tool died with a Haskell runtime error; we exit the same with one clear line.

    (Full evacuation of a DRBD instance without secondary: ``IntMap.!: key -1``.)
    """
    before, crash, _ = real[1].partition("hroller: ")
    if not crash or "CallStack" not in real[1] or not ours[1].startswith(before):
        return False
    last = ours[1][len(before) :]
    one_line = last.startswith("Error: ") and last.count("\n") == 1 and last.endswith("\n")
    return one_line and real[0] == ours[0] and real[2] == ours[2] == 1


def differences(seed: int, workdir: str) -> str | None:
    """None when both tools answer the same on the case of ``seed``, else a report."""
    case = random_case(seed)
    path = os.path.join(workdir, f"cluster-{seed}.data")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(case.data)
    real = run_real(path, case.args)
    ours = run_ours(path, case.args)
    if real == ours or haskell_crash_answered(real, ours):
        os.unlink(path)
        return None
    return (
        f"seed {seed}: hroller {' '.join(case.args)} -t {path}\n  real: {real!r}\n  ours: {ours!r}"
    )


@pytest.mark.skipif(not REAL_HROLLER.exists(), reason="Ganeti's real hroller is not installed")
def test_random_clusters_answer_as_the_real_hroller(tmp_path: Path) -> None:
    reports = [d for seed in range(150) if (d := differences(seed, str(tmp_path))) is not None]
    assert reports == [], "\n".join(reports[:5])


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 1000
    first = int(argv[1]) if len(argv) > 1 else 0
    workdir = tempfile.mkdtemp(prefix="hroller-diff-")
    failed = 0
    for seed in range(first, first + count):
        report = differences(seed, workdir)
        if report is not None:
            failed += 1
            print(report, flush=True)
    print(f"{count - failed} same, {failed} different (seeds {first}..{first + count - 1})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
