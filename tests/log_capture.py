"""Capturing what twisted.logger receives, to check that nothing was logged as a failure."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import cast

from twisted.logger import ILogObserver, LogEvent, globalLogPublisher


@contextlib.contextmanager
def logged_events() -> Iterator[list[LogEvent]]:
    """Every event logged through twisted.logger while the block runs."""
    seen: list[LogEvent] = []
    observer = cast(ILogObserver, seen.append)
    globalLogPublisher.addObserver(observer)
    try:
        yield seen
    finally:
        globalLogPublisher.removeObserver(observer)


def failures(events: list[LogEvent]) -> list[LogEvent]:
    """The events that twistd would print with a traceback."""
    return [event for event in events if "log_failure" in event or event.get("isError")]
