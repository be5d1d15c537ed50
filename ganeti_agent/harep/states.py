"""harep's state machine, pure: initial states from tags, pending checks, repairs.

Each function is one step of ``Program/Harep.hs`` with the I/O taken out:
the driver supplies the time, new UUIDs and job statuses, and carries out
the tag changes and jobs these functions return.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ganeti_agent.harep.tags import RepairData, RepairResult, RepairType, parse_repair_tag
from ganeti_agent.htools.haskell_read import haskell_show_string


class State(enum.Enum):
    """An instance's repair state, by the name harep prints (``arStateName``)."""

    HEALTHY = "Healthy"
    NEEDS_REPAIR = "Needs repair"
    PENDING = "Pending repair"
    FAILED = "Failure"


@dataclass(frozen=True)
class InstanceState:
    """``InstanceData``: an instance's state, its repair, and tags due for removal."""

    name: str
    state: State = State.HEALTHY
    repair: RepairData | None = None
    tags_to_remove: tuple[str, ...] = ()

    def moved(self, state: State, repair: RepairData) -> InstanceState:
        """The new state; the current repair's tag joins the tags to remove (``delCurTag``)."""
        current = () if self.repair is None else (self.repair.tag,)
        return InstanceState(self.name, state, repair, current + self.tags_to_remove)


class TagError(Exception):
    """The instance's tags cannot be interpreted (two unfinished repairs)."""


JOB_RUNNING_STATUSES = frozenset({"queued", "waiting", "canceling", "running"})
"""Ganeti's ``JobStatus`` values up to ``running``: the job has not finished."""


def _state_of(result: RepairResult | None) -> State:
    if result is None:
        return State.PENDING
    return State.FAILED if result is RepairResult.FAILURE else State.HEALTHY


def _result_order(repair: RepairData) -> tuple[int, int]:
    return (-1 if repair.result is None else int(repair.result), repair.time)


def initial_state(name: str, tags: Sequence[str]) -> InstanceState:
    """The state the instance's tags record (``setInitialState``).

    Repairs are grouped by id and taken oldest first; in a group, the
    highest result wins (a pending tag counts least). The earliest failure
    stays; a healthy instance takes each newer group's state; any group
    after an unfinished one is an error (``TagError``, Ganeti's text).
    """
    repairs = sorted(
        (r for r in map(parse_repair_tag, tags) if r is not None), key=lambda r: r.uuid
    )
    groups: list[list[RepairData]] = []
    for repair in repairs:
        if groups and groups[-1][0].uuid == repair.uuid:
            groups[-1].append(repair)
        else:
            groups.append([repair])
    groups.sort(key=lambda group: min(r.time for r in group))
    current = InstanceState(name)
    for group in groups:
        newest = sorted(group, key=_result_order)[-1]
        if current.state is State.FAILED:
            continue
        if current.state is State.PENDING:
            assert current.repair is not None
            raise TagError(
                f"An unfinished repair was found in instance {name}: found tag "
                f"{haskell_show_string(newest.tag)}, but older pending tag "
                f"{haskell_show_string(current.repair.tag)}exists."
            )
        current = current.moved(_state_of(newest.result), newest)
    return current


def jobs_finished(statuses: Sequence[str]) -> bool:
    return not any(status in JOB_RUNNING_STATUSES for status in statuses)


def after_jobs(current: InstanceState, statuses: Sequence[str], now: int) -> InstanceState:
    """A pending repair whose jobs all finished: healthy if all succeeded, else failed."""
    assert current.repair is not None
    succeeded = all(status == "success" for status in statuses)
    result = RepairResult.SUCCESS if succeeded else RepairResult.FAILURE
    repair = dataclasses.replace(current.repair, result=result, time=now).with_tag()
    return current.moved(State.HEALTHY if succeeded else State.FAILED, repair)


def refused(current: InstanceState, kind: RepairType, uuid: str, now: int) -> InstanceState:
    """A repair the policy does not allow: needs repair, with an ``enoperm`` result."""
    repair = RepairData(kind, uuid, now, (), RepairResult.ENOPERM).with_tag()
    return current.moved(State.NEEDS_REPAIR, repair)


def submitted(
    current: InstanceState, kind: RepairType, uuid: str, now: int, jobs: Sequence[int]
) -> InstanceState:
    """A repair whose jobs were submitted: pending, with their ids."""
    repair = RepairData(kind, uuid, now, tuple(jobs), None).with_tag()
    return current.moved(State.PENDING, repair)


def moving_line(name: str, before: State, after: State) -> str:
    return (
        f"Moving {name} from {haskell_show_string(before.value)} to "
        f"{haskell_show_string(after.value)}"
    )


def status_counts(states: Sequence[InstanceState]) -> list[str]:
    """The closing summary, one line per state that occurs, by name."""
    counts: dict[str, int] = {}
    for item in states:
        counts[item.state.value] = counts.get(item.state.value, 0) + 1
    rule = "---------------------"
    lines = [rule, "Instance status count", rule]
    return lines + [f"{name}: {counts[name]}" for name in sorted(counts)]
