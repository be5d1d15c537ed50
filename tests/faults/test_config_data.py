"""Hostile config.data under a real agent, a collector switched off by hand, --no-confd.

One agent starts with a config.data holding ``NaN`` (issue 16 item 2: on main twistd
refused to start, HTTP included). The tests then give it good and hostile files through
both ways a change is noticed: a rename in the data directory (inotify), and an in-place
write through a hard link in another directory, which the directory watch does not see,
so only the periodic 17 s check can (on main that check died at the first hostile file).
A second agent runs without the confd server and must not ask for hmac.key (item 10).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ganeti_agent.confd.constants import CONFIG_RELOAD_TIMEOUT, RequestType
from tests.faults.support import (
    RunningAgent,
    confd_state,
    eventually,
    running_agent,
    write_cluster,
    write_config,
)

pytestmark = pytest.mark.e2e

KEY = b"config-data-faults-key-5d2e8c1a\n"
SETTINGS = "[agent]\nnode-name = vm\n[collectors]\ncache = 0\n[collector:lv]\nenabled = no\n"
#: Long enough for the periodic check (17 s) on a loaded machine.
PERIODIC = CONFIG_RELOAD_TIMEOUT * 2 + 10


def version_spelled(config: dict[str, Any], literal: str) -> str:
    """``config`` with its ``version`` written as ``literal``, which main's parser took."""
    return json.dumps(config).replace('"version": ', f'"version": {literal}, "was": ', 1)


def hostile_documents(config: dict[str, Any]) -> dict[str, str]:
    return {
        "NaN": version_spelled(config, "NaN"),
        "1e999": version_spelled(config, "1e999"),
        "deep": "[" * 200_000,
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningAgent, Any]]:
    home = tmp_path_factory.mktemp("config-data")
    data = home / "data"
    data.mkdir()
    good = write_cluster(data, KEY)
    good["cluster"]["data_collectors"]["diskstats"]["active"] = "no"
    (data / "config.data").write_text(hostile_documents(good)["NaN"])
    with running_agent(home, SETTINGS, confd=True) as agent:
        yield agent, good


@pytest.fixture
def agent(cluster: tuple[RunningAgent, Any]) -> RunningAgent:
    return cluster[0]


def answered_serial(agent: RunningAgent) -> int | None:
    reply = agent.confd(KEY, RequestType.MC_PIP_LIST)
    return reply.serial if reply is not None and reply.ok else None


def with_serial(config: dict[str, Any], serial: int) -> dict[str, Any]:
    fresh: dict[str, Any] = json.loads(json.dumps(config))
    fresh["cluster"]["serial_no"] = serial
    return fresh


def test_hostile_file_at_start_leaves_http_and_confd_serving(agent: RunningAgent) -> None:
    assert agent.get("/")[0] == 200
    assert agent.get("/1/list/collectors")[0] == 200
    state = confd_state(agent)
    assert not state["configLoaded"] and state["configLoadFailures"] == 1
    reply = agent.confd(KEY, RequestType.PING)
    assert reply is not None and reply.status == 1
    assert "Malformed JSON: NaN is not a JSON number" in str(reply.answer)


def test_good_file_after_it_loads(cluster: tuple[RunningAgent, Any]) -> None:
    agent, good = cluster
    write_config(agent.data_dir, with_serial(good, 100))
    eventually(lambda: answered_serial(agent) == 100)


def test_collector_written_inactive_as_no_is_neither_listed_nor_reported(
    agent: RunningAgent,
) -> None:
    """Issue 16 item 13: ``"active": "no"`` was read as true (bool of a non-empty string)."""
    eventually(lambda: answered_serial(agent) is not None)
    status, body = agent.get("/1/list/collectors")
    listed = {name for name, _category, _kind in json.loads(body)}
    assert status == 200 and "diskstats" not in listed and "cpu-avg-load" in listed
    assert "diskstats" not in agent.all_reports()
    assert agent.get("/1/report/storage/diskstats")[0] == 404


@pytest.mark.parametrize("hostile", ["NaN", "1e999", "deep"])
def test_hostile_file_seen_by_inotify(cluster: tuple[RunningAgent, Any], hostile: str) -> None:
    agent, good = cluster
    serial = eventually(lambda: answered_serial(agent))
    before = confd_state(agent)["configLoadFailures"]
    temporary = agent.data_dir / "hostile.tmp"
    temporary.write_text(hostile_documents(good)[hostile])
    temporary.rename(agent.data_dir / "config.data")
    eventually(lambda: confd_state(agent)["configLoadFailures"] == before + 1)
    assert answered_serial(agent) == serial
    write_config(agent.data_dir, with_serial(good, serial + 1))
    eventually(lambda: answered_serial(agent) == serial + 1)


def linked_elsewhere(agent: RunningAgent) -> Path:
    """config.data's inode under another directory: writes there escape the watch."""
    elsewhere = agent.home / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    link = elsewhere / "config.data"
    if link.exists():
        link.unlink()
    os.link(agent.data_dir / "config.data", link)
    return link


def test_hostile_file_seen_by_the_periodic_check(cluster: tuple[RunningAgent, Any]) -> None:
    agent, good = cluster
    serial = eventually(lambda: answered_serial(agent))
    before = confd_state(agent)["configLoadFailures"]
    link = linked_elsewhere(agent)
    link.write_text(hostile_documents(good)["1e999"])
    eventually(lambda: confd_state(agent)["configLoadFailures"] == before + 1, PERIODIC)
    assert answered_serial(agent) == serial
    link.write_text(json.dumps(with_serial(good, serial + 1)))
    eventually(lambda: answered_serial(agent) == serial + 1, PERIODIC)
    agent.assert_alive()
    assert "Traceback" not in agent.log_text()


def test_without_the_confd_server_no_key_is_asked_for(tmp_path: Path) -> None:
    """Issue 16 item 10: "confd drops every request until the key exists" was logged
    right after "confd server disabled"; only the server needs the key."""
    with running_agent(tmp_path, SETTINGS) as agent:
        eventually(lambda: "confd server off" in agent.log_text())
        assert agent.get("/1/list/collectors")[0] == 200
        log = agent.log_text()
    assert "confd drops every request" not in log
    assert "hmac.key" not in log
