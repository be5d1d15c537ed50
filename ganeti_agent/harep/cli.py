"""The ``ganeti-harep`` console script: options, the run lock, the backend, exit status.

Exit 0 after a full run, 1 with one ``Error: …`` line on stderr when the
run stops (as Ganeti's harep), 2 for command-line errors. Concurrent runs
(cron overlap) are kept apart by an exclusive lock on a file, taken
without waiting: the second run says so and exits 1 without touching the
cluster. A dry run takes no lock, since it changes nothing.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import TextIO

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime, IReactorUNIX
from twisted.internet.task import deferLater, react

from ganeti_agent.harep import options as harep_options
from ganeti_agent.harep.errors import HarepError
from ganeti_agent.harep.luxi_backend import LuxiBackend
from ganeti_agent.harep.options import HarepOptions
from ganeti_agent.harep.program import FIRST_POLL_DELAY, Backend, Clock, RunOptions, run
from ganeti_agent.htools import cli as htools_cli
from ganeti_agent.htools.cli import UsageExit
from ganeti_agent.rapi.client import IRapiReactor

RANDOM_UUID_FILE = "/proc/sys/kernel/random/uuid"
MAX_ERROR_CHARS = 4000
"""Ganeti's own error texts are far shorter; a master's message beyond this is cut."""


class IHarepReactor(IRapiReactor, IReactorUNIX):
    """What harep needs of a reactor: RAPI's HTTPS connections and timers, or LUXI's socket."""


class SystemClock:
    """Wall-clock time, the kernel's random UUIDs (as Ganeti's ``newUUID``), reactor sleeps."""

    def __init__(self, reactor: IReactorTime) -> None:
        self._reactor = reactor

    def now(self) -> float:
        return time.time()

    def uuid(self) -> str:
        try:
            with open(RANDOM_UUID_FILE, encoding="ascii") as handle:
                return handle.read(128).strip()
        except OSError:
            return str(uuid.uuid4())

    async def sleep(self, seconds: float) -> None:
        await deferLater(self._reactor, seconds, lambda: None)


def lock_path(options: HarepOptions) -> str:
    """The lock file: given, the system one for LUXI, a per-user one per RAPI cluster."""
    if options.lock_file is not None:
        return options.lock_file
    if options.master is None:
        return harep_options.DEFAULT_LOCK_FILE
    cluster = re.sub(r"[^A-Za-z0-9.-]", "_", options.master)[:100]
    return os.path.join(tempfile.gettempdir(), f"ganeti-harep-{os.getuid()}-{cluster}.lock")


def take_lock(path: str) -> int:
    """An exclusive lock held until the process ends; HarepError if another run holds it."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise HarepError(f"cannot open the lock file {path}: {error.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(descriptor)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise HarepError(f"another harep run holds the lock {path}; not starting") from None
        raise HarepError(f"cannot lock {path}: {error.strerror}") from None
    return descriptor


def backend_for(
    reactor: IHarepReactor, options: HarepOptions, warn: Callable[[str], None]
) -> Backend:
    if options.master is not None:
        from ganeti_agent.harep.rapi_backend import RapiBackend, endpoint_for

        return RapiBackend(reactor, endpoint_for(options), warn)
    path = options.luxi if options.luxi is not None else htools_cli.DEFAULT_LUXI_SOCKET
    return LuxiBackend(reactor, path, warn)


def run_options(options: HarepOptions, poll_delay: float = FIRST_POLL_DELAY) -> RunOptions:
    return RunOptions(
        dry_run=options.dry_run,
        job_delay=options.job_delay,
        reason=options.reason,
        version=htools_cli.version_line(harep_options.PROGRAM),
        poll_delay=poll_delay,
    )


async def program(
    reactor: IHarepReactor,
    options: HarepOptions,
    out: TextIO,
    err: TextIO,
    clock: Clock | None = None,
    poll_delay: float = FIRST_POLL_DELAY,
) -> int:
    """One run with the given options; the exit status.

    ``clock`` and ``poll_delay`` are for tests (fixed UUIDs, no waiting
    between job status checks); by default they are the system's and Ganeti's.
    """

    def line(text: str) -> None:
        out.write(text + "\n")

    def warn(text: str) -> None:
        if options.verbose > 0:
            err.write(text)

    lock = None
    try:
        if not options.dry_run:
            lock = take_lock(lock_path(options))
        backend = backend_for(reactor, options, warn)
        await run(backend, run_options(options, poll_delay), clock or SystemClock(reactor), line)
    except HarepError as error:
        return _fail(out, err, str(error))
    except Exception as error:  # a bug or a reply nothing above expected: one line, no traceback
        return _fail(out, err, f"unexpected {type(error).__name__}: {error}")
    finally:
        if lock is not None:
            os.close(lock)
    return 0


def _fail(out: TextIO, err: TextIO, message: str) -> int:
    """The one error line; a hostile master's text is cut at ``MAX_ERROR_CHARS``."""
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS] + "…"
    out.flush()
    err.write(f"Error: {message}\n")
    return 1


def main(argv: list[str] | None = None) -> None:
    """The ``ganeti-harep`` console script."""
    arguments = sys.argv[1:] if argv is None else argv
    try:
        options = harep_options.parse(arguments)
    except UsageExit as stop:
        sys.exit(stop.emit(sys.stdout.buffer, sys.stderr.buffer))

    async def start(reactor: IHarepReactor) -> None:
        status = await program(reactor, options, sys.stdout, sys.stderr)
        sys.stdout.flush()
        if status:
            raise SystemExit(status)

    react(lambda reactor: Deferred.fromCoroutine(start(reactor)))


if __name__ == "__main__":
    main()
