"""Ganeti's reason trail: who asked for an instance's last state change, and why.

A trail is a list of ``[source, reason, timestamp_ns]`` triples, oldest first. Ganeti's
node daemon writes the trail of the last state-changing operation of each instance to
``/var/run/ganeti/instance-reason/<instance>``; both instance status collectors report
it as ``state_reason``. A missing or malformed file must never fail a report, so
:func:`read_trail` answers ``[]`` plus a warning, as Ganeti 3.0.2 does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from twisted.logger import Logger

from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths

log = Logger(namespace="ganeti_agent.collectors.instances.reason_trail")

MAX_TRAIL_FILE = 1024 * 1024
"""Reason files are a few hundred bytes; a larger one is not a reason file."""


class InvalidTrail(ValueError):
    """A value that is not a reason trail; the text says which element and why."""


@dataclass(frozen=True)
class ReasonEntry:
    """One step of the trail: the component, its (possibly empty) reason, when (ns)."""

    source: str
    reason: str
    timestamp: int

    def to_json(self) -> list[JSON]:
        return [self.source, self.reason, self.timestamp]


def _timestamp(value: JSON, index: int) -> int:
    # Ganeti decodes the timestamp as a Haskell Integer, which also accepts JSON reals.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTrail(f"element {index}: timestamp is not a number: {value!r}")
    if isinstance(value, float) and not value.is_integer():
        return round(value)
    return int(value)


def validate_trail(value: JSON) -> list[ReasonEntry]:
    """The entries of a decoded trail; raises :class:`InvalidTrail` on any other shape."""
    if not isinstance(value, list):
        raise InvalidTrail(f"expected a list, got {type(value).__name__}")
    entries = []
    for index, element in enumerate(value):
        if not isinstance(element, list) or len(element) != 3:
            raise InvalidTrail(f"element {index}: expected [source, reason, timestamp]")
        source, reason, stamp = element
        if not isinstance(source, str) or not isinstance(reason, str):
            raise InvalidTrail(f"element {index}: source and reason must be strings")
        entries.append(ReasonEntry(source, reason, _timestamp(stamp, index)))
    return entries


def parse_trail(text: str) -> list[ReasonEntry]:
    """A trail from its JSON text; raises :class:`InvalidTrail`."""
    try:
        decoded: JSON = json.loads(text)
    except ValueError as exc:
        raise InvalidTrail(f"not valid JSON: {exc}") from None
    return validate_trail(decoded)


def trail_to_json(entries: Sequence[ReasonEntry]) -> list[JSON]:
    return [entry.to_json() for entry in entries]


def trail_path(paths: GanetiPaths, instance: str) -> str:
    """The reason file of ``instance``; refuses names that would leave the directory."""
    if not instance or instance in {".", ".."} or "/" in instance or "\0" in instance:
        raise InvalidTrail(f"not a valid instance name for a reason file: {instance!r}")
    return os.path.join(paths.instance_reason_dir, instance)


def load_trail(paths: GanetiPaths, instance: str) -> list[ReasonEntry]:
    """The stored trail of ``instance``; raises ``OSError`` or :class:`InvalidTrail`."""
    path = trail_path(paths, instance)
    with open(path, "rb") as handle:
        data = handle.read(MAX_TRAIL_FILE + 1)
    if len(data) > MAX_TRAIL_FILE:
        raise InvalidTrail(f"{path}: larger than {MAX_TRAIL_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidTrail(f"{path}: invalid UTF-8 at offset {exc.start}") from None
    return parse_trail(text)


def read_trail(paths: GanetiPaths, instance: str) -> list[JSON]:
    """The report value ``state_reason`` of ``instance``: its trail, or ``[]`` on any problem.

    One unreadable file must not cost the other instances their report, so problems
    are logged as warnings only, with the wording of Ganeti's collector.
    """
    try:
        return trail_to_json(load_trail(paths, instance))
    except OSError as exc:
        log.warn(
            "Unable to open the reason trail for instance {instance} expected at {path}: {error}",
            instance=instance,
            path=os.path.join(paths.instance_reason_dir, instance),
            error=exc.strerror or str(exc),
        )
    except InvalidTrail as exc:
        log.warn(
            "Unable to parse the reason trail of {instance}: {error}",
            instance=instance,
            error=str(exc),
        )
    return []
