"""harep over RAPI (``-m CLUSTER``), from any machine: the same decisions as over LUXI.

The cluster is read from ``/2/groups?bulk=1``, ``/2/nodes?bulk=1``,
``/2/instances?bulk=1`` and ``/2/info`` with the shared RAPI client (basic
auth, CA file) and parsed by htools' RAPI backend, so the rules see what
they see over LUXI. Where LUXI submits one job of opcodes, RAPI has one
resource per opcode, so each opcode becomes its own job, submitted in
order, and the ``pending`` tag lists all their ids (the tag grammar allows
several). Two things LUXI has do not exist in RAPI: the test-delay opcode
of ``--job-delay`` (dropped) and the job comment (the ``--reason`` text
still reaches the reason trail through RAPI's ``reason`` parameter).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from ganeti_agent.core.jsontypes import JSON, JSONShapeError, expect_array, expect_str, member
from ganeti_agent.harep.errors import HarepError
from ganeti_agent.harep.loading import prepare
from ganeti_agent.harep.options import HarepOptions
from ganeti_agent.harep.rules import Opcode
from ganeti_agent.htools import rapi as htools_rapi
from ganeti_agent.htools.live import LiveCluster
from ganeti_agent.htools.loader import ClusterData
from ganeti_agent.htools.types import LoadError
from ganeti_agent.moveinstance.cli import SetupError, read_password_file
from ganeti_agent.rapi.client import IRapiReactor, RapiClient, RapiEndpoint, RapiError


def endpoint_for(options: HarepOptions) -> RapiEndpoint:
    """The cluster's RAPI endpoint, its password read; HarepError for a bad setup."""
    assert options.master is not None
    password = None
    try:
        if options.password_file is not None:
            password = read_password_file(options.password_file, "--password-file")
    except SetupError as error:
        raise HarepError(str(error)) from None
    if (options.username is None) != (password is None):
        raise HarepError("--username and --password-file go together")
    host, port = options.master, options.rapi_port
    if "://" in host:
        parts = urlsplit(host)
        if parts.scheme != "https" or not parts.hostname:
            raise HarepError(f"-m {host}: RAPI is reached over https")
        host, port = parts.hostname, parts.port or port
    return RapiEndpoint(host, port, options.username, password, options.ca_file)


def _reason(opcode: Opcode) -> str | None:
    trail = expect_array(opcode.get("reason") or [], "reason trail")
    return str(expect_array(trail[0], "reason")[1]) if trail else None


def _text(opcode: Opcode, name: str) -> str:
    return expect_str(member(opcode, name, "opcode"), f"opcode {name}")


def _texts(opcode: Opcode, name: str) -> list[str]:
    values = expect_array(member(opcode, name, "opcode"), f"opcode {name}")
    return [expect_str(value, f"opcode {name}") for value in values]


def _iallocator(opcode: Opcode) -> str | None:
    value = member(opcode, "iallocator", "opcode")
    return None if value is None else expect_str(value, "opcode iallocator")


def _job_id(value: JSON) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise HarepError(
            f"RAPI answered a job id that is not a number: {str(value)[:80]}"
        ) from None


class RapiSession:
    """Submits each opcode through its RAPI resource and reads job statuses."""

    def __init__(self, client: RapiClient) -> None:
        self._client = client

    async def _send(self, opcode: Opcode) -> int | None:
        """The opcode's job through its RAPI resource; the opcodes are harep's own (rules)."""
        client = self._client
        reason = _reason(opcode)
        kind = opcode["OP_ID"]
        if kind == "OP_TEST_DELAY":
            return None
        if kind == "OP_TAGS_SET":
            name, tags = _text(opcode, "name"), _texts(opcode, "tags")
            return _job_id(await client.add_instance_tags(name, tags, reason))
        if kind == "OP_TAGS_DEL":
            name, tags = _text(opcode, "name"), _texts(opcode, "tags")
            return _job_id(await client.delete_instance_tags(name, tags, reason))
        name = _text(opcode, "instance_name")
        if kind == "OP_INSTANCE_FAILOVER":
            return _job_id(await client.failover_instance(name, reason=reason))
        if kind == "OP_INSTANCE_REPLACE_DISKS":
            mode, iallocator = _text(opcode, "mode"), _iallocator(opcode)
            return _job_id(await client.replace_instance_disks(name, mode, iallocator, reason))
        if kind == "OP_INSTANCE_RECREATE_DISKS":
            iallocator = _iallocator(opcode)
            return _job_id(await client.recreate_instance_disks(name, iallocator, reason))
        if kind == "OP_INSTANCE_REINSTALL":
            return _job_id(await client.reinstall_instance(name, start=False, reason=reason))
        raise HarepError(f"no RAPI resource for {kind}")

    async def submit(self, opcodes: Sequence[Opcode]) -> list[int]:
        jobs = []
        try:
            for opcode in opcodes:
                job = await self._send(opcode)
                if job is not None:
                    jobs.append(job)
        except (RapiError, JSONShapeError) as error:
            raise HarepError(str(error)) from None
        return jobs

    async def cancel(self, job: int) -> bool:
        """``DELETE /2/jobs/<id>``: answered ``[cancelled, message]``."""
        try:
            result = await self._client.cancel_job(str(job))
        except RapiError as error:
            raise HarepError(str(error)) from None
        return isinstance(result, list) and len(result) == 2 and result[0] is True

    async def job_statuses(self, jobs: Sequence[int]) -> list[str]:
        statuses = []
        try:
            for job in jobs:
                answer = await self._client.get_job_status(str(job))
                status = answer.get("status") if isinstance(answer, dict) else None
                if not isinstance(status, str):
                    raise HarepError(f"job {job}: no status in the RAPI answer")
                statuses.append(status)
        except RapiError as error:
            raise HarepError(str(error)) from None
        return statuses


class RapiBackend:
    """A cluster's RAPI, reached with ``endpoint``."""

    def __init__(
        self,
        reactor: IRapiReactor,
        endpoint: RapiEndpoint,
        warn: Callable[[str], None],
        client: RapiClient | None = None,
    ) -> None:
        self._warn = warn
        self._client = client or RapiClient(endpoint, reactor, user_agent="ganeti-harep")

    async def load_live(self) -> LiveCluster:
        client = self._client
        try:
            answers = [
                await client.get_groups(bulk=True),
                await client.get_nodes(bulk=True),
                await client.get_instances(bulk=True),
                await client.get_info(),
            ]
            bodies = htools_rapi.Bodies(*(htools_rapi.Body(json.dumps(a)) for a in answers))
            return htools_rapi.parse_data(bodies)
        except (RapiError, LoadError) as error:
            raise HarepError(f"failed to load data, aborting: {error}") from None

    async def load(self) -> ClusterData:
        return prepare(await self.load_live(), self._warn)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[RapiSession]:
        yield RapiSession(self._client)
