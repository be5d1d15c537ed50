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

from tests.htools.random_clusters import random_cluster

REAL = Path("/usr/lib/ganeti/3.0/usr/bin/hspace")
TEMPLATES = ("plain", "drbd", "ext", "file", "sharedfile", "rbd", "diskless")


def random_args(rng: random.Random, path: Path) -> list[str]:
    """A command line scripts might use, on the cluster at ``path``."""
    args = [
        "-t",
        str(path),
        rng.choice(["--machine-readable", "-v", "-v -v -p"]),
        rng.choice(["--no-capacity-checks", "--accept-existing", "--independent-groups", ""]),
    ]
    if rng.random() < 0.6:
        args.append(f"--disk-template={rng.choice(TEMPLATES[:4])}")
    if rng.random() < 0.3:
        spindles = rng.choice(["", "", ",1", ",3"])
        disk, mem = rng.choice([2048, 4096, 102400]), rng.choice([10240, 51200, 4096])
        args.append(f"--tiered-alloc={disk},{mem},{rng.randint(1, 4)}{spindles}")
    if rng.random() < 0.2:
        args.append(f"--max-cpu={rng.choice(['2', '1.5', '8'])}")
    if rng.random() < 0.2:
        args.append(f"--min-disk={rng.choice(['0.1', '0.5'])}")
    if rng.random() < 0.2:
        args.append(f"-l{rng.randint(0, 5)}")
    if rng.random() < 0.1:
        args.append("-O" + "node-1")
    return " ".join(args).split()


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
        args = random_args(rng, path)
        if run([str(REAL), *args]) != run([*ours, *args]):
            differing.append((case, args, path.read_text()))
    assert differing == []


EXCL_TIERED = Path(__file__).parent / "data" / "hspace-excl-tiered.data"
EXCL_TIERED_ARGS = ["--no-capacity-checks", "--disk-template=drbd"]


def test_exclusive_storage_tiered_matches_real_hspace() -> None:
    """Found by this differential run: a shrink chain's last size is never tried.

    Two groups, one exclusive-storage node with one free spindle. After two
    tiers, ``sufficesShrinking`` on FailSpindles walks 12 spindles down;
    Ganeti's ``iterateOk`` leaves out the size that cannot shrink any more
    (1 spindle), so Ganeti places nothing more where a walk to 1 would.
    """
    if not REAL.exists():
        pytest.skip("Ganeti's hspace (ganeti-htools-3.0) is not installed; nothing to compare with")
    args = ["-t", str(EXCL_TIERED), *EXCL_TIERED_ARGS]
    ours = [sys.executable, "-m", "ganeti_agent.htools.hspace"]
    assert run([str(REAL), *args]) == run([*ours, *args])


DATA = Path(__file__).parent / "data"
RECORDED = {
    "hspace-excl-tiered": EXCL_TIERED_ARGS,
    # A one-node group whose diskless instance can go nowhere: no grown
    # cluster is N+1 redundant, and tiered allocation walks 4,113 tiers.
    "hspace-n1-never": ["-v", "-v", "-p", "--disk-template=plain"],
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_cases_match_the_real_output(name: str) -> None:
    """Cases found by this differential run, against the real tool's recorded output."""
    data = DATA / f"{name}.data"
    ours = [sys.executable, "-m", "ganeti_agent.htools.hspace", "-t", str(data)]
    code, out, err = run([*ours, *RECORDED[name]])
    assert (code, out.decode(), err.decode()) == (
        0,
        data.with_suffix(".stdout").read_text(),
        data.with_suffix(".stderr").read_text(),
    )
