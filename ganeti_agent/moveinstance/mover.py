"""One instance move: the source and destination conversations, run side by side.

The source side checks the instance, reads its static information and
prepares a remote export; the destination side then creates the instance in
``remote-import`` mode, whose job announces (in a ``remote-import`` log
entry) where it listens and its signed CA; the source side exports there.
Both jobs are waited for. Ganeti's tool runs the sides as two threads per
move; here they are two coroutines on one reactor, handing each other what
they learn through Deferreds, so any number of moves share one thread.

When one side fails the other is told: a side still waiting for the other's
hand-off stops with "Aborted" (Ganeti's word), and an import already running
on the destination is cancelled and then waited for, so that both jobs'
errors are reported.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.interfaces import IReactorTime

from ganeti_agent.core.jsontypes import JSONArray, JSONObject, JSONShapeError, expect_array
from ganeti_agent.moveinstance import plan
from ganeti_agent.rapi import jobs
from ganeti_agent.rapi.client import RapiClient, RapiError, RapiHttpError, sleep

#: (what the line is about, the line); the command prints them as progress.
Progress = Callable[[str, str], None]
#: Opportunistic retries wait ``--opportunistic-delay`` varied by up to this fraction.
DELAY_VARIATION = 0.15
REMOTE_IMPORT_LOG = "remote-import"
#: Seconds an aborted import may keep running (Ganeti cannot cancel a running job; the
#: import ends when its connect timeout expires) before the move stops waiting for it.
IMPORT_ABORT_GRACE = 300.0


class Aborted(Exception):
    """The other side of the move failed, so this side stopped."""

    def __str__(self) -> str:
        return "Aborted"


@dataclass(frozen=True)
class MoveResult:
    """How one move ended; an error text per side, None where that side succeeded."""

    move: plan.InstanceMove
    source_error: str | None
    dest_error: str | None

    @property
    def succeeded(self) -> bool:
        return self.source_error is None and self.dest_error is None

    def summary(self) -> str:
        """``name: Success`` or ``name: Failed (Source error: …, destination error: …)``."""
        if self.succeeded:
            return f"{self.move.label}: Success"
        return (
            f"{self.move.label}: Failed (Source error: {self.source_error},"
            f" destination error: {self.dest_error})"
        )


def describe(error: BaseException) -> str:
    """A one-line account of why a side failed, never a traceback."""
    expected = Aborted | plan.PlanError | RapiError | jobs.JobFailed | jobs.JobLost | JSONShapeError
    if isinstance(error, expected):
        return str(error)
    return f"unexpected {type(error).__name__}: {error}"


@dataclass
class _Shared:
    """What the two sides of one move know of each other."""

    exported: Deferred[tuple[JSONObject, JSONObject, list[str]]]
    imported: Deferred[JSONObject]
    import_job: str | None = None
    abort_deadline: float | None = None
    source_failed: bool = False
    dest_finished: bool = False


class InstanceMover:
    """Moves instances from the ``source`` client's cluster to the ``dest`` client's."""

    def __init__(
        self,
        source: RapiClient,
        dest: RapiClient,
        clock: IReactorTime,
        progress: Progress,
        *,
        source_cluster: str = "source",
        detail: Progress | None = None,
        abort_grace: float = IMPORT_ABORT_GRACE,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.source = source
        self.dest = dest
        self._clock = clock
        self._progress = progress
        self._source_cluster = source_cluster
        self._detail = detail
        self._abort_grace = abort_grace
        self._uniform = uniform

    async def move(self, move: plan.InstanceMove) -> MoveResult:
        """Run both sides of one move; never raises, the result says what failed."""
        shared = _Shared(Deferred(), Deferred())
        outcome: list[str | None] = await gatherResults(
            [
                ensureDeferred(self._guard_source(move, shared)),
                ensureDeferred(self._guard_dest(move, shared)),
            ]
        )
        for handoff in (shared.exported, shared.imported):
            handoff.addErrback(lambda _: None)
        return MoveResult(move, outcome[0], outcome[1])

    def _say(self, move: plan.InstanceMove, message: str) -> None:
        self._progress(move.label, message)

    async def _guard_source(self, move: plan.InstanceMove, shared: _Shared) -> str | None:
        try:
            await self._source_side(move, shared)
        except Exception as exc:
            shared.source_failed = True
            if not shared.exported.called:
                shared.exported.errback(Aborted())
            elif shared.import_job is not None and not shared.dest_finished:
                await self._abort_import(move, shared)
            return describe(exc)
        return None

    async def _guard_dest(self, move: plan.InstanceMove, shared: _Shared) -> str | None:
        try:
            await self._dest_side(move, shared)
        except Exception as exc:
            shared.dest_finished = True
            if not shared.imported.called:
                shared.imported.errback(Aborted())
            return describe(exc)
        shared.dest_finished = True
        return None

    async def _abort_import(self, move: plan.InstanceMove, shared: _Shared) -> None:
        job_id = shared.import_job
        assert job_id is not None
        shared.abort_deadline = self._clock.seconds() + self._abort_grace
        self._say(move, f"aborting the import (job {job_id}) on the destination cluster")
        try:
            reply = await self.dest.cancel_job(job_id)
        except RapiError as exc:
            self._say(move, f"could not cancel job {job_id}: {exc}")
            return
        if isinstance(reply, list) and reply and reply[0] is False:
            self._say(move, f"job {job_id} not cancelled: {str(reply[1:])[:200]}")

    def _give_up_after_abort(self, shared: _Shared, job_id: str) -> Callable[[], None]:
        def check() -> None:
            deadline = shared.abort_deadline
            if deadline is not None and self._clock.seconds() >= deadline:
                raise plan.PlanError(
                    f"import job {job_id} still running {self._abort_grace:g} s after the"
                    f" move was aborted; see gnt-job info {job_id} on the destination"
                )

        return check

    async def _wait(self, client: RapiClient, move: plan.InstanceMove, job_id: str) -> JSONArray:
        return await client.wait_for_job(job_id, on_log=self._job_log(move, job_id))

    def _job_log(self, move: plan.InstanceMove, job_id: str) -> Callable[[JSONArray], None]:
        def log(entry: JSONArray) -> None:
            if self._detail is not None:
                self._detail(move.label, f"job {job_id}: {str(entry[3])[:500]}")

        return log

    async def _source_side(self, move: plan.InstanceMove, shared: _Shared) -> None:
        name = move.source_name
        self._say(move, "checking that the instance exists on the source cluster")
        try:
            details = await self.source.get_instance(name)
        except RapiHttpError as exc:
            if exc.code == 404:
                raise plan.PlanError(
                    f"Instance {name} not found on cluster {self._source_cluster} ({exc.text})"
                ) from None
            raise
        plan.check_movable(move, details)
        tags = [str(tag) for tag in expect_array(details.get("tags") or [], f"{name} tags")]
        self._say(move, "reading instance information from the source cluster")
        info_job = await self.source.get_instance_info(name, static=True)
        info = plan.instance_info(await self._wait(self.source, move, info_job))
        plan.check_info_movable(move, info)
        plan.nics_for(move, info)
        self._say(move, "preparing the export on the source cluster")
        export_job = await self.source.prepare_export(name, plan.EXPORT_MODE_REMOTE)
        export = plan.export_info(await self._wait(self.source, move, export_job))
        shared.exported.callback((info, export, tags))
        self._say(move, "waiting for the destination cluster to listen")
        imported = await shared.imported
        if move.keep_source_instance and info.get("config_state") == "up":
            self._say(move, "stopping the source instance, which is kept")
            stop_job = await self.source.shutdown_instance(name)
            await self._wait(self.source, move, stop_job)
        self._say(move, "exporting to the destination cluster")
        body = plan.export_body(move, export, imported)
        result = await self._wait(self.source, move, await self.source.export_instance(name, body))
        plan.check_export_result(result)
        self._say(move, "export finished")

    async def _dest_side(self, move: plan.InstanceMove, shared: _Shared) -> None:
        info, export, tags = await shared.exported
        self._say(move, f"creating instance {move.dest_name} in remote-import mode")
        attempts = [True] * move.opportunistic_tries + [False]
        for opportunistic in attempts:
            body = plan.creation_body(move, info, export, tags, opportunistic)
            job_id = await self.dest.create_instance(body)
            shared.import_job = job_id
            if shared.source_failed:
                await self._abort_import(move, shared)
            try:
                await self.dest.wait_for_job(
                    job_id,
                    on_log=self._import_log(move, job_id, shared, plan.count_disks(info)),
                    on_unchanged=self._give_up_after_abort(shared, job_id),
                )
            except jobs.JobFailed as exc:
                if not (opportunistic and _no_free_resources(exc)):
                    raise
                delay = move.opportunistic_delay * self._uniform(
                    1 - DELAY_VARIATION, 1 + DELAY_VARIATION
                )
                self._say(move, f"opportunistic attempt failed, next one in {delay:.2f} s")
                await sleep(self._clock, delay)
                continue
            self._say(move, "import finished")
            return

    def _import_log(
        self, move: plan.InstanceMove, job_id: str, shared: _Shared, disk_count: int
    ) -> Callable[[JSONArray], None]:
        report = self._job_log(move, job_id)

        def log(entry: JSONArray) -> None:
            if entry[2] != REMOTE_IMPORT_LOG:
                report(entry)
                return
            if shared.imported.called:
                raise plan.PlanError(f"job {job_id} announced a second remote import")
            shared.imported.callback(plan.import_info(entry[3], disk_count))

        return log


def _no_free_resources(error: jobs.JobFailed) -> bool:
    return (
        error.error is not None
        and error.error.kind == "OpPrereqError"
        and error.error.error_code == jobs.ECODE_TEMP_NORES
    )
