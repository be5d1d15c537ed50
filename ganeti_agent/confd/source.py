"""Where the server's configuration and key come from, kept current while it runs.

``config.data`` is reloaded whenever its (mtime, inode, size) changes, noticed by an
inotify watch on its directory (close-write and moved-to, so both in-place writes and
Ganeti's atomic renames count) and by a periodic stat as a safety net, as the real
daemon does (spec/confd.md section 5). Unlike the real daemon, a corrupt, partial or
vanished new file never replaces the last good configuration: it is logged and counted,
and answers keep coming from what was loaded last. ``hmac.key`` (wanted only when the
confd server runs: ``needs_key``) is read at start-up and, while it is missing,
retried at every check, so a node that joins a cluster later needs no restart; once
read it is kept, as Ganeti keeps it.

Both files are secrets (the key signs every request and reply, config.data holds the
DRBD shared secrets): anything but a regular file is refused (a FIFO would block the
reactor), and modes looser than Ganeti's own (0440 for the key, 0640 for config.data)
are warned about, once per mode.

A configuration larger than ``max_size`` is refused without being read. One larger than
:data:`INLINE_SIZE` is parsed in steps through a ``Cooperator`` on the reactor, so
HTTP and confd keep answering (from the previous configuration) while it loads; a
change noticed meanwhile is looked at when the load ends. Whatever a file holds, a
load either succeeds or is one counted, logged failure: the watcher and the periodic
check never see an exception.
"""

from __future__ import annotations

import gc
import os
import stat
from collections.abc import Callable

from twisted.application.service import Service
from twisted.internet import inotify
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import CooperativeTask, Cooperator, LoopingCall, TaskStopped
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath

from ganeti_agent.confd.answers import ConfigStatus
from ganeti_agent.confd.config import ClusterConfig, ConfigError, Steps, load_steps, run_steps
from ganeti_agent.confd.constants import CONFIG_RELOAD_TIMEOUT
from ganeti_agent.confd.queries import io_error_message

log = Logger(namespace="ganeti_agent.confd")

Stamp = tuple[int, int, int]
#: Stat period while inotify is unavailable (no directory yet, no inotify support).
POLL_INTERVAL = 1.0
#: Default largest config.data loaded: a 10,000-instance DRBD cluster is about 17 MiB.
MAX_CONFIG_SIZE = 64 * 1024 * 1024
#: Files up to this size are parsed at once (a few milliseconds), larger ones in steps.
INLINE_SIZE = 256 * 1024


#: Mode bits that make each file less private than Ganeti leaves it, and why that matters.
KEY_LOOSE_BITS = stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP
KEY_RISK = "whoever can read it can forge confd requests and replies; Ganeti uses 0440"
CONFIG_LOOSE_BITS = stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP
CONFIG_RISK = "it holds the DRBD secrets and decides every answer; Ganeti uses 0640"


class NotARegularFile(OSError):
    """A key or configuration path that is a directory, FIFO, device or socket."""


class FileTooLarge(OSError):
    """A file larger than the size its reader accepts."""


