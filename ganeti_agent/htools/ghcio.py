"""How a program built with GHC words a failed system call (``IOError``'s ``show``).

Ganeti's tools print these texts as they are, so a caller that wants to be
byte-compatible with them needs the same words: GHC's ``errnoToIOError``
turns an ``errno`` into an ``IOErrorType``, which shows as the phrase here.
"""

from __future__ import annotations

import errno
import os
import sys

_KINDS = {
    errno.ENOENT: "does not exist",
    errno.ENXIO: "does not exist",
    errno.ECONNREFUSED: "does not exist",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "permission denied",
    errno.ENOTDIR: "inappropriate type",
    errno.EISDIR: "inappropriate type",
    errno.ENOSPC: "resource exhausted",
    errno.EMFILE: "resource exhausted",
    errno.ENFILE: "resource exhausted",
    errno.ELOOP: "invalid argument",
    errno.ENAMETOOLONG: "invalid argument",
}


def io_kind(code: int | None) -> str:
    """The ``IOErrorType`` phrase for an ``errno`` (``failed``: GHC's ``OtherError``)."""
    return _KINDS.get(code or 0, "failed")


def open_error(path: str, error: OSError, reading: bool = True) -> str:
    """``openFile``'s error for ``path``.

    Opened for reading, a directory is refused by GHC itself, after the
    system call succeeded, in its own lower-case words; opened for writing,
    the kernel refuses it and ``strerror`` is shown as for any other errno.
    """
    if reading and error.errno == errno.EISDIR:
        reason = "is a directory"
    else:
        reason = error.strerror or os.strerror(error.errno or 0)
    return f"{path}: openFile: {io_kind(error.errno)} ({reason})"


def decode_like_ghc(raw: bytes) -> str | None:
    """``hGetContents``'s decoding under this process's locale; None where GHC fails.

    GHC decodes with the locale's codeset: UTF-8 under a UTF-8 locale, and
    ASCII under C or POSIX, which is also where ``setlocale`` leaves a
    program whose locale is not installed. Python started in such a
    locale switches UTF-8 mode on by itself (PEP 540); unless asked to
    with ``PYTHONUTF8`` or ``-X utf8``, that is how we know.
    """
    asked = "PYTHONUTF8" in os.environ or "utf8" in sys._xoptions
    codec = "ascii" if sys.flags.utf8_mode and not asked else "utf-8"
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return None
