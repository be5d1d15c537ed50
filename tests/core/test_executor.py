"""The executor against real child processes on this machine."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import psutil
import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from ganeti_agent.core import executor
from ganeti_agent.core.executor import (
    CommandFailed,
    CommandKilled,
    CommandNotFound,
    CommandTimedOut,
    ExecutionError,
    OutputTooLarge,
    ProcessResult,
    ProcessRunner,
)


def runner(**kwargs: object) -> ProcessRunner:
    return ProcessRunner(reactor, reactor, **kwargs)  # type: ignore[arg-type]


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest_twisted.ensureDeferred
async def test_output_and_environment_are_captured() -> None:
    result = await runner().run(["sh", "-c", "echo out; echo err >&2; echo $LC_ALL; echo $HOME"])
    assert isinstance(result, ProcessResult)
    assert result.stdout == b"out\nC\n\n"
    assert result.stderr == b"err\n"


@pytest_twisted.ensureDeferred
async def test_binary_is_resolved_on_the_search_path_only(tmp_path: Path) -> None:
    script(tmp_path, "lvs", "echo fake lvs\n")
    result = await runner(search_path=str(tmp_path)).run(["lvs"])
    assert result.stdout == b"fake lvs\n"
    assert result.argv == ("lvs",)


@pytest_twisted.ensureDeferred
async def test_missing_and_non_executable_binaries(tmp_path: Path) -> None:
    with pytest.raises(CommandNotFound, match="no-such-binary: command not found"):
        await runner().run(["no-such-binary"])
    plain = tmp_path / "notexec"
    plain.write_text("#!/bin/sh\n")
    with pytest.raises(CommandNotFound):
        await runner(search_path=str(tmp_path)).run(["notexec"])


@pytest_twisted.ensureDeferred
async def test_non_zero_exit_reports_status_and_stderr() -> None:
    with pytest.raises(CommandFailed, match="exited with status 5: broken lock") as caught:
        await runner().run(["sh", "-c", "echo broken lock >&2; exit 5"])
    assert caught.value.exit_code == 5


@pytest_twisted.ensureDeferred
async def test_death_by_foreign_signal() -> None:
    with pytest.raises(CommandKilled, match="SIGKILL"):
        await runner().run(["sh", "-c", "kill -9 $$"])


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest_twisted.ensureDeferred
async def test_timeout_kills_the_child_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    hung = script(tmp_path, "hang", f"sleep 300 & echo $! > {pids}; echo $$ >> {pids}; wait\n")
    started = time.monotonic()
    with pytest.raises(CommandTimedOut, match="timed out after 0.5 s"):
        await runner(kill_grace=0.5).run([hung], timeout=0.5)
    assert time.monotonic() - started < 5
    await _settle()
    for pid in (int(p) for p in pids.read_text().split()):
        assert not _alive(pid), f"process {pid} outlived the timeout"


@pytest_twisted.ensureDeferred
async def test_process_ignoring_term_is_killed(tmp_path: Path) -> None:
    stubborn = script(tmp_path, "stubborn", "trap '' TERM; while :; do sleep 0.1; done\n")
    with pytest.raises(CommandTimedOut):
        await runner(kill_grace=0.3).run([stubborn], timeout=0.3)


@pytest_twisted.ensureDeferred
async def test_output_is_bounded() -> None:
    with pytest.raises(OutputTooLarge, match="more than 1000 bytes"):
        await runner(max_output=1000).run(["sh", "-c", "yes"], timeout=10)


@pytest_twisted.ensureDeferred
async def test_cancelling_the_deferred_ends_the_child(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    hung = script(tmp_path, "hang", f"echo $$ > {pidfile}; exec sleep 300\n")
    running = runner(kill_grace=0.3).run([hung], timeout=60)
    await _wait_for(pidfile)
    running.cancel()
    with pytest.raises(Exception):  # noqa: B017 - any failure: it was cancelled
        await running
    await _settle()
    assert not _alive(int(pidfile.read_text()))


@pytest_twisted.ensureDeferred
async def test_the_child_leads_its_own_process_group() -> None:
    """What the group kills rely on (and a guard on the Twisted hooks that set it up)."""
    result = await runner().run(["cat", "/proc/self/stat"])
    fields = result.stdout.decode().rsplit(")", 1)[1].split()
    pid = int(result.stdout.split()[0])
    assert int(fields[2]) == pid != os.getpgid(0)


@pytest_twisted.ensureDeferred
async def test_the_fork_path_also_leads_its_own_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twisted before posix_spawn support (Debian bookworm's 22.4) forks: same group rule."""
    monkeypatch.setattr(executor._GroupLeader, "_trySpawnInsteadOfFork", lambda *_: False)
    result = await runner().run(["cat", "/proc/self/stat"])
    fields = result.stdout.decode().rsplit(")", 1)[1].split()
    pid = int(result.stdout.split()[0])
    assert int(fields[2]) == pid != os.getpgid(0)