def read_private(path: str, max_size: int | None = None) -> tuple[bytes, int]:
    """The content and mode of a regular file, opened without blocking on a FIFO.

    With ``max_size``, a larger file (by its size, or by what a growing file yields)
    is refused before it fills memory.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(f"{path}: not a regular file, refusing to read it")
        if max_size is None:
            return handle.read(), stat.S_IMODE(info.st_mode)
        content = handle.read(max_size + 1) if info.st_size <= max_size else b""
        if info.st_size > max_size or len(content) > max_size:
            size = max(info.st_size, len(content))
            raise FileTooLarge(
                f"{path}: {size} bytes, more than the {max_size} allowed ([confd] max-config-size)"
            )
        return content, stat.S_IMODE(info.st_mode)


def _stamp(path: str) -> Stamp:
    info = os.stat(path)
    return info.st_mtime_ns, info.st_ino, info.st_size


def _unexpected(doing: str, path: str, exc: object) -> None:
    """One bounded line for what should never happen: whatever the file held, no traceback."""
    log.error("confd: {doing} {path} failed: {exc}", doing=doing, path=path, exc=repr(exc)[:200])


def _describe(path: str, operation: str, exc: OSError) -> str:
    if isinstance(exc, NotARegularFile | FileTooLarge):
        return str(exc)
    return io_error_message(path, operation, exc)


class ConfigSource(Service):
    """The current ``ConfigStatus`` and key, for the server and the local queries."""

    def __init__(
        self,
        config_path: str,
        key_path: str,
        clock: IReactorTime,
        use_inotify: bool = True,
        safety_interval: float = CONFIG_RELOAD_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
        max_size: int = MAX_CONFIG_SIZE,
        needs_key: bool = True,
    ) -> None:
        self.config_path = config_path
        self.key_path = key_path
        self.clock = clock
        self.max_size = max_size
        self.needs_key = needs_key
        self.inline_size = INLINE_SIZE
        self.cooperator = Cooperator(scheduler=lambda work: clock.callLater(0, work))
        self.use_inotify = use_inotify
        self.safety_interval = safety_interval
        self.poll_interval = poll_interval
        self.status = ConfigStatus(None)
        self.key: bytes | None = None
        self.loads = 0
        self.load_failures = 0
        self.listeners: list[Callable[[ConfigStatus], None]] = []
        self._stamp: Stamp | None = None
        self._last_problem: str | None = None
        self._watch_problem: str | None = None
        self._key_problem: str | None = None
        self._mode_warnings: set[tuple[str, int]] = set()
        self._notifier: inotify.INotify | None = None
        self._loop: LoopingCall | None = None
        self._polling = False
        self._parsing: CooperativeTask[Steps[None]] | None = None
        self._gc_was_enabled = True
        self._changed_while_parsing = False

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.check()
        self._watch()

    def stopService(self) -> None:
        self._stop_loop()
        if self._parsing is not None:
            self._parsing.stop()
        if self._notifier is not None:
            self._notifier.loseConnection()
            self._notifier = None
        return super().stopService()  # type: ignore[no-untyped-call, no-any-return]

    @property
    def loading(self) -> bool:
        """A large configuration is being parsed in steps right now."""
        return self._parsing is not None

    def check(self) -> None:
        """Read the key if still missing, and reload the configuration if it changed.

        Never raises: the inotify callback and the periodic check call it, and an
        exception would end either for good.
        """
        try:
            self._check()
        except Exception as exc:
            self.load_failures += 1
            _unexpected("checking", self.config_path, exc)

    def _check(self) -> None:
        if self.key is None and self.needs_key:
            self._load_key()
        if self._parsing is not None:
            self._changed_while_parsing = True
            return
        try:
            stamp = _stamp(self.config_path)
        except OSError as exc:
            self._stamp = None
            detail = io_error_message(self.config_path, "getFileStatus", exc)
            self._problem(f"Failure during configuration update: {detail}")
            return
        if stamp != self._stamp:
            self._stamp = stamp
            self._load()

    def _load_key(self) -> None:
        try:
            key, mode = read_private(self.key_path)
        except OSError as exc:
            message = _describe(self.key_path, "openBinaryFile", exc)
            if self._key_problem != message:
                log.warn("confd drops every request until the key exists: {msg}", msg=message)
                self._key_problem = message
            return
        self._check_mode(self.key_path, mode, KEY_LOOSE_BITS, KEY_RISK)
        self.key = key
        log.info("confd: HMAC key read from {path}", path=self.key_path)

    def _check_mode(self, path: str, mode: int, loose: int, risk: str) -> None:
        """Warn (once per path and mode) about a secret file others may read or write."""
        if mode & loose and (path, mode) not in self._mode_warnings:
            self._mode_warnings.add((path, mode))
            log.warn(
                "confd: {path} has mode {mode:04o}, open to other users: {risk}",
                path=path,
                mode=mode,
                risk=risk,
            )

    def _load(self) -> None:
        """Read config.data and parse it: at once when small, else in reactor steps."""
        try:
            text, mode = read_private(self.config_path, self.max_size)
        except OSError as exc:
            self._failed(exc)
            return
        inline = len(text) <= self.inline_size
        steps = self._loading(load_steps(text), mode)
        del text  # the parser's frame holds the only reference, and drops it once decoded
        if inline:
            run_steps(steps)
            return
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        self._parsing = self.cooperator.cooperate(steps)
        self._parsing.whenDone().addBoth(self._parsed)

    def _loading(self, parsing: Steps[ClusterConfig], mode: int) -> Steps[None]:
        """Run ``parsing`` and install its result; every failure is counted, none raised."""
        try:
            config = yield from parsing
        except ConfigError as exc:
            self._failed(exc)
        except Exception as exc:  # a bug in the parser must not cost the service
            _unexpected("parsing", self.config_path, exc)
            self._failed(ConfigError(f"internal error: {type(exc).__name__}"))
        else:
            self._install(config, mode)

    def _parsed(self, result: object) -> None:
        """A stepwise load ended; look again if the file changed meanwhile.

        The cyclic garbage collector was off during the load: each full collection
        walks every object, a 10,000-instance configuration's millions included, and
        stalled the reactor for 0.1 s or more, several times per load. It is not
        frozen afterwards (``gc.freeze``): in a daemon that reloads for months, objects
        frozen while alive and later left in a cycle would never be freed.
        """
        self._parsing = None
        if self._gc_was_enabled:
            gc.enable()
        if isinstance(result, Failure) and not result.check(TaskStopped):
            _unexpected("loading", self.config_path, result.value)
        if self._changed_while_parsing and self.running:
            self._changed_while_parsing = False
            self.check()

    def _failed(self, exc: Exception) -> None:
        self.load_failures += 1
        if isinstance(exc, OSError) and not isinstance(exc, NotARegularFile | FileTooLarge):
            detail = str(exc.strerror)
        else:
            detail = str(exc)
        self._problem(
            f"Cannot load configuration from {self.config_path}: parsing configuration: {detail}"
        )

    def _install(self, config: ClusterConfig, mode: int) -> None:
        self._check_mode(self.config_path, mode, CONFIG_LOOSE_BITS, CONFIG_RISK)
        self.loads += 1
        self._last_problem = None
        self.status = ConfigStatus(config)
        log.info(
            "confd: configuration loaded from {path} (serial {serial})",
            path=self.config_path,
            serial=config.serial,
        )
        if config.warnings:
            log.warn(
                "confd: {path}: {what}", path=self.config_path, what="; ".join(config.warnings)
            )
        for listener in self.listeners:
            listener(self.status)

    def _problem(self, message: str) -> None:
        """Record a failed (re)load: it becomes the answer only if nothing good was loaded."""
        if self.status.config is None:
            self.status = ConfigStatus(None, message)
        if message != self._last_problem:
            kept = " (keeping the last good configuration)" if self.status.config else ""
            log.warn("confd: {msg}{kept}", msg=message, kept=kept)
            self._last_problem = message

    def _watch(self) -> None:
        """inotify when possible, with the 17 s safety check; else poll every second."""
        if self.use_inotify and self._notifier is None:
            self._notifier = self._start_inotify()
        self._polling = self._notifier is None
        self._start_loop(self.poll_interval if self._polling else self.safety_interval)

    def _start_inotify(self) -> inotify.INotify | None:
        try:
            notifier = inotify.INotify()
        except Exception as exc:
            log.info("confd: no inotify ({exc}); polling config.data", exc=exc)
            return None
        mask = inotify.IN_CLOSE_WRITE | inotify.IN_MOVED_TO | inotify.IN_DELETE_SELF
        directory = FilePath(os.path.dirname(self.config_path) or ".")
        try:
            notifier.startReading()
            notifier.watch(directory, mask=mask, callbacks=[self._notified])
        except Exception as exc:
            problem = f"confd: cannot watch {directory.path} ({exc}); polling"
            if problem != self._watch_problem:
                log.info("{problem}", problem=problem)
                self._watch_problem = problem
            notifier.loseConnection()
            return None
        self._watch_problem = None
        return notifier

    def _notified(self, _watch: object, path: FilePath[str], mask: int) -> None:
        if mask & (inotify.IN_DELETE_SELF | inotify.IN_IGNORED):
            if self._notifier is not None:
                self._notifier.loseConnection()
            self._notifier = None
            self._stop_loop()
            self._watch()
            return
        if os.fsdecode(path.basename()) in (
            os.path.basename(self.config_path),
            os.path.basename(self.key_path),
        ):
            self.check()

    def _tick(self) -> None:
        """The periodic check; it must not raise, or the LoopingCall would stop for good."""
        self.check()
        if self._polling and self.use_inotify:
            try:
                self._stop_loop()
                self._watch()
            except Exception as exc:
                _unexpected("restarting the watch on", self.config_path, exc)

    def _start_loop(self, interval: float) -> None:
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self.clock
        self._loop.start(interval, now=False)

    def _stop_loop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
