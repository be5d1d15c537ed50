"""The shared acceptance check: ``fixtures/golden/compare.py`` over our console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import shared_missing_reason

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
COMPARE = SHARED / "fixtures" / "golden" / "compare.py"
CANDIDATE = Path(sys.executable).with_name("ganeti-mon-collector")


@pytest.mark.skipif(
    not COMPARE.exists(), reason=shared_missing_reason("fixtures/golden/compare.py")
)
@pytest.mark.skipif(not CANDIDATE.exists(), reason="ganeti-mon-collector is not installed")
@pytest.mark.parametrize("subcommand", ["drbd", "lv"])
def test_compare_py_passes_every_case(subcommand: str) -> None:
    done = subprocess.run(
        [sys.executable, str(COMPARE), "-k", f"{subcommand}-", str(CANDIDATE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1].endswith(" 0 failed")
