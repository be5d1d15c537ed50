"""A fake Ganeti master for harep: LUXI queries, job submission, job status, tag jobs.

It extends ``tests.htools.fake_ganeti`` (the cluster and its LUXI replies)
with what harep needs beyond htools' four queries: ``SubmitManyJobs`` (job
IDs from 1000 on; a tag job changes the instance's tags at once and
succeeds, any other job gets the status in ``repair_status``), and
``QueryJobs`` (the status of known jobs, ``null`` for unknown ones, as
ganeti-luxid answers). Every request is kept, with a ``connect`` marker
at each new connection, so a test sees which request went on which one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress

from tests.htools.fake_ganeti import (
    FakeCluster,
    FakeInstance,
    FakeLuxiFactory,
    FakeNode,
    LuxiServerProtocol,
    policy,
)

Json = Any
CONNECT = b"connect"
PROBE = b"probe"
FIRST_JOB_ID = 1000


@dataclass
class FakeJob:
    job_id: int
    ops: list[Json]
    status: str


@dataclass
class FakeMaster:
    """The cluster and its job queue; ``answer`` is the LUXI reply to one request."""

    cluster: FakeCluster
    job_status: dict[int, str] = field(default_factory=dict)
    """Statuses of jobs submitted before the run (the jobs in ``pending`` tags)."""
    repair_status: str = "running"
    tag_status: str = "success"
    """How tag jobs end; anything but success leaves the tags as they were."""
    fail_submission_at: int | None = None
    """The n-th ``SubmitManyJobs`` (from 1) is refused with an OpPrereqError."""
    jobs: list[FakeJob] = field(default_factory=list)
    submissions: int = 0

    def answer(self, message: bytes) -> bytes:
        request = json.loads(message)
        method, args = request["method"], request["args"]
        if method == "SubmitManyJobs":
            return self._submit(args[0])
        if method == "QueryJobs":
            return _ok([self._status(job_id) for job_id in args[0]])
        if method == "CancelJob":
            return _ok(self.cancel(int(args[0])))
        return _ok(self.cluster.luxi_result(method, args))

    def _submit(self, jobs: list[list[Json]]) -> bytes:
        self.submissions += 1
        if self.submissions == self.fail_submission_at:
            error = ["OpPrereqError", ["The job queue is unavailable", "wrong_state"]]
            return json.dumps({"success": False, "result": error}).encode()
        return _ok([[True, self.add_job(ops)] for ops in jobs])

    def add_job(self, ops: list[Json]) -> int:
        """Queue one job: tag jobs run at once, others take ``repair_status``."""
        job_id = FIRST_JOB_ID + len(self.jobs)
        if all(op.get("OP_ID") in ("OP_TAGS_SET", "OP_TAGS_DEL") for op in ops):
            status = self.tag_status
            if status == "success":
                for op in ops:
                    self._apply_tags(op)
        else:
            status = self.repair_status
        self.jobs.append(FakeJob(job_id, ops, status))
        self.job_status[job_id] = status
        return job_id

    def cancel(self, job_id: int) -> list[Json]:
        """As Ganeti: only a job still waiting in the queue can be cancelled."""
        if self.job_status.get(job_id) not in ("queued", "waiting"):
            return [False, f"Job {job_id} is no longer waiting in the queue"]
        self.job_status[job_id] = "canceled"
        return [True, f"Job {job_id} canceled"]

    def finish_all(self, status: str = "success") -> None:
        """Every job ends (between two runs: the repairs were done)."""
        for job_id in self.job_status:
            self.job_status[job_id] = status

    def _apply_tags(self, op: Json) -> None:
        """Change an instance's tags as OP_TAGS_SET/DEL would."""
        instances = self.cluster.instances
        for position, inst in enumerate(instances):
            if inst.name != op["name"]:
                continue
            if op["OP_ID"] == "OP_TAGS_SET":
                tags = inst.tags + tuple(t for t in op["tags"] if t not in inst.tags)
            else:
                tags = tuple(t for t in inst.tags if t not in op["tags"])
            instances[position] = dataclasses.replace(inst, tags=tags)

    def _status(self, job_id: Json) -> Json:
        status = self.job_status.get(int(job_id))
        return None if status is None else [status]

    def tags_of(self, name: str) -> tuple[str, ...]:
        return next(inst.tags for inst in self.cluster.instances if inst.name == name)


