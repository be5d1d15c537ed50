"""Running external commands (lvs, drbdsetup, xl, ...) without blocking the reactor.

LVM and DRBD tools can hang for minutes on a lock or a dead peer, so every run has a
timeout that ends in TERM then KILL, captured output is bounded, and each way a command
can fail is its own exception type, whose text goes straight into a report.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

import psutil
from twisted.application.service import Service
from twisted.internet import error as twisted_error
from twisted.internet import process
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorProcess,
    IReactorTime,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

DEFAULT_TIMEOUT = 30.0
DEFAULT_KILL_GRACE = 2.0
DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
STOP_POLL_INTERVAL = 0.05
DEFAULT_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ExecutionError(Exception):
    """A command did not produce a usable result; ``str()`` is a one-line explanation."""

    def __init__(self, argv: Sequence[str], message: str) -> None:
        super().__init__(f"{argv[0] if argv else '?'}: {message}")
        self.argv = tuple(argv)


class CommandNotFound(ExecutionError):
    """The binary is not on the search path or is not executable."""


class CommandFailed(ExecutionError):
    """The command exited with a non-zero status."""

    def __init__(self, argv: Sequence[str], exit_code: int, stdout: bytes, stderr: bytes) -> None:
        detail = _first_line(stderr) or _first_line(stdout)
        super().__init__(
            argv, f"exited with status {exit_code}" + (f": {detail}" if detail else "")
        )
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr


class CommandKilled(ExecutionError):
    """The command was ended by a signal it did not get from us."""

    def __init__(self, argv: Sequence[str], signal_number: int) -> None:
        super().__init__(argv, f"killed by signal {_signal_name(signal_number)}")
        self.signal_number = signal_number


class CommandTimedOut(ExecutionError):
    """The command ran past its timeout and was terminated."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        super().__init__(argv, f"timed out after {timeout:g} s and was killed")
        self.timeout = timeout


class OutputTooLarge(ExecutionError):
    """The command wrote more than we are willing to keep in memory."""

    def __init__(self, argv: Sequence[str], limit: int) -> None:
        super().__init__(argv, f"wrote more than {limit} bytes of output and was killed")
        self.limit = limit


@dataclass(frozen=True)
class ProcessResult:
    """What a successful (exit status 0) command produced."""

    argv: tuple[str, ...]
    stdout: bytes
    stderr: bytes
    duration: float


class CommandRunner(Protocol):
    """What collectors need from an executor; tests substitute a replaying fake."""

    def run(
        self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT
    ) -> Deferred[ProcessResult]: ...


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _descendants(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _signal_group(group: int, number: int) -> bool:
    """Send ``number`` to every process of ``group``; False when the group is empty."""
    try:
        os.killpg(group, number)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _buffered(fd: int) -> int:
    """How many bytes are waiting in a pipe."""
    answer = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return int.from_bytes(answer, sys.byteorder, signed=True)


class _GroupLeader(process.Process):
    """A child process that leads a process group of its own.

    Whatever the child starts stays in that group unless it leaves on purpose, so one
    ``killpg`` still reaches a background child after the child itself has exited and
    its children were re-parented away from it. Twisted's spawn has no way to ask for
    a new group, so this replaces its posix_spawn call by one with ``setpgroup=0``
    (same file actions and signal defaults). The runner never passes a uid, gid or
    working directory, the cases where Twisted would fork instead.
    """

    def _trySpawnInsteadOfFork(
        self,
        path: str | None,
        uid: int | None,
        gid: int | None,
        executable: str,
        args: Sequence[str],
        environment: Mapping[str, str],
        kwargs: Mapping[str, object],
    ) -> bool:
        open_fds = []
        for fd in process._listOpenFDs():
            with contextlib.suppress(OSError):
                open_fds.append((fd, bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)))
        file_actions = process._getFileActions(
            open_fds,
            cast("dict[int, int]", kwargs["fdmap"]),
            os.POSIX_SPAWN_CLOSE,
            os.POSIX_SPAWN_DUP2,
        )
        ignored = [n for n in range(1, signal.NSIG) if signal.getsignal(n) == signal.SIG_IGN]
        self.pid = os.posix_spawnp(
            executable,
            tuple(args),
            environment,
            file_actions=file_actions,
            setsigdef=ignored,
            setpgroup=0,
        )
        self.status = -1
        return True

    def _execChild(self, *arguments: object) -> None:
        """The fork path (Twisted before posix_spawn support, e.g. Debian bookworm's 22.4).

        This runs in the forked child, before ``exec``: lead a new group there too.
        """
        os.setpgid(0, 0)
        super()._execChild(*arguments)  # type: ignore[no-untyped-call]


