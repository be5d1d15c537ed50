"""harep over LUXI: htools' LUXI transport, plus ``QueryJobs`` and ``SubmitManyJobs``.

The cluster is loaded by ``ganeti_agent.htools.luxi`` (the same four
queries as every htools program); each session is one more connection to
the same socket, as Ganeti's harep opens one for the pending checks and one
for the repairs. Replies are read the way ``Ganeti.Luxi`` reads them, and a
failed call carries Ganeti's error text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from fractions import Fraction
from typing import cast

from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorTime, IReactorUNIX

from ganeti_agent.harep import rules
from ganeti_agent.harep.errors import HarepError
from ganeti_agent.harep.loading import prepare
from ganeti_agent.harep.rules import Opcode
from ganeti_agent.htools import luxi
from ganeti_agent.htools.haskell_read import (
    ReadError,
    haskell_show_string,
    try_read_int,
    wrap_int,
)
from ganeti_agent.htools.live import LiveCluster
from ganeti_agent.htools.loader import ClusterData
from ganeti_agent.htools.textjson import JSONError, JSValue, pretty, read_string
from ganeti_agent.htools.types import LoadError


class _EncodedRequest(luxi.Request):
    """A request whose arguments are written as Text.JSON writes them (doubles included)."""

    def encode(self) -> bytes:
        body = rules.encode({"method": self.method, "args": self.args})
        return body.encode("utf-8") + luxi.END_OF_MESSAGE


def _luxi_error(message: str) -> HarepError:
    """Ganeti's ``formatError (LuxiError msg)``."""
    return HarepError(f"Unhandled exception: LuxiError {haskell_show_string(message)}")


def _job_id(value: JSValue) -> int:
    """``parseJobId``: a whole non-negative number, or a string holding one."""
    if isinstance(value, str):
        try:
            number = try_read_int("parsing job id", value)
        except ReadError as error:
            raise _luxi_error(str(error)) from None
    elif isinstance(value, Fraction):
        if value.denominator != 1:
            raise _luxi_error(f"Got fractional job ID from master daemon?! Value:{value}")
        number = wrap_int(value.numerator)
    else:
        raise _luxi_error(f"Wrong type/value for job id: {pretty(value)}")
    if number < 0:
        raise _luxi_error(f"Invalid value for job ID ' {number}'")
    return number


def parse_submitted(result: JSValue) -> list[int]:
    """The job ids of a ``SubmitManyJobs`` result: ``[[true, id], …]``, or the first refusal."""
    if not isinstance(result, list):
        raise _luxi_error(f"Cannot parse response from Ganeti: {pretty(result)}")
    ids = []
    for entry in result:
        if isinstance(entry, list) and len(entry) == 2 and entry[0] is True:
            ids.append(_job_id(entry[1]))
        elif isinstance(entry, list) and len(entry) == 2 and entry[0] is False:
            if not isinstance(entry[1], str):
                raise _luxi_error(f"Unknown result from the master daemon: {pretty(entry)}")
            raise _luxi_error(entry[1])
        else:
            raise _luxi_error(f"Unknown result from the master daemon: {pretty(entry)}")
    return ids


JOB_STATUSES = ("queued", "waiting", "canceling", "running", "canceled", "success", "error")


def _status(value: JSValue) -> str | None:
    """One ``[status]`` entry as ``readJSON :: [JobStatus]`` reads it; None if empty."""
    if not isinstance(value, list):
        raise _luxi_error("Unable to read list")
    statuses = []
    for item in value:
        try:
            text = read_string(item)
        except JSONError as error:
            raise _luxi_error(f"Can't parse value for type JobStatus: {error}") from None
        if text not in JOB_STATUSES:
            message = f"Invalid string value for type JobStatus: {haskell_show_string(text)}"
            raise _luxi_error(message)
        statuses.append(text)
    return statuses[0] if statuses else None


def parse_statuses(result: JSValue) -> list[str]:
    """The statuses of a ``QueryJobs [ids, ["status"]]`` result (``queryJobsStatus``)."""
    if not isinstance(result, list):
        raise _luxi_error("Unable to read list")
    statuses = [_status(entry) for entry in result]
    if any(status is None for status in statuses):
        raise _luxi_error("Missing job status field")
    return [status for status in statuses if status is not None]


class LuxiSession:
    """One connection: calls in order, each reply read before the next call."""

    def __init__(self, protocol: luxi.LuxiProtocol) -> None:
        self._protocol = protocol

    async def _call(self, request: luxi.Request) -> JSValue:
        try:
            raw = await self._protocol.call(request)
        except LoadError as error:
            raise HarepError(str(error)) from None
        answer = luxi.parse_response(raw)
        if answer.error is not None:
            raise HarepError(answer.error)
        return answer.result

    async def job_statuses(self, jobs: Sequence[int]) -> list[str]:
        result = await self._call(_EncodedRequest("QueryJobs", [list(jobs), ["status"]]))
        return parse_statuses(result)

    async def submit(self, opcodes: Sequence[Opcode]) -> list[int]:
        result = await self._call(_EncodedRequest("SubmitManyJobs", [[list(opcodes)]]))
        return parse_submitted(result)

    async def cancel(self, job: int) -> bool:
        """``CancelJob [id, false]``: answered ``[cancelled, message]``."""
        result = await self._call(_EncodedRequest("CancelJob", [job, False]))
        return isinstance(result, list) and len(result) == 2 and result[0] is True

    def close(self) -> None:
        if self._protocol.transport is not None:
            self._protocol.transport.loseConnection()


class LuxiBackend:
    """The master's query socket at ``path``."""

    def __init__(
        self,
        reactor: IReactorUNIX,
        path: str,
        warn: Callable[[str], None],
        reply_timeout: float = luxi.REPLY_TIMEOUT,
    ) -> None:
        self._reactor = reactor
        self._warn = warn
        self._path = path
        self._reply_timeout = reply_timeout

    async def load_live(self) -> LiveCluster:
        try:
            return await luxi.load_data(self._reactor, self._path, self._reply_timeout)
        except LoadError as error:
            raise HarepError(f"failed to load data, aborting: {error}") from None

    async def load(self) -> ClusterData:
        return prepare(await self.load_live(), self._warn)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[LuxiSession]:
        endpoint = UNIXClientEndpoint(self._reactor, self._path, timeout=luxi.CONNECT_TIMEOUT)
        clock = cast(IReactorTime, self._reactor)
        try:
            protocol = await connectProtocol(
                endpoint, luxi.LuxiProtocol(clock, self._reply_timeout)
            )
        except Exception as error:  # worded as GHC words it, by htools' LUXI backend
            raise HarepError(str(luxi._connect_error(error))) from None
        session = LuxiSession(protocol)
        try:
            yield session
        finally:
            session.close()


def encode_request(method: str, args: list[object]) -> bytes:
    """The bytes of one call, for tests and tools that compare with Ganeti's."""
    return _EncodedRequest(method, args).encode()
