"""Our own golden cases for ``mon-collector drbd``/``lv``: inputs we wrote, real answers.

``inputs/`` holds /proc/drbd, lvs, pairing and instance files written for this project
(edge cases Ganeti's own test data lacks); ``expected/NAME.json`` and ``NAME.rc`` are
what Debian's real mon-collector 3.0.2 printed for them. Re-record with
``python -m tests.golden.storage_goldens /usr/lib/ganeti/3.0/usr/lib/ganeti/mon-collector``.
Comparison ignores the ``timestamp`` value, like ``fixtures/golden/compare.py``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
EXPECTED = HERE / "expected"
CASES = HERE / "cases.tsv"
REAL_MON_COLLECTOR = "/usr/lib/ganeti/3.0/usr/lib/ganeti/mon-collector"


@dataclass(frozen=True)
class Case:
    name: str
    expectation: str
    arguments: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


def load_cases() -> list[Case]:
    cases = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, expectation, arguments = line.split("\t")
        cases.append(Case(name, expectation, tuple(shlex.split(arguments))))
    return cases


def run_case(command: list[str], case: Case, timeout: float = 30) -> Outcome:
    env = {k: v for k, v in os.environ.items() if k != "GANETI_ROOTDIR"}
    env["LC_ALL"] = "C.UTF-8"
    done = subprocess.run(
        [*command, *case.arguments],
        cwd=INPUTS,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


def _comparable(stdout: str) -> Any:
    if not stdout.strip():
        return None
    report = json.loads(stdout)
    if isinstance(report, dict) and "timestamp" in report:
        report["timestamp"] = None
    return report


def expected(case: Case) -> Outcome:
    return Outcome(
        int((EXPECTED / f"{case.name}.rc").read_text().strip()),
        (EXPECTED / f"{case.name}.json").read_text(encoding="utf-8"),
        "",
    )


def difference(case: Case, actual: Outcome) -> str | None:
    """None when ``actual`` matches the recorded answer, else what differs."""
    want = expected(case)
    if actual.exit_code != want.exit_code:
        return f"exit status {actual.exit_code}, expected {want.exit_code}: {actual.stderr}"
    if _comparable(actual.stdout) != _comparable(want.stdout):
        return f"stdout differs:\n{actual.stdout}\nexpected:\n{want.stdout}"
    return None


def record(command: list[str]) -> None:
    EXPECTED.mkdir(exist_ok=True)
    for case in load_cases():
        outcome = run_case(command, case)
        (EXPECTED / f"{case.name}.json").write_text(outcome.stdout, encoding="utf-8")
        (EXPECTED / f"{case.name}.rc").write_text(f"{outcome.exit_code}\n")
        print(f"RECORDED {case.name} (exit {outcome.exit_code})")


if __name__ == "__main__":
    record(sys.argv[1:] or [REAL_MON_COLLECTOR])
