"""harep's state machine: initial states from tags, the end of pending repairs, new repairs."""

from __future__ import annotations

import pytest

from ganeti_agent.harep.states import (
    InstanceState,
    State,
    TagError,
    after_jobs,
    initial_state,
    jobs_finished,
    refused,
    status_counts,
    submitted,
)
from ganeti_agent.harep.tags import RepairType

P = "ganeti:watcher:autorepair:"


def test_no_progress_tags_is_healthy() -> None:
    assert initial_state("i", ["app:web", f"{P}failover"]) == InstanceState("i")


def test_newest_result_wins_and_the_older_is_due_for_removal() -> None:
    old, new = f"{P}result:failover:a:10:success:1", f"{P}result:failover:b:20:success:2"
    state = initial_state("i", [new, old])
    assert (state.state, state.repair and state.repair.tag, state.tags_to_remove) == (
        State.HEALTHY, new, (old,)
    )  # fmt: skip


def test_the_earliest_failure_stays() -> None:
    failed = f"{P}result:failover:a:10:failure:1"
    state = initial_state("i", [f"{P}result:failover:b:20:success:2", failed])
    assert state.state is State.FAILED and state.repair is not None and state.repair.tag == failed


def test_a_result_wins_over_the_pending_tag_of_the_same_repair() -> None:
    pending, done = f"{P}pending:failover:a:10:1", f"{P}result:failover:a:30:success:1"
    state = initial_state("i", [pending, done])
    assert state.state is State.HEALTHY and state.tags_to_remove == ()


def test_anything_after_an_unfinished_repair_is_an_error() -> None:
    with pytest.raises(TagError) as caught:
        initial_state("i", [f"{P}pending:failover:a:10:1", f"{P}result:failover:b:20:success:2"])
    assert str(caught.value) == (
        "An unfinished repair was found in instance i: found tag"
        f' "{P}result:failover:b:20:success:2", but older pending tag'
        f' "{P}pending:failover:a:10:1"exists.'
    )


def test_finished_jobs() -> None:
    assert jobs_finished(["success", "error", "canceled"])
    assert jobs_finished([])
    assert not jobs_finished(["success", "waiting"])


def test_pending_repairs_end_healthy_or_failed() -> None:
    pending = initial_state("i", [f"{P}pending:failover:a:10:1+2"])
    healthy = after_jobs(pending, ["success", "success"], 99)
    assert healthy.state is State.HEALTHY
    assert (
        healthy.repair is not None and healthy.repair.tag == f"{P}result:failover:a:99:success:1+2"
    )
    assert healthy.tags_to_remove == (f"{P}pending:failover:a:10:1+2",)
    failed = after_jobs(pending, ["success", "canceled"], 99)
    assert failed.state is State.FAILED
    assert failed.repair is not None and failed.repair.tag == f"{P}result:failover:a:99:failure:1+2"


def test_new_repairs() -> None:
    start = initial_state("i", [f"{P}result:failover:a:10:success:1"])
    done = submitted(start, RepairType.FIX_STORAGE, "u", 50, [7])
    assert (done.state, done.repair and done.repair.tag) == (
        State.PENDING, f"{P}pending:fix-storage:u:50:7"
    )  # fmt: skip
    assert done.tags_to_remove == (f"{P}result:failover:a:10:success:1",)
    no = refused(InstanceState("i"), RepairType.REINSTALL, "u", 50)
    assert (no.state, no.repair and no.repair.tag) == (
        State.NEEDS_REPAIR, f"{P}result:reinstall:u:50:enoperm:"
    )  # fmt: skip


def test_summary_is_sorted_by_state_name() -> None:
    states = [InstanceState("a", State.PENDING), InstanceState("b"), InstanceState("c")]
    assert status_counts(states)[3:] == ["Healthy: 2", "Pending repair: 1"]
