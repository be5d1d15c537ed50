"""Small files in and out: bounded reads with clear errors, pid files, atomic writes.

/proc files are read in a single small read and never block for long, so the daemon
reads them directly in the reactor thread; the bound protects against a path that
points at a device such as /dev/zero, and opening without blocking against one that
points at a FIFO (whose open(2) would otherwise wait for a writer, reactor and all).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile

from ganeti_agent.core.framework import CollectorError

MAX_TEXT_SIZE = 64 * 1024 * 1024
CHUNK_SIZE = 256 * 1024
MAX_PID_FILE = 4096

_HASKELL_ERRNO_TEXT = {
    errno.ENOENT: "does not exist",
    errno.EISDIR: "inappropriate type",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "does not exist",
}


class InputError(CollectorError):
    """A source could not be read; the message names the path and the reason."""


def describe_os_error(path: str, exc: OSError) -> str:
    """Ganeti's wording for a failed open: ``<path>: openFile: does not exist (...)``."""
    kind = _HASKELL_ERRNO_TEXT.get(exc.errno or 0, "failed")
    return f"{path}: openFile: {kind} ({exc.strerror or exc})"


def _read_bounded(path: str, limit: int) -> bytes:
    """Read in chunks: some /proc files refuse one huge read() with ENOMEM."""
    chunks: list[bytes] = []
    size = 0
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(descriptor, "rb") as handle:
        if stat.S_ISFIFO(os.fstat(descriptor).st_mode):
            raise InputError(f"{path}: openFile: inappropriate type (a FIFO, not a regular file)")
        while chunk := handle.read(CHUNK_SIZE):
            size += len(chunk)
            if size > limit:
                raise InputError(f"{path}: larger than {limit} bytes, refusing to parse it")
            chunks.append(chunk)
    return b"".join(chunks)


def read_text(path: str, limit: int = MAX_TEXT_SIZE) -> str:
    """The whole file as UTF-8 text; raises :class:`InputError` with a clear message."""
    try:
        data = _read_bounded(path, limit)
    except OSError as exc:
        raise InputError(describe_os_error(path, exc)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: invalid byte sequence at offset {exc.start}") from None


def read_pid_file(path: str) -> int | None:
    """The pid in a pid file, None when the file does not exist.

    Raises :class:`InputError` when the file cannot be read or holds no valid pid.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_PID_FILE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read pid file {path}: {exc.strerror or exc}") from None
    text = raw.decode("ascii", "replace").strip()
    if len(raw) > MAX_PID_FILE or not text.isdigit() or int(text) <= 0:
        raise InputError(f"pid file {path} does not hold a pid: {text[:40]!r}")
    return int(text)


def write_atomically(path: str, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` so that a reader sees the old file or the new one, never half.

    The text goes to a temporary file in the same directory, reaches the disk (fsync),
    and is then renamed over ``path``; a crash leaves the old file, not an empty one.
    """
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
