"""Random text clusters: our hspace against the real one, byte for byte.

Skipped when Ganeti's hspace is not installed. By hand, for more clusters:
``HSPACE_DIFF_COUNT=500 .venv/bin/python -m pytest tests/htools/test_hspace_differential.py``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

REAL = Path("/usr/lib/ganeti/3.0/usr/bin/hspace")
TEMPLATES = ("plain", "drbd", "ext", "file", "sharedfile", "rbd", "diskless")


def random_cluster(rng: random.Random) -> str:
    groups = rng.randint(1, 2)
    lines = [
        f"group-{g}|uuid-{g}|{rng.choice(['preferred', 'preferred', 'last_resort'])}||"
        for g in range(groups)
    ]
    lines.append("")
    nodes = []
    for n in range(rng.randint(2, 5)):
        mem = rng.choice([4096, 8192, 16384, 32768])
        dsk = rng.choice([20480, 102400, 409600])
        name = f"node-{n}.example.com"
        nodes.append(name)
        flag = rng.choice("NNNNY") if n else "M"
        lines.append(
            f"{name}|{mem}|{rng.choice([0, 512])}|{mem - rng.randint(0, 1024)}|{dsk}|{dsk}|"
            f"{rng.choice([4, 8, 16])}|{flag}|uuid-{rng.randrange(groups)}|1"
        )
    lines.append("")
    for i in range(rng.randint(0, 4)):
        template = rng.choice(TEMPLATES)
        pnode = rng.choice(nodes)
        snode = rng.choice([n for n in nodes if n != pnode]) if template == "drbd" else ""
        lines.append(
            f"inst-{i}.example.com|{rng.choice([128, 512, 1024])}|{rng.choice([1024, 4096])}|"
            f"{rng.randint(1, 2)}|{rng.choice(['running', 'ADMIN_down'])}|Y|"
            f"{pnode}|{snode}|{template}||1"
        )
    lines.append("")
    lines.append("")
    return "\n".join(lines) + "\n"


def run(argv: list[str]) -> tuple[int, bytes, bytes]:
    proc = subprocess.run(
        argv,
        capture_output=True,
        check=False,
        timeout=300,
        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_random_clusters_match_real_hspace(tmp_path: Path) -> None:
    if not REAL.exists():
        pytest.skip("Ganeti's hspace (ganeti-htools-3.0) is not installed; nothing to compare with")
    rng = random.Random(int(os.environ.get("HSPACE_DIFF_SEED", "11")))
    ours = [sys.executable, "-m", "ganeti_agent.htools.hspace"]
    differing = []
    for case in range(int(os.environ.get("HSPACE_DIFF_COUNT", "5"))):
        path = tmp_path / f"c{case}.data"
        path.write_text(random_cluster(rng))
        args = [
            "-t",
            str(path),
            rng.choice(["--machine-readable", "-v"]),
            rng.choice(["--no-capacity-checks", "--accept-existing", "--independent-groups"]),
        ]
        if rng.random() < 0.5:
            args.append(f"--disk-template={rng.choice(TEMPLATES[:4])}")
        if run([str(REAL), *args]) != run([*ours, *args]):
            differing.append((case, args, path.read_text()))
    assert differing == []
