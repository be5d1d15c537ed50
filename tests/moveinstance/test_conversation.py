"""Per cluster, ours sends what Ganeti 3.0.2's move-instance sends, plus only issue 15's additions.

The real tool's conversations were recorded against the same fake clusters
(tests/moveinstance/data/real-*.json, ``python -m tests.moveinstance.conversation``);
ours runs as a real process against fresh fakes and is compared with them.
When ganeti-3.0 is installed the real tool is also run live, with
``--opportunistic-tries=0`` (without it, 3.0.2 crashes).

The additions allowed: the write-access probe (``GET /2/jobs/0/wait``) after
``GET /version``; on creation ``tags``, ``wait_for_sync: false`` and
``name_check: false``, and unnamed disks as null instead of ``"None"``; after
a failure, cancelling the import (``DELETE /2/jobs/<id>``) and reading the
failed job to report its error.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.moveinstance import conversation
from tests.support import async_test

SCENARIOS = {scenario.name: scenario for scenario in conversation.SCENARIOS}
FAILING = {"export-fails", "import-refused"}
PROBE = "/2/jobs/0/wait"


def with_additions(real: list[dict[str, Any]], scenario: conversation.Scenario) -> list[Any]:
    """The real tool's requests as issue 15 wants them changed."""
    expected = copy.deepcopy(real)
    for request in expected:
        if (request["method"], request["path"]) != ("POST", "/2/instances"):
            continue
        body = request["body"]
        for disk in body["disks"]:
            if disk["name"] == "None":
                disk["name"] = None
        (instance,) = scenario.instances
        body["tags"] = instance.get("tags", [])
        body["wait_for_sync"] = False
        body["name_check"] = False
    return expected


def without_additions(ours: list[dict[str, Any]]) -> list[Any]:
    return [
        request
        for request in ours
        if request["path"] != PROBE
        and not (request["method"] == "DELETE" and request["path"].startswith("/2/jobs/"))
    ]


def assert_same_conversation(
    real: dict[str, Any], ours: dict[str, Any], scenario: conversation.Scenario
) -> None:
    assert ours["exit_code"] == real["exit_code"]
    for side in ("source", "destination"):
        assert ours[side][0]["path"] == "/version" and ours[side][1]["path"] == PROBE
        expected = with_additions(real[side], scenario)
        mine = without_additions(ours[side])
        if scenario.name not in FAILING:
            assert mine == expected, side
            continue
        assert mine[: len(expected)] == expected, side
        for extra in mine[len(expected) :]:
            assert extra["method"] == "GET" and extra["path"].startswith("/2/jobs/"), extra


def recorded(name: str) -> dict[str, Any]:
    path = conversation.DATA / f"real-{name}.json"
    result: dict[str, Any] = json.loads(path.read_text())
    return result


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@async_test
async def test_ours_against_recorded_real_tool(name: str, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    ours = await conversation.record(scenario, tmp_path, "ours")
    assert_same_conversation(recorded(name), ours, scenario)


@pytest.mark.skipif(
    not conversation.REAL_TOOL.exists(),
    reason="ganeti-3.0 (Ganeti's move-instance) is not installed",
)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
@async_test
async def test_ours_against_real_tool_live(name: str, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    (tmp_path / "real").mkdir()
    (tmp_path / "ours").mkdir()
    real = await conversation.record(scenario, tmp_path / "real", "real")
    ours = await conversation.record(scenario, tmp_path / "ours", "ours")
    assert_same_conversation(real, ours, scenario)
    stored = recorded(name)
    for side in ("source", "destination"):
        assert real[side] == stored[side]


@pytest.mark.skipif(
    not conversation.REAL_TOOL.exists(),
    reason="ganeti-3.0 (Ganeti's move-instance) is not installed",
)
@async_test
async def test_real_tool_crashes_without_opportunistic_tries(tmp_path: Path) -> None:
    """The 3.0.2 bug ours fixes: no --opportunistic-tries and no -I is a TypeError."""
    clusters = conversation.start_clusters(SCENARIOS["plain-nodes"], tmp_path)
    try:
        arguments = clusters.arguments(["--dest-primary-node=node3"], ["web1.example.com"])
        argv, env = conversation.real_tool_command(arguments)
        code, _, err = await conversation.run_command(argv, env)
        assert code != 0 and "TypeError" in err
        ours, _, _ = await conversation.run_command([str(conversation.OUR_TOOL), *arguments])
        assert ours == 0
    finally:
        await clusters.stop()
