"""What ganeti-harep does beyond Ganeti's harep to keep the cluster's tags consistent.

A repair whose ``pending`` tag could not be written is tagged on a second
connection or cancelled; if neither works, the one error line names the
jobs. A dry run sends no job. Overlapping runs: the second waits for no
lock, it refuses to start; and a repair still pending is never submitted again.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganeti_agent.harep.program import MAX_STATUS_CHECKS
from tests.harep import fake_master
from tests.harep.runner import ours, record
from tests.harep.scenarios import Scenario, Step, by_name
from tests.support import async_test

TAG = "ganeti:watcher:autorepair:"


@pytest.fixture
def directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="harep-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error: ")]


def _submitted(requests: list[str]) -> list[str]:
    """The OP_IDs of every submitted job, in order."""
    ops = []
    for request in requests:
        if request.startswith("{") and '"SubmitManyJobs"' in request:
            body = json.loads(request.replace("<ns>", "0"))
            ops += [op["OP_ID"] for job in body["args"][0] for op in job]
    return ops


@async_test
async def test_a_refused_pending_tag_is_written_on_a_second_connection(directory: Path) -> None:
    [step] = await record(by_name("pending-tag-refused"), ours(directory / "lock"), directory / "s")
    assert step["code"] == 1
    assert _error_lines(step["stderr"]) == [
        "Error: Job submission error: Failure: prerequisites not met for this operation:",
    ]
    assert step["stderr"].endswith(
        "The job queue is unavailable; the tag of repair job(s) 1000 of primary-off was"
        " written on a retry\n"
    )
    assert step["tags"]["primary-off"] == [
        f"{TAG}failover",
        f"{TAG}pending:failover:<uuid-1>:<time>:1000",
    ]
    assert step["requests"].count("connect") == 4


@async_test
async def test_a_queued_repair_without_its_tag_is_cancelled(directory: Path) -> None:
    master = fake_master.queued_repair_failing_tag_master()
    scenario = Scenario("cancelled", lambda: master)
    [step] = await record(scenario, ours(directory / "lock"), directory / "s")
    assert step["code"] == 1
    assert _error_lines(step["stderr"]) == [
        "Error: The following jobs failed: 1001=>error; repair job(s) 1000 of primary-off cancelled"
    ]
    assert master.job_status[1000] == "canceled"
    assert step["tags"]["primary-off"] == [f"{TAG}failover"]
    assert step["requests"][-1] == '{"method":"CancelJob","args":[1000,false]}'


@async_test
async def test_a_running_repair_without_its_tag_is_named(directory: Path) -> None:
    [step] = await record(by_name("tag-job-failed"), ours(directory / "lock"), directory / "s")
    assert step["code"] == 1
    assert _error_lines(step["stderr"]) == [
        "Error: The following jobs failed: 1001=>error; repair job(s) 1000 of primary-off run"
        f" without their tag {TAG}pending:failover:<uuid-1>:<time>:1000"
    ]
    assert "Traceback" not in step["stderr"]


@async_test
async def test_a_dry_run_submits_nothing_and_changes_no_tag(directory: Path) -> None:
    before = {i.name: list(i.tags) for i in fake_master.every_state_cluster().instances}
    [step] = await record(by_name("dry-run"), ours(directory / "lock"), directory / "s")
    assert step["code"] == 0
    assert _submitted(step["requests"]) == []
    assert not any("CancelJob" in request for request in step["requests"])
    assert step["tags"] == before
    assert not (directory / "lock").exists()


@async_test
async def test_a_pending_repair_is_not_submitted_again(directory: Path) -> None:
    scenario = Scenario("twice", fake_master.every_state_master, (Step(), Step()))
    first, second = await record(scenario, ours(directory / "lock"), directory / "s")
    assert _submitted(first["requests"]).count("OP_INSTANCE_FAILOVER") == 2
    assert [op for op in _submitted(second["requests"]) if not op.startswith("OP_TAGS")] == []
    assert "Pending repair: 6" in second["stdout"]


@async_test
async def test_a_second_run_does_not_start_while_one_holds_the_lock(directory: Path) -> None:
    lock = directory / "lock"
    holder = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        locked = Scenario("locked", fake_master.every_state_master)
        [step] = await record(locked, ours(lock), directory / "s")
    finally:
        os.close(holder)
    assert step["code"] == 1
    assert step["stdout"] == ""
    assert step["stderr"] == f"Error: another harep run holds the lock {lock}; not starting\n"
    assert step["requests"] == []


def _answering(method: str, reply: bytes) -> Scenario:
    """One repair, with ``reply`` as the master's answer to ``method``."""

    def build() -> fake_master.FakeMaster:
        master = fake_master.one_repair_master()
        answer = master.answer

        def hostile(message: bytes) -> bytes:
            return reply if json.loads(message)["method"] == method else answer(message)

        master.answer = hostile  # type: ignore[method-assign]
        return master

    return Scenario("hostile", build)


@pytest.mark.parametrize(
    ("method", "reply", "line"),
    [
        ("SubmitManyJobs", b'{"success":true,"result":{"a":1}}',
         'Error: Job submission error: Unhandled exception: LuxiError "Cannot parse response'
         ' from Ganeti: {\\"a\\": 1}"'),
        ("SubmitManyJobs", b'{"success":true,"result":[[true,-4]]}',
         "Error: Job submission error: Unhandled exception: LuxiError \"Invalid value for job ID"
         " ' -4'\""),
        ("SubmitManyJobs", b'{"success":false,"result":["OpPrereqError",["' + b"x" * 10000
         + b'","wrong_state"]]}', None),
        ("SubmitManyJobs", b"\xff\xfe", None),
    ],
)  # fmt: skip
@async_test
async def test_a_hostile_master_gets_one_bounded_line(
    method: str, reply: bytes, line: str | None, directory: Path
) -> None:
    scenario = _answering(method, reply)
    [step] = await record(scenario, ours(directory / "lock"), directory / "s")
    assert step["code"] == 1
    [error] = _error_lines(step["stderr"])
    assert "Traceback" not in step["stderr"]
    assert len(step["stderr"]) < 5000
    if line is not None:
        assert error == line
    assert step["tags"]["primary-off"] == [f"{TAG}failover"]


@async_test
async def test_a_tag_job_that_never_ends_is_given_up_on(directory: Path) -> None:
    master = fake_master.failing_tag_job_master()
    master.tag_status = "running"
    [step] = await record(
        Scenario("stuck", lambda: master), ours(directory / "lock"), directory / "s"
    )
    assert step["code"] == 1
    checks = [r for r in step["requests"] if '"QueryJobs"' in r]
    assert len(checks) == 2 * MAX_STATUS_CHECKS  # the tag, then its retry on a new connection
    [line] = _error_lines(step["stderr"])
    assert line.startswith(
        f"Error: job(s) 1001 not finished after {MAX_STATUS_CHECKS} status checks; repair job(s)"
    )


@async_test
async def test_quiet_drops_the_inconsistent_data_warning(directory: Path) -> None:
    scenario = Scenario("quiet", fake_master.one_repair_master, (Step(("-q",)),))
    [step] = await record(scenario, ours(directory / "lock"), directory / "s")
    assert step["code"] == 0
    assert step["stderr"] == ""
