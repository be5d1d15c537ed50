"""Running external commands (lvs, drbdsetup, xl, ...) without blocking the reactor.

LVM and DRBD tools can hang for minutes on a lock or a dead peer, so every run has a
timeout that ends in TERM then KILL, captured output is bounded, and each way a command
can fail is its own exception type, whose text goes straight into a report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import psutil
from twisted.internet import error as twisted_error
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import (
    IDelayedCall,
    IProcessTransport,
    IReactorProcess,
    IReactorTime,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

DEFAULT_TIMEOUT = 30.0
DEFAULT_KILL_GRACE = 2.0
DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
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


class _CollectingProtocol(ProcessProtocol):
    """Collects output, enforces the size bound and turns the exit into a result."""

    def __init__(self, runner: ProcessRunner, argv: tuple[str, ...], timeout: float) -> None:
        self.runner = runner
        self.argv = argv
        self.timeout = timeout
        self.done: Deferred[ProcessResult] = Deferred(self._cancel)
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.started = time.monotonic()
        self.failure_reason: ExecutionError | None = None
        self.process: IProcessTransport | None = None
        self._timeout_call: IDelayedCall | None = None
        self._kill_call: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self.process = self.transport
        if self.transport is not None:
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
        self._signal("TERM")
        if self._kill_call is None:
            self._kill_call = self.runner.clock.callLater(
                self.runner.kill_grace, self._signal, "KILL"
            )

    def _signal(self, name: str) -> None:
        """Signal the child and every descendant it started, so none outlives a timeout."""
        if self.process is None or self.process.pid is None:
            return
        number = getattr(signal, "SIG" + name)
        for pid in _descendants(self.process.pid):
            with contextlib.suppress(OSError):
                os.kill(pid, number)
        with contextlib.suppress(twisted_error.ProcessExitedAlready, OSError):
            self.process.signalProcess(name)

    def _cancel_timer(self, attribute: str) -> None:
        call: IDelayedCall | None = getattr(self, attribute)
        if call is not None and call.active():
            call.cancel()
        setattr(self, attribute, None)

    def processEnded(self, reason: Failure) -> None:
        self._cancel_timer("_timeout_call")
        self._cancel_timer("_kill_call")
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


@dataclass
class ProcessRunner:
    """Runs commands as child processes of the reactor.

    The binary is resolved to an absolute path on ``search_path`` (not the daemon's
    inherited PATH), and the child gets only ``environment``: ``LC_ALL=C`` so that
    output is parsable, nothing else from ours (no secrets leak into children).
    """

    reactor: IReactorProcess
    clock: IReactorTime
    search_path: str = DEFAULT_SEARCH_PATH
    environment: Mapping[str, str] = field(default_factory=lambda: {"LC_ALL": "C", "LANG": "C"})
    max_output: int = DEFAULT_MAX_OUTPUT
    kill_grace: float = DEFAULT_KILL_GRACE

    def resolve(self, name: str) -> str | None:
        """Absolute path of an executable, or None when it cannot be run."""
        if os.sep in name:
            return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
        return shutil.which(name, path=self.search_path)

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> Deferred[ProcessResult]:
        arguments = tuple(argv)
        executable = self.resolve(arguments[0]) if arguments else None
        if executable is None:
            return fail(CommandNotFound(arguments, "command not found or not executable"))
        protocol = _CollectingProtocol(self, arguments, timeout)
        env = {"PATH": self.search_path, **self.environment}
        try:
            self.reactor.spawnProcess(protocol, executable, arguments, env=env)
        except OSError as exc:
            return fail(CommandNotFound(arguments, f"cannot be started: {exc.strerror or exc}"))
        return protocol.done
