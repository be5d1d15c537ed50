"""One harep run (``Program/Harep.hs`` ``main``), over any backend.

The backend loads the cluster and opens sessions that query job statuses
and submit jobs; everything else is here, in Ganeti's order: the initial
states from the tags, a first session that checks pending repairs, a
second that submits repairs for healthy but broken instances, then the
summary. LUXI and RAPI runs differ only in their backend, so they take the
same decisions and print the same lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from ganeti_agent.harep import rules, states
from ganeti_agent.harep.errors import HarepError
from ganeti_agent.harep.rules import Opcode, Repair
from ganeti_agent.harep.states import InstanceState, State
from ganeti_agent.harep.tags import Enabled, Policy, nearest_policy, show_policy
from ganeti_agent.htools.haskell_read import haskell_show_string
from ganeti_agent.htools.instance import NO_SECONDARY
from ganeti_agent.htools.loader import ClusterData

FIRST_POLL_DELAY = 0.5
MAX_POLL_DELAY = 15.0
"""Ganeti's ``waitForJobs``: first status check after 0.5 s, then doubling up to 15 s."""
MAX_STATUS_CHECKS = 250
"""About an hour at Ganeti's pace; Ganeti waits for a tag job forever, which would keep
the run (and its lock) forever."""


class Session(Protocol):
    """A connection to the master that can query and submit jobs."""

    async def job_statuses(self, jobs: Sequence[int]) -> list[str]:
        """Each job's status; HarepError with Ganeti's error text if the query fails."""
        ...

    async def submit(self, opcodes: Sequence[Opcode]) -> list[int]:
        """Submit one job of annotated opcodes; the ids of what was submitted."""
        ...

    async def cancel(self, job: int) -> bool:
        """Ask the master to cancel a job; whether it did (only queued jobs can be)."""
        ...


class Backend(Protocol):
    async def load(self) -> ClusterData:
        """The merged cluster; HarepError("failed to load data, aborting: …") on failure."""
        ...

    def session(self) -> AbstractAsyncContextManager[Session]: ...


class Clock(Protocol):
    def now(self) -> float: ...

    def uuid(self) -> str: ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class RunOptions:
    dry_run: bool = False
    job_delay: float = 10.0
    reason: str | None = None
    version: str = ""
    """The version line (``harep (ganeti-agent) version …``) for the comment and reason."""
    poll_delay: float = FIRST_POLL_DELAY


@dataclass(frozen=True)
class Target:
    """What the rules need of one instance."""

    name: str
    policy: Policy
    repair: Repair | None


def targets(cluster: ClusterData, now: float) -> list[Target]:
    """Each instance with its policy (``setArPolicy``) and its repair (``detectBroken``)."""
    found = []
    for inst in cluster.instances:
        primary = cluster.nodes[inst.pnode]
        group = cluster.groups[primary.group]
        secondary_offline = (
            inst.snode != NO_SECONDARY and cluster.nodes[inst.snode].offline
        )  # a DRBD instance without a secondary crashes Ganeti's harep; here it is not broken
        repair = rules.detect_broken(
            inst.name, inst.disk_template, primary.offline, secondary_offline
        )
        policy = nearest_policy(inst.all_tags, group.tags, cluster.tags, now)
        found.append(Target(inst.name, policy, repair))
    return found


