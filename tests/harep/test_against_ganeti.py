"""ganeti-harep against Ganeti 3.0.2's harep, scenario by scenario, over a fake master.

Each scenario's record (requests per connection, jobs with their opcodes,
reason trail and comment, stdout, stderr, exit status, tags afterwards) must
equal Ganeti's after UUIDs, times and the version are normalised: against
the recording in ``data/recorded.json`` always, and against the installed
harep when there is one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harep.runner import ganeti, ours, real_harep, record, script
from tests.harep.scenarios import SCENARIOS, Scenario, by_name
from tests.support import async_test

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "recorded.json").read_text()
)
SAME = [scenario for scenario in SCENARIOS if scenario.same_as_ganeti]


@pytest.fixture
def directory() -> Iterator[Path]:
    """A short directory: Unix socket paths are limited to about 100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="harep-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("scenario", SAME, ids=lambda s: s.name)
@async_test
async def test_same_as_the_recorded_ganeti_harep(scenario: Scenario, directory: Path) -> None:
    mine = await record(scenario, ours(directory / "lock"), directory / "query.sock")
    assert mine == RECORDED[scenario.name]


@pytest.mark.skipif(real_harep() is None, reason="Ganeti's harep is not installed")
@pytest.mark.parametrize("scenario", SAME, ids=lambda s: s.name)
@async_test
async def test_same_as_the_installed_ganeti_harep(scenario: Scenario, directory: Path) -> None:
    binary = real_harep()
    assert binary is not None
    theirs = await record(scenario, ganeti(binary), directory / "theirs.sock")
    mine = await record(scenario, ours(directory / "lock"), directory / "ours.sock")
    assert mine == theirs


@pytest.mark.parametrize("name", ["no-delay-with-reason", "two-pending"])
@async_test
async def test_the_console_script_as_a_process(name: str, directory: Path) -> None:
    """Exit status, flushing, one error line: the script as cron runs it."""
    mine = await record(by_name(name), script(directory / "lock"), directory / "query.sock")
    assert mine == RECORDED[name]