class _CollectingProtocol(ProcessProtocol):
    """Collects output, enforces the size bound and turns the exit into a result.

    The result is decided when the child exits, not when its pipes close: a background
    child it left running may hold them open for as long as it lives. At the exit the
    output still in the pipes is read, the pipes are closed and whatever is left of
    the child's process group gets TERM, then KILL ``kill_grace`` later.
    """

    def __init__(self, runner: ProcessRunner, argv: tuple[str, ...], timeout: float) -> None:
        self.runner = runner
        self.argv = argv
        self.timeout = timeout
        self.done: Deferred[ProcessResult] = Deferred(self._cancel)
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.started = time.monotonic()
        self.failure_reason: ExecutionError | None = None
        self.group: int | None = None
        self.exited = False
        self._timeout_call: IDelayedCall | None = None
        self._kill_call: IDelayedCall | None = None

    def connectionMade(self) -> None:
        if self.transport is not None:
            self.group = self.transport.pid
            self.transport.closeStdin()
        self._timeout_call = self.runner.clock.callLater(self.timeout, self._on_timeout)

    def outReceived(self, data: bytes) -> None:
        self._keep(self.stdout, data)

    def errReceived(self, data: bytes) -> None:
        self._keep(self.stderr, data)

    def _keep(self, buffer: bytearray, data: bytes) -> None:
        if self.failure_reason is not None:
            return
        buffer.extend(data)
        if len(self.stdout) + len(self.stderr) > self.runner.max_output:
            self._terminate(OutputTooLarge(self.argv, self.runner.max_output))

    def _on_timeout(self) -> None:
        self._timeout_call = None
        self._terminate(CommandTimedOut(self.argv, self.timeout))

    def _cancel(self, _: Deferred[ProcessResult]) -> None:
        """Cancelling the Deferred (e.g. a collector's own timeout) also ends the child."""
        self._terminate(None)

    def _terminate(self, reason: ExecutionError | None) -> None:
        if self.failure_reason is None and reason is not None:
            self.failure_reason = reason
        self._cancel_timer("_timeout_call")
        self.signal(signal.SIGTERM)
        if self._kill_call is None:
            self._kill_call = self.runner.clock.callLater(self.runner.kill_grace, self._kill)

    def _kill(self) -> None:
        self._kill_call = None
        self.signal(signal.SIGKILL)
        if self.exited:
            self.runner.forget(self)

    def signal(self, number: int) -> None:
        """Signal the child's process group, and while the child lives, its descendants.

        The walk down the process tree also reaches descendants that left the group.
        """
        if self.group is None:
            return
        if not self.exited:
            for pid in _descendants(self.group):
                with contextlib.suppress(OSError):
                    os.kill(pid, number)
            with contextlib.suppress(OSError):
                os.kill(self.group, number)
        _signal_group(self.group, number)

    def group_alive(self) -> bool:
        return self.group is not None and _signal_group(self.group, 0)

    def _cancel_timer(self, attribute: str) -> None:
        call: IDelayedCall | None = getattr(self, attribute)
        if call is not None and call.active():
            call.cancel()
        setattr(self, attribute, None)

    def processExited(self, reason: Failure) -> None:
        self.exited = True
        self._cancel_timer("_timeout_call")
        self._drain()
        self._settle(reason)
        if self.transport is not None:
            self.transport.loseConnection()
        if self.group_alive():
            self._terminate(None)
        else:
            self._cancel_timer("_kill_call")
            self.runner.forget(self)

    def _drain(self) -> None:
        """Read what the exited child left in its pipes, without waiting for their end."""
        pipes = getattr(self.transport, "pipes", {})
        for child_fd in (1, 2):
            if child_fd in pipes:
                self._drain_pipe(child_fd, pipes[child_fd].fileno())

    def _drain_pipe(self, child_fd: int, fd: int) -> None:
        """Read the bytes buffered now; a child still writing cannot keep this going."""
        try:
            left = _buffered(fd)
            while left > 0 and self.failure_reason is None:
                data = os.read(fd, left)
                if not data:
                    return
                left -= len(data)
                self.childDataReceived(child_fd, data)
        except OSError:
            return

    def processEnded(self, reason: Failure) -> None:
        self._settle(reason)

    def _settle(self, reason: Failure) -> None:
        if self.done.called:
            return
        outcome = self._outcome(reason)
        if isinstance(outcome, ExecutionError):
            self.done.errback(outcome)
        else:
            self.done.callback(outcome)

    def _outcome(self, reason: Failure) -> ProcessResult | ExecutionError:
        if self.failure_reason is not None:
            return self.failure_reason
        value = reason.value
        stdout, stderr = bytes(self.stdout), bytes(self.stderr)
        if isinstance(value, twisted_error.ProcessTerminated):
            if value.signal is not None:
                return CommandKilled(self.argv, value.signal)
            return CommandFailed(self.argv, value.exitCode or 0, stdout, stderr)
        return ProcessResult(self.argv, stdout, stderr, time.monotonic() - self.started)


