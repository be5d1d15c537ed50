"""The autorepair tag grammar and the policy rules (nearest object, least destructive, suspend)."""

from __future__ import annotations

import pytest

from ganeti_agent.harep.tags import (
    Enabled,
    NotEnabled,
    RepairData,
    RepairResult,
    RepairType,
    Suspended,
    nearest_policy,
    parse_repair_tag,
    policy_of,
    show_policy,
)

P = "ganeti:watcher:autorepair:"
NOW = 1_800_000_000.5


def test_types_are_ordered_from_the_least_destructive() -> None:
    assert sorted(RepairType, reverse=True)[-1] is RepairType.FIX_STORAGE
    assert [t.raw for t in RepairType] == ["fix-storage", "migrate", "failover", "reinstall"]
    assert [t.shown for t in RepairType] == [
        "ArFixStorage",
        "ArMigrate",
        "ArFailover",
        "ArReinstall",
    ]


@pytest.mark.parametrize(
    ("tag", "parsed"),
    [
        (
            f"{P}pending:failover:u1:100:5+6",
            RepairData(RepairType.FAILOVER, "u1", 100, (5, 6), None),
        ),
        (f"{P}pending:failover:u1:100:", RepairData(RepairType.FAILOVER, "u1", 100, (), None)),
        (
            f"{P}result:reinstall:u2:0x10:enoperm:",
            RepairData(RepairType.REINSTALL, "u2", 16, (), RepairResult.ENOPERM),
        ),
        (
            f"{P}result:fix-storage:u3:-5:failure:7",
            RepairData(RepairType.FIX_STORAGE, "u3", -5, (7,), RepairResult.FAILURE),
        ),
    ],
)
def test_progress_tags(tag: str, parsed: RepairData) -> None:
    found = parse_repair_tag(tag)
    assert found is not None
    assert found == RepairData(
        parsed.kind, parsed.uuid, parsed.time, parsed.jobs, parsed.result, tag
    )


@pytest.mark.parametrize(
    "tag",
    [
        f"{P}pending:failover:u1:100",  # three fields
        f"{P}pending:failover:u1:100:5:6",  # five fields
        f"{P}pending:move:u1:100:5",  # no such type
        f"{P}pending:failover:u1:soon:5",  # no time
        f"{P}pending:failover:u1:100:5+",  # empty job id
        f"{P}pending:failover:u1:100:-1",  # negative job id
        f"{P}result:failover:u1:100:done:5",  # no such result
        f"{P}result:failover:u1:100:5",  # no result
        f"{P}pending",
        f"{P}failover",
        "pending:failover:u1:100:5",
    ],
)
def test_malformed_progress_tags_are_ignored(tag: str) -> None:
    assert parse_repair_tag(tag) is None


def test_least_destructive_tag_of_one_object_wins() -> None:
    assert policy_of([f"{P}reinstall", f"{P}failover", "other"], NOW) == Enabled(
        RepairType.FAILOVER
    )
    assert policy_of([f"{P}bogus", "x"], NOW) is None


def test_suspension() -> None:
    assert policy_of([f"{P}reinstall", f"{P}suspend"], NOW) == Suspended()
    assert policy_of([f"{P}suspend:"], NOW) == Suspended()
    future = int(NOW) + 1
    assert policy_of([f"{P}suspend:{future}", f"{P}suspend:{future - 5}"], NOW) == Suspended(future)
    assert policy_of([f"{P}suspend:{int(NOW)}", f"{P}fix-storage"], NOW) == Enabled(
        RepairType.FIX_STORAGE
    )
    assert policy_of([f"{P}suspend:{int(NOW)}"], NOW) is None


def test_nearest_object_wins() -> None:
    cluster = [f"{P}fix-storage", f"{P}reinstall"]
    assert nearest_policy([f"{P}failover"], [], cluster, NOW) == Enabled(RepairType.FAILOVER)
    assert nearest_policy([], [], cluster, NOW) == Enabled(RepairType.FIX_STORAGE)
    assert nearest_policy([], [f"{P}suspend"], cluster, NOW) == Suspended()
    assert nearest_policy([f"{P}migrate"], [f"{P}suspend"], [], NOW) == Enabled(RepairType.MIGRATE)
    assert nearest_policy([], [], [], NOW) == NotEnabled()


def test_policies_as_haskell_shows_them() -> None:
    assert show_policy(NotEnabled()) == "ArNotEnabled"
    assert show_policy(Suspended()) == "ArSuspended Forever"
    assert show_policy(Enabled(RepairType.MIGRATE)) == "ArEnabled ArMigrate"
