"""/proc-style files that vanish, turn into something else or cannot be read, live.

One agent reads copies of /proc/diskstats, /proc/stat and a DRBD 8 /proc/drbd that
the tests delete, replace and restore under it. "Unreadable" is a link to a write-only
sysctl file (mode 0200), which even root may not read, and "read error" a link to
/proc/self/mem, which opens but fails with EIO at offset 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganeti_agent.core.framework import AVAILABILITY_TTL
from tests.faults.support import ANSWER_WITHIN, RunningAgent, eventually, running_agent
from tests.support import shared_fixture

pytestmark = pytest.mark.e2e

INTERVAL = 0.2
WRITE_ONLY = "/proc/sys/vm/drop_caches"
OWN_SOURCES = {"diskstats", "cpu-avg-load", "drbd"}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    home = tmp_path_factory.mktemp("files")
    proc = home / "proc"
    proc.mkdir()
    shutil.copyfile("/proc/diskstats", proc / "diskstats")
    shutil.copyfile("/proc/stat", proc / "stat")
    shutil.copyfile(shared_fixture("proc_drbd84.txt"), proc / "drbd")
    config = (
        "[collectors]\ncache = 0\n"
        f"[collector:diskstats]\nenabled = yes\nfile = {proc}/diskstats\n"
        f"[collector:cpu-avg-load]\nenabled = yes\nstat-file = {proc}/stat\n"
        f"interval = {INTERVAL}\n"
        f"[collector:drbd]\nfile = {proc}/drbd\n"
        "[collector:lv]\nenabled = no\n"
    )
    with running_agent(home, config) as started:
        yield started


def proc_file(agent: RunningAgent, name: str) -> Path:
    return agent.home / "proc" / name


@contextlib.contextmanager
def replaced(path: Path, how: str) -> Iterator[None]:
    """Break ``path`` in one of several ways, and put the original back afterwards."""
    saved = path.read_bytes()
    path.unlink()
    if how == "vanished":
        pass
    elif how == "directory":
        path.mkdir()
    elif how == "unreadable":
        path.symlink_to(WRITE_ONLY)
    elif how == "read-error":
        path.symlink_to("/proc/self/mem")
    elif how == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage" * 100)
    elif how == "garbage":
        path.write_text("this is not a /proc file\n1 2 3\n")
    elif how == "fifo":
        os.mkfifo(path)
    try:
        yield
    finally:
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink(missing_ok=True)
        path.write_bytes(saved)
        path.chmod(0o644)


def assert_others_answer(agent: RunningAgent, broken: str) -> None:
    """The other file collectors give normal reports, and all reports come promptly.

    Only this module's own sources are judged: the node-level collectors depend on the
    machine the tests run on (inst-status-kvm says "unknown" where /dev/kvm exists).
    """
    started = time.monotonic()
    reports = agent.all_reports()
    assert time.monotonic() - started < ANSWER_WITHIN
    for name in OWN_SOURCES - {broken}:
        data = reports[name]["data"]
        assert not (isinstance(data, dict) and "error" in data), reports[name]
        if isinstance(data, dict) and "status" in data:
            assert data["status"]["code"] != 2, reports[name]


def diskstats_error(agent: RunningAgent) -> str:
    data = agent.report("storage", "diskstats")["data"]
    assert isinstance(data, dict), data
    error: str = data["error"]
    return error


def test_all_sources_good_at_first(agent: RunningAgent) -> None:
    assert isinstance(agent.report("storage", "diskstats")["data"], list)
    assert ["drbd", "storage", 1] in json.loads(agent.get("/1/list/collectors")[1])
    assert agent.report("storage", "drbd")["data"]["deviceInfos"]
    eventually(lambda: "cpu_total" in agent.report("default", "cpu-avg-load")["data"])


CASES = {
    "vanished": "openFile: does not exist (No such file or directory)",
    "directory": "openFile: inappropriate type (Is a directory)",
    "unreadable": "openFile: permission denied (Permission denied)",
    "read-error": "openFile: failed (Input/output error)",
    "binary": "invalid byte sequence at offset 0",
    "garbage": "cannot parse",
}


@pytest.mark.parametrize("how", CASES)
def test_diskstats_source_broken(agent: RunningAgent, how: str) -> None:
    path = proc_file(agent, "diskstats")
    with replaced(path, how):
        message = diskstats_error(agent)
        assert_others_answer(agent, "diskstats")
    assert message.startswith(str(path)) and CASES[how] in message
    assert isinstance(agent.report("storage", "diskstats")["data"], list)


def test_diskstats_replaced_by_a_fifo_does_not_block_the_agent(agent: RunningAgent) -> None:
    """A FIFO without a writer blocks open(2): it must not block the reactor."""
    path = proc_file(agent, "diskstats")
    with replaced(path, "fifo"):
        try:
            message = diskstats_error(agent)
        finally:
            with contextlib.suppress(OSError):
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        assert "not a regular file" in message
        assert_others_answer(agent, "diskstats")
    agent.assert_alive()


def test_drbd_file_vanishing_unlists_the_collector(agent: RunningAgent) -> None:
    """With ``enabled = auto`` a vanished source means "no DRBD here", not an error."""
    path = proc_file(agent, "drbd")
    saved = path.read_bytes()
    path.unlink()
    time.sleep(AVAILABILITY_TTL + 0.2)
    try:
        listed = json.loads(agent.get("/1/list/collectors")[1])
        assert ["drbd", "storage", 1] not in listed
        assert agent.get("/1/report/storage/drbd")[0] == 404
        assert "drbd" not in agent.all_reports()
        assert_others_answer(agent, "drbd")
    finally:
        path.write_bytes(saved)
    time.sleep(AVAILABILITY_TTL + 0.2)
    assert agent.report("storage", "drbd")["data"]["deviceInfos"]


@pytest.mark.parametrize("how", ["directory", "garbage", "unreadable"])
def test_drbd_source_broken(agent: RunningAgent, how: str) -> None:
    with replaced(proc_file(agent, "drbd"), how):
        status = agent.report("storage", "drbd")["data"]["status"]
        assert status["code"] == 2 and str(proc_file(agent, "drbd")) in status["message"]
        assert_others_answer(agent, "drbd")


def test_proc_stat_vanishing_is_reported_not_hidden(agent: RunningAgent) -> None:
    """Once sampling keeps failing, cpu-avg-load says so instead of repeating old data."""
    path = proc_file(agent, "stat")
    eventually(lambda: "cpu_total" in agent.report("default", "cpu-avg-load")["data"])
    saved = path.read_bytes()
    path.unlink()
    try:
        error = eventually(lambda: agent.report("default", "cpu-avg-load")["data"].get("error"))
        assert str(path) in error and "does not exist" in error
        assert_others_answer(agent, "cpu-avg-load")
    finally:
        path.write_bytes(saved)
    eventually(lambda: "cpu_total" in agent.report("default", "cpu-avg-load")["data"])
    agent.assert_alive()
