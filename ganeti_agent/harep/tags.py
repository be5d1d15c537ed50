"""The autorepair tag grammar of Ganeti 3.0.2 (``Harep.hs``, ``Loader.getArPolicy``).

Policy tags live on the cluster, node groups and instances:
``ganeti:watcher:autorepair:<type>`` allows repairs up to ``<type>``
(``fix-storage`` < ``migrate`` < ``failover`` < ``reinstall``; within one
object the least destructive wins) and
``ganeti:watcher:autorepair:suspend[:<time>]`` suspends them (forever
without a time, else until the latest future time). The nearest object
that has any of these tags decides. Progress tags live on instances:
``…:pending:<type>:<uuid>:<time>:<jobs>`` and
``…:result:<type>:<uuid>:<time>:<result>:<jobs>``, jobs joined by ``+``.
A tag that does not parse is ignored, as Ganeti ignores it.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ganeti_agent.htools.haskell_read import ReadError, try_read_int

PREFIX = "ganeti:watcher:autorepair:"
ENABLED_PREFIX = PREFIX
PENDING_PREFIX = PREFIX + "pending:"
RESULT_PREFIX = PREFIX + "result:"
SUSPEND_PREFIX = PREFIX + "suspend:"


class RepairType(enum.IntEnum):
    """Repair types, from the least destructive; each allows the ones before it."""

    FIX_STORAGE = 0
    MIGRATE = 1
    FAILOVER = 2
    REINSTALL = 3

    @property
    def raw(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def shown(self) -> str:
        """Haskell's ``show`` of the constructor (``ArFixStorage``), as harep prints it."""
        return "Ar" + "".join(part.capitalize() for part in self.name.split("_"))

    @classmethod
    def from_raw(cls, text: str) -> RepairType | None:
        return next((kind for kind in cls if kind.raw == text), None)


class RepairResult(enum.IntEnum):
    """Repair results; when one repair has several, the highest counts."""

    ENOPERM = 0
    SUCCESS = 1
    FAILURE = 2

    @property
    def raw(self) -> str:
        return self.name.lower()

    @classmethod
    def from_raw(cls, text: str) -> RepairResult | None:
        return next((result for result in cls if result.raw == text), None)


@dataclass(frozen=True)
class RepairData:
    """One repair (``AutoRepairData``): its type, id, time, jobs, result and tag."""

    kind: RepairType
    uuid: str
    time: int
    jobs: tuple[int, ...]
    result: RepairResult | None
    tag: str = ""

    def with_tag(self) -> RepairData:
        """The record with ``tag`` rewritten from the other fields (``updateTag``)."""
        head = [self.kind.raw, self.uuid, str(self.time)]
        jobs = "+".join(str(job) for job in self.jobs)
        if self.result is None:
            text = PENDING_PREFIX + ":".join([*head, jobs])
        else:
            text = RESULT_PREFIX + ":".join([*head, self.result.raw, jobs])
        return RepairData(self.kind, self.uuid, self.time, self.jobs, self.result, text)


def chomp_prefix(prefix: str, text: str) -> str | None:
    """Ganeti's ``chompPrefix``: also matches the prefix without its last character."""
    if text.startswith(prefix):
        return text[len(prefix) :]
    if text == prefix[:-1]:
        return ""
    return None


def sep_split(separator: str, text: str) -> list[str]:
    """Ganeti's ``sepSplit``: no items for an empty text."""
    return text.split(separator) if text else []


def _read_int(text: str) -> int | None:
    try:
        return try_read_int("", text)
    except ReadError:
        return None


def _job_ids(text: str) -> tuple[int, ...] | None:
    jobs = []
    for item in sep_split("+", text):
        job = _read_int(item)
        if job is None or job < 0:
            return None
        jobs.append(job)
    return tuple(jobs)


def _repair(
    tag: str, kind: str, uuid: str, when: str, jobs: str, result: RepairResult | None
) -> RepairData | None:
    repair_type = RepairType.from_raw(kind)
    seconds = _read_int(when)
    job_ids = _job_ids(jobs)
    if repair_type is None or seconds is None or job_ids is None:
        return None
    return RepairData(repair_type, uuid, seconds, job_ids, result, tag)


def parse_repair_tag(tag: str) -> RepairData | None:
    """A ``pending`` or ``result`` tag as a record (``parseInitTag``); None otherwise."""
    pending = chomp_prefix(PENDING_PREFIX, tag)
    if pending is not None:
        parts = sep_split(":", pending)
        if len(parts) == 4:
            kind, uuid, when, jobs = parts
            found = _repair(tag, kind, uuid, when, jobs, None)
            if found is not None:
                return found
    done = chomp_prefix(RESULT_PREFIX, tag)
    if done is None:
        return None
    parts = sep_split(":", done)
    if len(parts) != 5:
        return None
    kind, uuid, when, result, jobs = parts
    outcome = RepairResult.from_raw(result)
    if outcome is None:
        return None
    return _repair(tag, kind, uuid, when, jobs, outcome)


# --- policies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Enabled:
    """Repairs allowed up to ``up_to``."""

    up_to: RepairType


@dataclass(frozen=True)
class Suspended:
    """Repairs suspended forever (``until`` None) or until a time (seconds)."""

    until: int | None = None


@dataclass(frozen=True)
class NotEnabled:
    """No object enables repairs for this instance."""


Policy = Enabled | Suspended | NotEnabled


def show_clock_time(seconds: int) -> str:
    """Haskell's ``show`` of a ``ClockTime``: local calendar time, as ``date`` prints it."""
    return time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(seconds))


def show_policy(policy: Policy) -> str:
    """Haskell's ``show`` of ``AutoRepairPolicy`` (harep prints it for skipped instances)."""
    if isinstance(policy, Enabled):
        return f"ArEnabled {policy.up_to.shown}"
    if isinstance(policy, Suspended):
        if policy.until is None:
            return "ArSuspended Forever"
        return f"ArSuspended (Until {show_clock_time(policy.until)})"
    return "ArNotEnabled"


def policy_of(tags: Iterable[str], now: float) -> Policy | None:
    """The policy one object's tags set, None if they set none (``getArPolicy``)."""
    tags = list(tags)
    enabled = [
        kind
        for kind in (RepairType.from_raw(chomp_prefix(ENABLED_PREFIX, t) or "") for t in tags)
        if kind is not None
    ]
    suspended = [
        rest for rest in (chomp_prefix(SUSPEND_PREFIX, t) for t in tags) if rest is not None
    ]
    if "" in suspended:
        return Suspended()
    times = [when for when in map(_read_int, suspended) if when is not None]
    future = [when for when in times if when > int(now // 1)]
    if future:
        return Suspended(max(future))
    if enabled:
        return Enabled(min(enabled))
    return None


def nearest_policy(
    instance_tags: Sequence[str], group_tags: Sequence[str], cluster_tags: Sequence[str], now: float
) -> Policy:
    """The instance's policy: its own tags, else its group's, else the cluster's."""
    for tags in (instance_tags, group_tags, cluster_tags):
        found = policy_of(tags, now)
        if found is not None:
            return found
    return NotEnabled()
