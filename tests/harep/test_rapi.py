"""harep over RAPI (-m) takes the decisions it takes over LUXI, from a fake RAPI over TLS.

The same scenarios run once over LUXI and once over RAPI against the same
kind of fake master; what is printed and the tags left behind are equal,
except for the job ids in tags (RAPI has one job per opcode and no
test-delay opcode, so the numbers differ).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from twisted.internet import reactor

from ganeti_agent.harep import cli, options
from tests.harep import fake_master
from tests.harep.fake_rapi import USER, ServedRapi, served_rapi
from tests.harep.normalize import normalize
from tests.harep.runner import ours, record
from tests.harep.scenarios import SCENARIOS, Scenario
from tests.support import async_test

JOBS_IN_TAG = re.compile(r"(ganeti:watcher:autorepair:(?:pending|result):[^\"\s]*:)[0-9+]*")
COMPARED = [s for s in SCENARIOS if s.name in ("every-state", "dry-run", "two-pending")]


@pytest.fixture
def directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="harep-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _arguments(served: ServedRapi, lock: Path, extra: tuple[str, ...]) -> list[str]:
    return [
        "-m", "127.0.0.1", f"--rapi-port={served.port}", f"--ca-file={served.ca_file}",
        f"--username={USER}", f"--password-file={served.password_file}",
        f"--lock-file={lock}", *extra,
    ]  # fmt: skip


async def record_rapi(scenario: Scenario, directory: Path) -> list[dict[str, Any]]:
    master = scenario.master()
    steps = []
    since = int(time.time())
    async with served_rapi(master, directory) as served:
        for step in scenario.steps:
            step.before(master)
            served.rapi.requests.clear()
            parsed = options.parse(_arguments(served, directory / "lock", step.arguments))
            out, err = io.StringIO(), io.StringIO()
            code = await cli.program(
                cast(cli.IHarepReactor, reactor), parsed, out, err, poll_delay=0
            )
            tags = {inst.name: list(inst.tags) for inst in master.cluster.instances}
            steps.append(
                {
                    "stdout": normalize(out.getvalue(), since),
                    "stderr": normalize(err.getvalue(), since),
                    "code": code,
                    "tags": json.loads(normalize(json.dumps(tags), since)),
                    "requests": [
                        (r.method, r.path, _normalized(r.query, since), r.body)
                        for r in served.rapi.requests
                    ],
                }
            )
    return steps


def _normalized(query: list[tuple[str, str]], since: int) -> list[tuple[str, str]]:
    return [(key, normalize(value, since)) for key, value in query]


def _decisions(step: dict[str, Any]) -> dict[str, Any]:
    def strip(text: str) -> str:
        return JOBS_IN_TAG.sub(r"\1<jobs>", text)

    return {
        "stdout": strip(step["stdout"]),
        "stderr": step["stderr"],
        "code": step["code"],
        "tags": {k: [strip(t) for t in v] for k, v in step["tags"].items()},
    }


@pytest.mark.parametrize("scenario", COMPARED, ids=lambda s: s.name)
@async_test
async def test_rapi_takes_the_decisions_luxi_takes(scenario: Scenario, directory: Path) -> None:
    over_luxi = await record(scenario, ours(directory / "lock"), directory / "query.sock")
    over_rapi = await record_rapi(scenario, directory)
    assert [_decisions(s) for s in over_rapi] == [_decisions(s) for s in over_luxi]


@async_test
async def test_rapi_requests_for_one_failover(directory: Path) -> None:
    scenario = Scenario("one", fake_master.one_repair_master)
    [step] = await record_rapi(scenario, directory)
    requests = [(method, path) for method, path, _, _ in step["requests"]]
    assert requests == [
        ("GET", "/2/groups"), ("GET", "/2/nodes"), ("GET", "/2/instances"), ("GET", "/2/info"),
        ("PUT", "/2/instances/primary-off/failover"),
        ("PUT", "/2/instances/primary-off/tags"),
        ("GET", "/2/jobs/1001"),
    ]  # fmt: skip
    queries = [query for _, _, query, _ in step["requests"]]
    assert queries[:3] == [[("bulk", "1")]] * 3
    failover, tags = step["requests"][4], step["requests"][5]
    assert failover[3] == {"ignore_consistency": False}
    assert failover[2] == [("reason", "<version> called")]
    assert tags[2][0] == ("tag", "ganeti:watcher:autorepair:pending:failover:<uuid-1>:<time>:1000")
    assert step["tags"]["primary-off"][-1].endswith(":1000")


@async_test
async def test_reinstall_over_rapi_is_two_jobs_in_one_pending_tag(directory: Path) -> None:
    master = fake_master.one_repair_master()
    inst = master.cluster.instances[0]
    master.cluster.instances = [
        dataclasses.replace(inst, snode="node4", tags=(f"{fake_master.PREFIX}reinstall",))
    ]
    [step] = await record_rapi(Scenario("reinstall", lambda: master), directory)
    writes = [(m, p, q, b) for m, p, q, b in step["requests"] if m != "GET"]
    assert [(m, p) for m, p, _, _ in writes[:2]] == [
        ("POST", "/2/instances/primary-off/recreate-disks"),
        ("POST", "/2/instances/primary-off/reinstall"),
    ]
    assert writes[0][3] == {"iallocator": "hail"}
    assert writes[1][3] == {"start": False}
    assert step["tags"]["primary-off"][-1].endswith(":1000+1001")


@async_test
async def test_a_wrong_password_is_one_error_line(directory: Path) -> None:
    async with served_rapi(fake_master.one_repair_master(), directory) as served:
        served.password_file.write_text("wrong\n")
        parsed = options.parse(_arguments(served, directory / "lock", ()))
        out, err = io.StringIO(), io.StringIO()
        code = await cli.program(cast(cli.IHarepReactor, reactor), parsed, out, err, poll_delay=0)
    assert code == 1
    assert out.getvalue() == ""
    [line] = err.getvalue().splitlines()
    assert line.startswith("Error: failed to load data, aborting: https://127.0.0.1:")
    assert "HTTP 401" in line
