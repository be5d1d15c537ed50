"""CI cannot go green without ../shared: the conftest rule, run on a throwaway test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO, REQUIRE_SHARED_VARIABLE, shared_missing_reason

PROBES = """
import pytest
from tests.support import shared_path, shared_missing_reason

def test_needs_a_missing_fixture():
    shared_path("fixtures/no-such-file.txt")

@pytest.mark.skipif(True, reason=shared_missing_reason("fixtures/no-such-file.txt"))
def test_marked_for_a_missing_fixture():
    pass

@pytest.mark.skipif(True, reason="the real tool is not installed")
def test_skipped_for_another_reason():
    pass
"""


def run_probes(tmp_path: Path, required: str | None) -> subprocess.CompletedProcess[str]:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBES)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    if required is not None:
        env[REQUIRE_SHARED_VARIABLE] = required
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "-rA", str(probe)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    return done


@pytest.mark.parametrize("required", [None, "0"])
def test_missing_fixtures_skip_by_default(tmp_path: Path, required: str | None) -> None:
    done = run_probes(tmp_path, required)
    assert done.returncode == 0
    assert "3 skipped" in done.stdout.splitlines()[-1]


def test_missing_fixtures_fail_when_required(tmp_path: Path) -> None:
    done = run_probes(tmp_path, "1")
    summary = done.stdout.splitlines()[-1]
    assert done.returncode == 1
    assert "1 failed" in summary and "1 error" in summary and "1 skipped" in summary


def test_the_reason_names_the_file() -> None:
    assert "fixtures/x.txt" in shared_missing_reason("fixtures/x.txt")
