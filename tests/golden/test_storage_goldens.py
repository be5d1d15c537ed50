"""Our ganeti-mon-collector against the real one's answers on inputs we wrote.

The expected outputs were recorded from Debian's mon-collector 3.0.2 (see
storage_goldens.py); the inputs are this project's own. Cases marked ``departure``
are documented differences and are checked for our behaviour instead.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.golden.storage_goldens import Case, difference, expected, load_cases, run_case

CANDIDATE = Path(sys.executable).with_name("ganeti-mon-collector")
pytestmark = pytest.mark.skipif(
    not CANDIDATE.exists(), reason="ganeti-mon-collector is not installed in this environment"
)
CASES = load_cases()


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.expectation == "same"], ids=lambda case: case.name
)
def test_same_as_real_mon_collector(case: Case) -> None:
    assert difference(case, run_case([str(CANDIDATE)], case)) is None


def test_disconnecting_is_reported_where_ganeti_fails() -> None:
    case = next(c for c in CASES if c.name == "drbd-disconnecting")
    assert expected(case).exit_code == 1
    outcome = run_case([str(CANDIDATE)], case)
    assert outcome.exit_code == 0
    data = json.loads(outcome.stdout)["data"]
    assert data["deviceInfos"][0]["connectionState"] == "Disconnecting"
    assert data["status"] == {"code": 4, "message": "\n0: The peer is being disconnected"}


def test_every_case_has_a_recording() -> None:
    for case in CASES:
        assert expected(case).exit_code in (0, 1), case.name


@pytest.mark.skipif(
    shutil.which("drbdsetup") is not None, reason="a real drbdsetup would be asked here"
)
def test_drbd9_file_without_drbdsetup_fails_cleanly() -> None:
    case = next(c for c in CASES if c.name == "drbd9-transports")
    outcome = run_case([str(CANDIDATE)], case)
    assert (outcome.exit_code, outcome.stdout) == (1, "")
    assert "drbdsetup" in outcome.stderr
