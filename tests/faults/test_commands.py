"""Broken external commands under a running agent: hanging, garbage, flooding, missing.

One agent serves every test of this module. Its ``lvs`` and ``drbdsetup`` are stand-in
scripts that each test rewrites (caching is off, so every report runs them again). The
/proc/drbd it reads holds only DRBD 9's version header, so the drbd collector asks
``drbdsetup``. confd runs too, to show it keeps answering while a collector is stuck.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ganeti_agent.confd.constants import RequestType
from tests.faults.support import (
    ANSWER_WITHIN,
    RunningAgent,
    eventually,
    running_agent,
    stand_in,
    write_cluster,
)

pytestmark = pytest.mark.e2e

KEY = b"commands-module-key-0123456789abcdef\n"
TIMEOUT = 2
KILL_GRACE = 2
DRBD9_HEADER = "version: 9.1.16 (api:2/proto:86-121)\nTransports (api:18): tcp (9.1.16)\n"
LVS_LINE = (
    "  nhasjL-cnZi-uqLS-WRLj-tkXI-nvCB-n0o2lj;vol0;-wi-ao;-1;-1;253;0;1073741824B;1;;;"
    "uZgXit-eiRr-vRqe-xpEo-e9nU-mTuR-9nfVIU;xenvg;linear;0B;0;1073741824B;;"
    "/dev/sda5:0-15;/dev/sda5(0)\n"
)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    home = tmp_path_factory.mktemp("commands")
    (home / "bin").mkdir()
    (home / "drbd").write_text(DRBD9_HEADER)
    stand_in(home / "bin" / "lvs", "exit 0\n")
    stand_in(home / "bin" / "drbdsetup", "echo '[]'\n")
    (home / "data").mkdir()
    write_cluster(home / "data", KEY)
    config = (
        "[agent]\nnode-name = vm\n"
        "[collectors]\ncache = 0\n"
        f"[collector:lv]\nenabled = yes\nlvs = {home}/bin/lvs\ntimeout = {TIMEOUT}\n"
        f"[collector:drbd]\nenabled = yes\nfile = {home}/drbd\n"
        f"drbdsetup = {home}/bin/drbdsetup\ntimeout = {TIMEOUT}\n"
    )
    with running_agent(home, config, confd=True) as started:
        yield started


def lvs(agent: RunningAgent) -> Path:
    return agent.home / "bin" / "lvs"


def drbdsetup(agent: RunningAgent) -> Path:
    return agent.home / "bin" / "drbdsetup"


def assert_others_answer(agent: RunningAgent) -> None:
    """The listing, a file-based report and confd all answer promptly."""
    started = time.monotonic()
    status, body = agent.get("/1/list/collectors")
    assert status == 200 and ["lv", "storage", 0] in json.loads(body)
    assert isinstance(agent.report("storage", "diskstats")["data"], list)
    reply = agent.confd(KEY, RequestType.PING)
    assert reply is not None and reply.ok
    assert time.monotonic() - started < ANSWER_WITHIN


def in_background(agent: RunningAgent, path: str) -> tuple[threading.Thread, dict[str, Any]]:
    """GET ``path`` in a thread; the result lands in the returned dict."""
    result: dict[str, Any] = {}

    def fetch() -> None:
        started = time.monotonic()
        result["answer"] = agent.get(path, timeout=TIMEOUT + KILL_GRACE + 10)
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=fetch)
    thread.start()
    return thread, result


def no_children_left(agent: RunningAgent) -> None:
    leftover = eventually(lambda: agent.children() == [] or None)
    assert leftover is True
    agent.assert_alive()


def test_healthy_stand_ins_give_good_reports(agent: RunningAgent) -> None:
    """The baseline the faults are measured against: both collectors work."""
    stand_in(lvs(agent), f"printf '%s' '{LVS_LINE}'\n")
    stand_in(drbdsetup(agent), "echo '[]'\n")
    [volume] = agent.report("storage", "lv")["data"]
    assert volume["name"] == "vol0"
    drbd = agent.report("storage", "drbd")["data"]
    assert drbd["status"]["code"] == 0 and drbd["deviceInfos"] == []


def test_lvs_that_hangs_forever_and_ignores_sigterm(agent: RunningAgent) -> None:
    """Timed out after ``timeout`` s, killed with its child, and nothing else waits on it."""
    stand_in(lvs(agent), "trap '' TERM\nsleep 300\nsleep 300\n")
    thread, result = in_background(agent, "/1/report/storage/lv")
    eventually(lambda: len(agent.children()) >= 2 or None)
    assert_others_answer(agent)
    thread.join(timeout=TIMEOUT + KILL_GRACE + 15)
    status, body = result["answer"]
    assert status == 200
    assert json.loads(body)["data"] == {"error": f"collector timed out after {TIMEOUT} s"}
    assert result["seconds"] < TIMEOUT + ANSWER_WITHIN
    no_children_left(agent)


def test_lvs_that_floods_its_output(agent: RunningAgent) -> None:
    """Output beyond the executor's bound ends the command instead of filling memory."""
    stand_in(lvs(agent), "exec yes 'lvs output that never ends'\n")
    data = agent.report("storage", "lv", timeout=TIMEOUT + ANSWER_WITHIN)["data"]
    assert "wrote more than" in data["error"] and "was killed" in data["error"]
    no_children_left(agent)


