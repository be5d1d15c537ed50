"""hroller against the goldens of Ganeti 3.0.2's real hroller (../shared/htools-golden)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import SHARED

COMPARE = SHARED / "htools-golden" / "compare"


def test_every_hroller_golden_case_matches() -> None:
    if not COMPARE.exists():
        pytest.skip("../shared/htools-golden is not available in this checkout")
    bindir = Path(sys.executable).parent
    if shutil.which("ganeti-hroller", path=str(bindir)) is None:
        pytest.skip("the ganeti-hroller console script is not installed next to this Python")
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, str(COMPARE), "--tool", "hroller", "--hroller", "ganeti-hroller"]
    result = subprocess.run(
        [*command, "--timeout", "300"], capture_output=True, text=True, env=env, check=False
    )
    failed = re.findall(r"^MISMATCH (\S+)", result.stdout, re.MULTILINE)
    assert failed == [], f"hroller golden cases that differ: {failed}\n{result.stdout[-3000:]}"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^[1-9]\d* passed, 0 failed$", result.stdout, re.MULTILINE)