def _ok(result: Json) -> bytes:
    return json.dumps({"success": True, "result": result}).encode()


class _MarkingProtocol(LuxiServerProtocol):
    factory: MasterFactory

    def connectionMade(self) -> None:
        super().connectionMade()
        self._marker = len(self.factory.requests)
        self.factory.requests.append(CONNECT)

    def dataReceived(self, data: bytes) -> None:
        if data == PROBE:
            del self.factory.requests[self._marker]
            waiting, self.factory.waiting = self.factory.waiting, []
            for waiter in waiting:
                waiter.callback(None)
            return
        super().dataReceived(data)


class MasterFactory(FakeLuxiFactory):
    """The LUXI server of a ``FakeMaster``, marking each connection in ``requests``."""

    def __init__(self, master: FakeMaster) -> None:
        super().__init__(master.answer)
        self.master = master
        self.waiting: list[Deferred[None]] = []

    def probed(self) -> Deferred[None]:
        """Fires when a connection sends ``PROBE`` (it is not recorded)."""
        waiter: Deferred[None] = Deferred()
        self.waiting.append(waiter)
        return waiter

    def buildProtocol(self, addr: IAddress | None) -> LuxiServerProtocol:
        protocol = _MarkingProtocol()
        protocol.factory = self
        return protocol


PREFIX = "ganeti:watcher:autorepair:"
FUTURE = 4102444800  # 2100-01-01T00:00:00Z
PAST = 946684800  # 2000-01-01T00:00:00Z


def _node(name: str, group: str, offline: bool = False, drained: bool = False) -> FakeNode:
    return FakeNode(
        name, group, 32768, 1024, 20000, 409600, 300000, 8, 1, offline=offline, drained=drained
    )


def _inst(name: str, pnode: str, snode: str, template: str, *tags: str) -> FakeInstance:
    return FakeInstance(name, 1024, 10240, 1, "running", pnode, snode, template, tags)


