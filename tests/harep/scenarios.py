"""The scripted harep scenarios: a fake master, then one or more runs with their options.

Each scenario was run against Ganeti 3.0.2's harep (``record.py``); what it
sent and printed, normalised, is in ``data/recorded.json``. The tests run
``ganeti-harep`` through the same scenarios and compare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.harep import fake_master
from tests.harep.fake_master import FakeMaster


@dataclass(frozen=True)
class Step:
    arguments: tuple[str, ...] = ()
    before: Callable[[FakeMaster], None] = lambda master: None


@dataclass(frozen=True)
class Scenario:
    name: str
    master: Callable[[], FakeMaster]
    steps: tuple[Step, ...] = field(default_factory=lambda: (Step(),))
    same_as_ganeti: bool = True
    """False where ganeti-harep deliberately differs (it keeps tags consistent)."""


def _fail_submission(at: int) -> Callable[[], FakeMaster]:
    def build() -> FakeMaster:
        master = fake_master.one_repair_master()
        master.fail_submission_at = at
        return master

    return build


SCENARIOS = (
    Scenario(
        "every-state",
        fake_master.every_state_master,
        (
            Step(),
            Step(before=FakeMaster.finish_all),
        ),
    ),
    Scenario(
        "dry-run",
        fake_master.every_state_master,
        (Step(("--dry-run", "--job-delay=0.05")),),
    ),
    Scenario(
        "no-delay-with-reason",
        fake_master.one_repair_master,
        (Step(("--job-delay=0", '--reason=h\u00e9llo "x"\ty\\z~')),),
    ),
    Scenario("long-delay", fake_master.one_repair_master, (Step(("--job-delay=12345678.5",)),)),
    Scenario("two-pending", fake_master.two_pending_master),
    Scenario("unknown-job", fake_master.unknown_job_master),
    Scenario("bad-status", fake_master.bad_status_master),
    Scenario("repair-refused", _fail_submission(1)),
    Scenario("tag-job-failed", fake_master.failing_tag_job_master, same_as_ganeti=False),
    Scenario("pending-tag-refused", _fail_submission(2), same_as_ganeti=False),
)


def by_name(name: str) -> Scenario:
    return next(scenario for scenario in SCENARIOS if scenario.name == name)