def find_executable(name: str, search_path: str) -> str | None:
    """Absolute path of an executable, or None when it cannot be run.

    A name with a slash is taken as a path; any other is looked up on ``search_path``.
    """
    if os.sep in name:
        return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
    return shutil.which(name, path=search_path)


@dataclass
class ProcessRunner:
    """Runs commands as child processes of the reactor.

    The binary is resolved to an absolute path on ``search_path`` (not the daemon's
    inherited PATH), and the child gets only ``environment``: ``LC_ALL=C`` so that
    output is parsable, nothing else from ours (no secrets leak into children). Each
    child leads a process group, which is ended when the child exits or times out, and
    :meth:`stop` ends every group still alive when the agent stops.
    """

    reactor: IReactorProcess
    clock: IReactorTime
    search_path: str = DEFAULT_SEARCH_PATH
    environment: Mapping[str, str] = field(default_factory=lambda: {"LC_ALL": "C", "LANG": "C"})
    max_output: int = DEFAULT_MAX_OUTPUT
    kill_grace: float = DEFAULT_KILL_GRACE

    def __post_init__(self) -> None:
        self._live: set[_CollectingProtocol] = set()
        self._stopping = False

    def resolve(self, name: str) -> str | None:
        """Where :meth:`run` finds ``name``, or None when it cannot be run."""
        return find_executable(name, self.search_path)

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> Deferred[ProcessResult]:
        arguments = tuple(argv)
        if self._stopping:
            return fail(ExecutionError(arguments, "not started: the agent is stopping"))
        executable = self.resolve(arguments[0]) if arguments else None
        if executable is None:
            return fail(CommandNotFound(arguments, "command not found or not executable"))
        protocol = _CollectingProtocol(self, arguments, timeout)
        env = {"PATH": self.search_path, **self.environment}
        self._live.add(protocol)  # before the spawn: a quick child may be reaped during it
        try:
            _GroupLeader(self.reactor, executable, arguments, env, None, protocol)  # type: ignore[no-untyped-call]
        except OSError as exc:
            self._live.discard(protocol)
            return fail(CommandNotFound(arguments, f"cannot be started: {exc.strerror or exc}"))
        return protocol.done

    def forget(self, run: _CollectingProtocol) -> None:
        """``run``'s child and its process group are gone: nothing to stop any more."""
        self._live.discard(run)

    def live_groups(self) -> int:
        """How many runs may still have a process alive (the child or one it started)."""
        return len(self._live)

    def stop(self) -> Deferred[None]:
        """End every child when the agent stops: TERM now, KILL ``kill_grace`` later.

        The Deferred fires as soon as every process group is empty, at the latest when
        the KILL has been sent, so a reactor that waits for it never stops with a
        TERM-ignoring child left behind. Commands asked for from now on are refused.
        """
        self._stopping = True
        if not self._live:
            return succeed(None)
        for run in list(self._live):
            run.signal(signal.SIGTERM)
        finished: Deferred[None] = Deferred()
        self._end_when_gone(finished, self.clock.seconds() + self.kill_grace)
        return finished

    def _end_when_gone(self, finished: Deferred[None], kill_at: float) -> None:
        alive = [run for run in self._live if run.group_alive()]
        if alive and self.clock.seconds() < kill_at:
            self.clock.callLater(STOP_POLL_INTERVAL, self._end_when_gone, finished, kill_at)
            return
        for run in alive:
            run.signal(signal.SIGKILL)
        self._live.clear()
        finished.callback(None)


class ChildProcessService(Service):
    """Stops a runner's children with the agent; twistd waits for it before exiting."""

    def __init__(self, runner: ProcessRunner) -> None:
        self.runner = runner

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return self.runner.stop()
