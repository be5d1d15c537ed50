"""config.data and hmac.key broken under a running agent: the last good state stays.

One agent answers confd on a free UDP port from a data directory holding Ganeti's
3.0 sample configuration and a key. The tests then truncate, empty, corrupt and
delete config.data (by atomic rename, as Ganeti writes it, and in place), and remove
and change hmac.key, and check with real signed requests (the project's own protocol
module) that confd keeps answering from what it loaded last, while the HTTP side and
the ``confd`` collector say what happened.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ganeti_agent.confd.constants import RequestType
from tests.faults.support import (
    RunningAgent,
    confd_state,
    eventually,
    running_agent,
    write_cluster,
    write_config,
)

pytestmark = pytest.mark.e2e

KEY = b"confd-faults-key-4f1c9a0e7b2d\n"
OTHER_KEY = b"a-key-this-agent-never-read-77\n"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningAgent, Any]]:
    home = tmp_path_factory.mktemp("confd")
    (home / "data").mkdir()
    config = write_cluster(home / "data", KEY)
    settings = "[agent]\nnode-name = vm\n[collectors]\ncache = 0\n[collector:lv]\nenabled = no\n"
    with running_agent(home, settings, confd=True) as agent:
        eventually(lambda: confd_state(agent)["configLoaded"])
        yield agent, config


@pytest.fixture
def agent(cluster: tuple[RunningAgent, Any]) -> RunningAgent:
    return cluster[0]


def serial_answered(agent: RunningAgent, key: bytes = KEY) -> int:
    """The cluster serial in an MC_PIP_LIST reply, which must come (PING's is 0)."""
    reply = agent.confd(key, RequestType.MC_PIP_LIST)
    assert reply is not None and reply.ok, "confd did not answer a signed request"
    return reply.serial


def node_drbd(agent: RunningAgent) -> Any:
    reply = agent.confd(KEY, RequestType.NODE_DRBD, "node2.example.com")
    assert reply is not None and reply.ok
    return reply.answer


def test_answers_from_the_sample_configuration(cluster: tuple[RunningAgent, Any]) -> None:
    agent, config = cluster
    assert serial_answered(agent) == config["cluster"]["serial_no"]
    state = confd_state(agent)
    assert state["keyLoaded"] and state["configSerial"] == config["cluster"]["serial_no"]


def broken_documents(config: dict[str, Any]) -> dict[str, bytes]:
    text = json.dumps(config).encode()
    return {
        "truncated": text[: len(text) // 2],
        "empty": b"",
        "not-json": b"\x00\xff garbage \x01" * 50,
        "not-a-config": b'{"cluster": "nope"}',
    }


@pytest.mark.parametrize("how", ["truncated", "empty", "not-json", "not-a-config"])
@pytest.mark.parametrize("write", ["rename", "in-place"])
def test_broken_config_keeps_the_last_good_one(
    cluster: tuple[RunningAgent, Any], how: str, write: str
) -> None:
    agent, config = cluster
    serial = serial_answered(agent)
    before = confd_state(agent)["configLoadFailures"]
    path = agent.data_dir / "config.data"
    document = broken_documents(config)[how]
    if write == "rename":
        (agent.data_dir / "broken.tmp").write_bytes(document)
        (agent.data_dir / "broken.tmp").rename(path)
    else:
        path.write_bytes(document)
    eventually(lambda: confd_state(agent)["configLoadFailures"] > before)
    assert serial_answered(agent) == serial
    assert node_drbd(agent) is not None
    state = confd_state(agent)
    assert state["configLoaded"] and state["configSerial"] == serial
    assert agent.report("storage", "diskstats")["data"] != {}
    assert "keeping the last good configuration" in agent.log_text()
    write_good_config(agent, config, serial + 1)


def write_good_config(agent: RunningAgent, config: dict[str, Any], serial: int) -> None:
    """A valid config.data with a new serial, and confd answering from it."""
    fresh = copy.deepcopy(config)
    fresh["cluster"]["serial_no"] = serial
    write_config(agent.data_dir, fresh)
    eventually(lambda: serial_answered(agent) == serial)


def test_config_removed_keeps_the_last_good_one(cluster: tuple[RunningAgent, Any]) -> None:
    """A deletion is only noticed by the periodic stat (17 s); answers never stop."""
    agent, config = cluster
    serial = serial_answered(agent)
    (agent.data_dir / "config.data").unlink()
    for _ in range(3):
        assert serial_answered(agent) == serial
        assert confd_state(agent)["configLoaded"]
    write_good_config(agent, config, serial + 1)


def test_config_replaced_by_a_directory(cluster: tuple[RunningAgent, Any]) -> None:
    agent, config = cluster
    serial = serial_answered(agent)
    before = confd_state(agent)["configLoadFailures"]
    path = agent.data_dir / "config.data"
    path.unlink()
    path.mkdir()
    try:
        # mkdir raises no event the watch follows; rewriting hmac.key does, and makes
        # the source look at config.data now rather than at its next 17 s check.
        (agent.data_dir / "hmac.key").write_bytes(KEY)
        eventually(lambda: confd_state(agent)["configLoadFailures"] > before)
        assert serial_answered(agent) == serial
    finally:
        path.rmdir()
    write_good_config(agent, config, serial + 1)


def test_key_removed_keeps_the_key_in_memory(agent: RunningAgent) -> None:
    """As in Ganeti, the key is read once; deleting the file does not stop confd."""
    key_path = agent.data_dir / "hmac.key"
    key_path.unlink()
    try:
        serial_answered(agent)
        assert confd_state(agent)["keyLoaded"]
    finally:
        key_path.write_bytes(KEY)


def test_key_changed_needs_a_restart_and_forgery_gets_nothing(agent: RunningAgent) -> None:
    """A new key is not picked up while running (Ganeti restarts its daemons after
    ``gnt-cluster renew-crypto --new-confd-hmac-key``); requests signed with it are
    unauthenticated here, so they get no reply at all, and are counted."""
    key_path = agent.data_dir / "hmac.key"
    before = confd_state(agent)["drops"]["bad-hmac"]
    key_path.write_bytes(OTHER_KEY)
    try:
        eventually(lambda: agent.confd(OTHER_KEY, timeout=0.3) is None and True)
        assert agent.confd(OTHER_KEY, timeout=1.0) is None
        serial_answered(agent)
        assert confd_state(agent)["drops"]["bad-hmac"] >= before + 2
    finally:
        key_path.write_bytes(KEY)


def test_agent_still_whole(agent: RunningAgent) -> None:
    agent.assert_alive()
    assert agent.children() == []
    assert serial_answered(agent) > 0