@pytest_twisted.ensureDeferred
async def test_a_background_child_does_not_hold_up_the_result(tmp_path: Path) -> None:
    """The result is the child's own as soon as it exits, and what it left is ended."""
    pidfile = tmp_path / "pid"
    plugin = script(tmp_path, "plugin", f"sleep 1300 &\necho $! > {pidfile}\necho report\n")
    result = await runner(kill_grace=0.3).run([plugin], timeout=60)
    assert result.stdout == b"report\n"
    await _until_ended(int(pidfile.read_text()))


@pytest_twisted.ensureDeferred
async def test_a_failure_with_a_background_child_is_reported_at_exit(tmp_path: Path) -> None:
    plugin = script(tmp_path, "plugin", "sleep 1300 &\necho broken >&2\nexit 3\n")
    with pytest.raises(CommandFailed, match="exited with status 3: broken"):
        await runner(kill_grace=0.3).run([plugin], timeout=60)


@pytest_twisted.ensureDeferred
async def test_output_still_in_the_pipe_at_exit_is_kept(tmp_path: Path) -> None:
    """More than a pipe holds: the last part is only read after the child exited."""
    plugin = script(tmp_path, "plugin", "sleep 1300 &\nhead -c 300000 /dev/zero\n")
    for _ in range(5):
        result = await runner(kill_grace=0.3).run([plugin], timeout=60)
        assert len(result.stdout) == 300000


@pytest_twisted.ensureDeferred
async def test_no_fd_outlives_a_run(tmp_path: Path) -> None:
    plugin = script(tmp_path, "plugin", "sleep 1300 &\necho report\n")
    ours = psutil.Process()
    fds_before = ours.num_fds()
    for _ in range(10):
        with contextlib.suppress(defer.TimeoutError):  # as a collector gives up on a run
            await runner(kill_grace=0.3).run([plugin], timeout=60).addTimeout(2, reactor)
    await _settle()
    assert ours.num_fds() <= fds_before


@pytest_twisted.ensureDeferred
async def test_stop_ends_children_that_ignore_term(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    stubborn = script(
        tmp_path, "stubborn", f"trap '' TERM\nsleep 1300 &\necho $! $$ > {pids}\nwait\n"
    )
    running = runner(kill_grace=0.3)
    run = running.run([stubborn], timeout=600)
    await _wait_for(pids)
    await running.stop()
    with pytest.raises(CommandKilled, match="SIGKILL"):
        await run
    for pid in (int(p) for p in pids.read_text().split()):
        await _until_ended(pid)
    assert running.live_groups() == 0
    with pytest.raises(ExecutionError, match="the agent is stopping"):
        await running.run(["true"])


@pytest_twisted.ensureDeferred
async def test_a_file_that_cannot_be_executed_says_so(tmp_path: Path) -> None:
    no_interpreter = tmp_path / "plain"
    no_interpreter.write_bytes(b"\x7fELF not really\n")
    no_interpreter.chmod(0o755)
    with pytest.raises(ExecutionError, match="cannot be started: Exec format error"):
        await runner().run([str(no_interpreter)])


async def _until_ended(pid: int) -> None:
    """Wait for ``pid`` to end: dying after a signal takes the scheduler a moment."""
    for _ in range(200):
        if not _alive(pid):
            return
        await _settle(0.05)
    raise AssertionError(f"process {pid} still alive after 10 s")


async def _settle(seconds: float = 0.2) -> None:
    from twisted.internet import task

    await task.deferLater(reactor, seconds, lambda: None)


async def _wait_for(path: Path) -> None:
    for _ in range(100):
        if path.exists() and path.read_text().strip():
            return
        await _settle(0.05)
    raise AssertionError(f"{path} never appeared")


def test_resolve_rejects_directories(tmp_path: Path) -> None:
    assert runner().resolve(str(tmp_path)) is None
    resolved = runner().resolve("sh")
    assert resolved is not None and os.path.isabs(resolved)