class Run:
    """The steps of one run, printing each line through ``out``."""

    def __init__(self, options: RunOptions, clock: Clock, out: Callable[[str], None]) -> None:
        self.options = options
        self.clock = clock
        self.out = out

    def _now_seconds(self) -> int:
        return int(self.clock.now() // 1)

    def _annotate(self, opcodes: Sequence[Opcode], nanoseconds: int) -> list[Opcode]:
        version = self.options.version
        reason = self.options.reason
        if reason is None:
            reason = f"{version} called"
        comment = f"automated repairs by {version}"
        return [rules.annotate(op, comment, reason, nanoseconds) for op in opcodes]

    def _nanoseconds(self) -> int:
        """``currentTimestamp`` as a reason-trail time: microseconds, in nanoseconds."""
        micro = int(self.clock.now() * 1_000_000)
        return micro * 1000

    async def submit(self, session: Session, opcodes: Sequence[Opcode]) -> list[int]:
        try:
            return await session.submit(opcodes)
        except HarepError as error:
            raise HarepError(f"Job submission error: {error}") from None

    async def wait_for_jobs(self, session: Session, jobs: Sequence[int]) -> list[str]:
        """Poll until every job ended (``waitForJobs``), at most ``MAX_STATUS_CHECKS`` times."""
        delay = self.options.poll_delay
        for _ in range(MAX_STATUS_CHECKS):
            await self.clock.sleep(delay)
            try:
                statuses = await session.job_statuses(jobs)
            except HarepError as error:
                raise HarepError(f"Checking job status: {error}") from None
            if states.jobs_finished(statuses):
                return statuses
            delay = min(delay * 2, MAX_POLL_DELAY)
        shown = "+".join(str(job) for job in jobs)
        raise HarepError(f"job(s) {shown} not finished after {MAX_STATUS_CHECKS} status checks")

    async def execute(self, session: Session, opcode: Opcode, nanoseconds: int) -> None:
        """Submit one tag job and wait for it (``execJobsWaitOk``); nothing in a dry run."""
        if self.options.dry_run:
            return
        jobs = await self.submit(session, self._annotate([opcode], nanoseconds))
        statuses = await self.wait_for_jobs(session, jobs)
        failed = [
            f"{job}=>{status}"
            for job, status in zip(jobs, statuses, strict=False)
            if status != "success"
        ]
        if failed:
            raise HarepError("The following jobs failed: " + ", ".join(failed))

    async def commit(self, session: Session, current: InstanceState) -> InstanceState:
        """Add the current repair's tag, then remove the old ones (``commitChange``)."""
        nanoseconds = self._nanoseconds()
        name = current.name
        if current.repair is not None:
            tag = current.repair.tag
            self.out(f">>> Adding the following tag to {name}:\n{haskell_show_string(tag)}")
            await self.execute(session, rules.tags_set(name, [tag]), nanoseconds)
        if current.tags_to_remove:
            shown = "".join(haskell_show_string(t) + "\n" for t in current.tags_to_remove)
            self.out(f">>> Removing the following tags from {name}:\n{shown}".removesuffix("\n"))
            await self.execute(session, rules.tags_del(name, current.tags_to_remove), nanoseconds)
        return dataclasses.replace(current, tags_to_remove=())

    async def check_pending(self, session: Session, current: InstanceState) -> InstanceState:
        """A pending repair whose jobs all ended moves to healthy or failed (``processPending``)."""
        if current.state is not State.PENDING:
            return current
        assert current.repair is not None
        try:
            statuses = await session.job_statuses(current.repair.jobs)
        except HarepError as error:
            raise HarepError(f"could not check job status: {error}") from None
        if not states.jobs_finished(statuses):
            return current
        moved = states.after_jobs(current, statuses, self._now_seconds())
        self.out(states.moving_line(current.name, current.state, moved.state))
        return await self.commit(session, moved)

    async def repair(
        self, session: Session, current: InstanceState, target: Target
    ) -> InstanceState:
        """Submit the repair if the policy allows it (``doRepair``)."""
        repair = target.repair
        assert repair is not None
        policy = target.policy
        if not isinstance(policy, Enabled):
            self.out(f"Not repairing {current.name} because it's in state {show_policy(policy)}")
            return current
        if repair.kind > policy.up_to:
            refused = states.refused(current, repair.kind, self.clock.uuid(), self._now_seconds())
            self.out(
                f"Not performing a repair of type {repair.kind.shown} on {current.name} because"
                f" only repairs up to {policy.up_to.shown} are allowed"
            )
            return await self.commit(session, refused)
        nanoseconds = self._nanoseconds()
        self.out(f"Executing {repair.kind.shown} repair on {current.name}")
        opcodes = list(repair.opcodes)
        if self.options.job_delay > 0:
            opcodes.insert(0, rules.delay_opcode(self.options.job_delay))
        uuid = self.clock.uuid()
        now = self._now_seconds()
        if self.options.dry_run:
            self.out("jobs: " + rules.encode([opcodes]))
            jobs: list[int] = []
        else:
            jobs = await self.submit(session, self._annotate(opcodes, nanoseconds))
        submitted = states.submitted(current, repair.kind, uuid, now, jobs)
        try:
            return await self.commit(session, submitted)
        except HarepError as error:
            raise UntaggedRepair(str(error), current.name, jobs, submitted) from None


class UntaggedRepair(HarepError):
    """Repair jobs went in but their ``pending`` tag could not be written."""

    def __init__(
        self, message: str, instance: str, jobs: Sequence[int], state: InstanceState
    ) -> None:
        super().__init__(message)
        self.instance = instance
        self.jobs = tuple(jobs)
        self.state = state


def initial_states(cluster: ClusterData) -> list[InstanceState]:
    try:
        return [states.initial_state(i.name, i.all_tags) for i in cluster.instances]
    except states.TagError as error:
        raise HarepError(f"when parsing auto-repair tags: {error}") from None


async def run(
    backend: Backend, options: RunOptions, clock: Clock, out: Callable[[str], None]
) -> list[InstanceState]:
    """One run: load, check pending repairs, repair, print the summary."""
    cluster = await backend.load()
    steps = Run(options, clock, out)
    now = clock.now()
    current = initial_states(cluster)
    found = targets(cluster, now)
    async with backend.session() as session:
        current = [await steps.check_pending(session, item) for item in current]
    done = []
    async with backend.session() as session:
        for item, target in zip(current, found, strict=True):
            if target.repair is not None and item.state is State.HEALTHY:
                item = await repair_or_retag(steps, backend, session, item, target)
            done.append(item)
    for line in states.status_counts(done):
        out(line)
    return done


async def repair_or_retag(
    steps: Run, backend: Backend, session: Session, item: InstanceState, target: Target
) -> InstanceState:
    """Repair; if its ``pending`` tag cannot be written, never leave the repair untracked.

    Ganeti's harep stops there and leaves the repair running untagged, so
    the next run may start the same repair again. Here the tag is tried once
    more on a new connection (a master that restarted), then the repair
    jobs are cancelled (possible while they wait in the queue); the error
    line says which of these happened.
    """
    try:
        return await steps.repair(session, item, target)
    except UntaggedRepair as untagged:
        if not untagged.jobs:
            raise HarepError(str(untagged)) from None
        outcome = await _recover(steps, backend, untagged)
        raise HarepError(f"{untagged}; {outcome}") from None


async def _recover(steps: Run, backend: Backend, untagged: UntaggedRepair) -> str:
    jobs = "+".join(str(job) for job in untagged.jobs)
    assert untagged.state.repair is not None
    try:
        async with backend.session() as retry:
            try:
                await steps.commit(retry, untagged.state)
                return (
                    f"the tag of repair job(s) {jobs} of {untagged.instance} was written on a retry"
                )
            except HarepError:
                pass
            cancelled = [await retry.cancel(job) for job in untagged.jobs]
            if all(cancelled):
                return f"repair job(s) {jobs} of {untagged.instance} cancelled"
    except HarepError:
        pass
    return (
        f"repair job(s) {jobs} of {untagged.instance} run without their tag"
        f" {untagged.state.repair.tag}"
    )