def every_state_cluster() -> FakeCluster:
    """One cluster where each rule and each state of harep's state machine occurs once.

    Group ``default`` allows fix-storage and reinstall (fix-storage wins);
    group ``manual`` has no autorepair tag; the cluster's suspension
    expired. Nodes 3 and 4 are offline, node 5 is drained.
    """
    p = PREFIX
    return FakeCluster(
        groups=[
            ("default", "uuid-default", "preferred",
             (f"{p}reinstall", f"{p}fix-storage"), policy()),
            ("manual", "uuid-manual", "preferred", (), policy()),
        ],
        nodes=[
            _node("node1", "default"),
            _node("node2", "default"),
            _node("node3", "default", offline=True),
            _node("node4", "default", offline=True),
            _node("node5", "default", drained=True),
            _node("node6", "manual"),
            _node("node7", "manual", offline=True),
        ],
        instances=[
            _inst("healthy", "node1", "node2", "drbd"),
            _inst("both-off", "node3", "node4", "drbd", f"{p}reinstall"),
            _inst("primary-off", "node3", "node1", "drbd", f"{p}failover"),
            _inst("secondary-off", "node1", "node5", "drbd"),
            _inst("plain-off", "node4", "", "plain"),
            _inst("diskless-off", "node3", "", "diskless", f"{p}reinstall"),
            _inst("not-enabled", "node7", "node6", "drbd"),
            _inst("suspended", "node3", "node1", "drbd", f"{p}failover", f"{p}suspend"),
            _inst("suspended-until", "node3", "node1", "drbd",
                  f"{p}failover", f"{p}suspend:{FUTURE}", f"{p}suspend:{FUTURE - 10}"),
            _inst("suspend-expired", "node1", "node4", "drbd", f"{p}suspend:{PAST}"),
            _inst("pending-running", "node1", "node3", "drbd",
                  f"{p}pending:fix-storage:u-run:{PAST}:11"),
            _inst("pending-done", "node1", "node2", "drbd",
                  f"{p}pending:failover:u-done:{PAST}:12+13"),
            _inst("pending-failed", "node1", "node3", "drbd",
                  f"{p}pending:fix-storage:u-fail:{PAST}:14+15"),
            _inst("pending-no-jobs", "node2", "node1", "drbd",
                  f"{p}pending:fix-storage:u-none:{PAST}:"),
            _inst("failed", "node2", "node3", "drbd",
                  f"{p}result:fix-storage:u-old:{PAST}:failure:16"),
            _inst("repaired-before", "node3", "node2", "drbd", f"{p}failover",
                  f"{p}result:failover:u-a:{PAST}:success:17",
                  f"{p}result:failover:u-b:{PAST + 5}:success:18"),
            _inst("enoperm-before", "node4", "", "plain",
                  f"{p}result:reinstall:u-e:{PAST}:enoperm:"),
            _inst("odd-tags", "node2", "node1", "drbd",
                  f"{p}pending:fix-storage:u-x:notatime:11", f"{p}result:bogus:u-y:1:success:1",
                  f"{p}pending:fix-storage:u-z:1:-3", f"{p}sometype", "app:web"),
        ],
        master="node1",
        tags=(f"{p}suspend:{PAST}",),
    )  # fmt: skip


def every_state_master() -> FakeMaster:
    """The cluster above with the jobs its pending tags name, in the states they test."""
    return FakeMaster(
        cluster=every_state_cluster(),
        job_status={
            11: "running", 12: "success", 13: "success", 14: "success", 15: "error",
            16: "error", 17: "success", 18: "success",
        },
    )  # fmt: skip


def two_pending_master() -> FakeMaster:
    """An instance with two unfinished repairs: harep refuses to go on."""
    cluster = every_state_cluster()
    p = PREFIX
    cluster.instances = [
        _inst("healthy", "node1", "node2", "drbd"),
        _inst("twice", "node1", "node2", "drbd",
              f"{p}pending:failover:u-2:{PAST + 1}:12", f"{p}pending:failover:u-1:{PAST}:11"),
    ]  # fmt: skip
    return FakeMaster(cluster=cluster, job_status={11: "running", 12: "running"})


def one_repair_master() -> FakeMaster:
    """One instance to fail over, and nothing else."""
    cluster = every_state_cluster()
    cluster.instances = [_inst("primary-off", "node3", "node1", "drbd", f"{PREFIX}failover")]
    return FakeMaster(cluster=cluster)


def queued_repair_failing_tag_master() -> FakeMaster:
    """Tag jobs end in error; the repair job still waits in the queue."""
    master = failing_tag_job_master()
    master.repair_status = "queued"
    return master


def failing_tag_job_master() -> FakeMaster:
    """Tag jobs end in error (the repair job was accepted)."""
    master = one_repair_master()
    master.tag_status = "error"
    return master


def unknown_job_master() -> FakeMaster:
    """A pending tag names a job the master does not know (archived, or a typo)."""
    cluster = every_state_cluster()
    cluster.instances = [
        _inst("lost", "node1", "node2", "drbd", f"{PREFIX}pending:failover:u:1:99")
    ]
    return FakeMaster(cluster=cluster)


def bad_status_master() -> FakeMaster:
    """The master answers a job status that is not one of Ganeti's."""
    master = unknown_job_master()
    master.job_status[99] = "exploded"
    return master