def test_lvs_not_executable(agent: RunningAgent) -> None:
    stand_in(lvs(agent), "exit 0\n").chmod(0o644)
    data = agent.report("storage", "lv")["data"]
    assert data == {"error": f"running command: {lvs(agent)}: command not found or not executable"}
    assert_others_answer(agent)


def test_lvs_missing(agent: RunningAgent) -> None:
    lvs(agent).unlink(missing_ok=True)
    data = agent.report("storage", "lv")["data"]
    assert "command not found or not executable" in data["error"]
    assert_others_answer(agent)


def test_lvs_exits_with_an_error(agent: RunningAgent) -> None:
    stand_in(lvs(agent), "echo '  Volume group \"xenvg\" not found' >&2\nexit 5\n")
    data = agent.report("storage", "lv")["data"]
    assert "exited with status 5" in data["error"] and "xenvg" in data["error"]


def test_lvs_prints_garbage(agent: RunningAgent) -> None:
    stand_in(lvs(agent), "printf 'not;an;lvs;line\\n\\377\\376\\n'\n")
    data = agent.report("storage", "lv")["data"]
    assert data["error"].startswith("cannot parse the output of lvs")


@pytest.mark.parametrize(
    "script",
    [
        "printf 'this is not JSON {{{'\n",
        'printf \'[{"name": 5, "devices": "nope"}]\'\n',
        "head -c 4096 /dev/urandom\n",
        "printf ''\n",
    ],
    ids=["text", "wrong-shape", "binary", "empty"],
)
def test_drbdsetup_prints_garbage(agent: RunningAgent, script: str) -> None:
    stand_in(drbdsetup(agent), script)
    status = agent.report("storage", "drbd")["data"]["status"]
    assert status["code"] == 2
    assert str(drbdsetup(agent)) in status["message"]
    assert_others_answer(agent)


def test_drbdsetup_fails(agent: RunningAgent) -> None:
    stand_in(drbdsetup(agent), "echo 'No currently configured DRBD found.' >&2\nexit 10\n")
    status = agent.report("storage", "drbd")["data"]["status"]
    assert status["code"] == 2
    assert "exited with status 10: No currently configured DRBD found." in status["message"]


def test_drbdsetup_missing_or_not_executable(agent: RunningAgent) -> None:
    stand_in(drbdsetup(agent), "echo '[]'\n").chmod(0o600)
    message = agent.report("storage", "drbd")["data"]["status"]["message"]
    assert message.startswith("DRBD 9 status unavailable") and "not executable" in message
    drbdsetup(agent).unlink()
    status = agent.report("storage", "drbd")["data"]["status"]
    assert status["code"] == 2 and "command not found" in status["message"]
    assert_others_answer(agent)


def test_drbdsetup_hangs(agent: RunningAgent) -> None:
    stand_in(drbdsetup(agent), "exec sleep 300\n")
    started = time.monotonic()
    status = agent.report("storage", "drbd", timeout=TIMEOUT + ANSWER_WITHIN)["data"]["status"]
    assert time.monotonic() - started < TIMEOUT + ANSWER_WITHIN
    assert status["code"] == 2 and "timed out" in status["message"]
    no_children_left(agent)


def test_recovers_once_the_commands_work_again(agent: RunningAgent) -> None:
    """No fault above left state behind: the next good run gives a good report."""
    test_healthy_stand_ins_give_good_reports(agent)
    assert agent.children() == []
