"""What a Ganeti job's status says: finished or not, its result, or why it failed.

The rules are those of Ganeti's ``cli.GenericPollJob``: a job is waited for
until its status is final, then ``GET /2/jobs/<id>`` gives ``status``,
``opstatus`` and ``opresult``; a failed opcode's result is an encoded
exception ``[class name, [arguments…]]``. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ganeti_agent.core.jsontypes import JSON, JSONArray

#: How much of a malformed answer an error message repeats.
MAX_SHOWN = 200

FINAL_STATUSES = frozenset({"success", "error", "canceling", "canceled"})
#: Ganeti's ``ECODE_TEMP_NORES``: an opportunistic allocation found no free nodes.
ECODE_TEMP_NORES = "temp_insufficient_resources"


@dataclass(frozen=True)
class EncodedError:
    """A Ganeti exception as a job result carries it (``errors.EncodeException``)."""

    kind: str
    arguments: tuple[JSON, ...]

    @property
    def error_code(self) -> str | None:
        """The second argument of an OpPrereqError (``wrong_input``, …), when there is one."""
        if len(self.arguments) > 1 and isinstance(self.arguments[1], str):
            return self.arguments[1]
        return None

    def __str__(self) -> str:
        message = str(self.arguments[0]) if self.arguments else "(no message)"
        code = self.error_code
        return f"{self.kind}: {message}" + (f" ({code})" if code else "")


class MalformedAnswer(ValueError):
    """A job answer of the wrong shape; the message repeats at most MAX_SHOWN characters."""


def excerpt(value: object) -> str:
    """``repr(value)``, cut to :data:`MAX_SHOWN` characters: answers come from the network."""
    text = repr(value)
    if len(text) <= MAX_SHOWN:
        return text
    return f"{text[:MAX_SHOWN]}... ({len(text)} characters)"


class JobFailed(Exception):
    """A job ended without success; ``error`` is the failing opcode's error, if encoded."""

    def __init__(self, job_id: str, message: str, error: EncodedError | None = None) -> None:
        super().__init__(f"job {job_id} failed: {message}")
        self.job_id = job_id
        self.message = message
        self.error = error


class JobLost(Exception):
    """The cluster does not know the job (any more)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} lost")
        self.job_id = job_id


def decode_error(value: JSON) -> EncodedError | None:
    """``["OpPrereqError", ["msg", "wrong_input"]]`` → EncodedError; anything else → None."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    kind, arguments = value
    if isinstance(kind, str) and isinstance(arguments, list):
        return EncodedError(kind, tuple(arguments))
    return None


def job_result(job_id: str, job: Mapping[str, JSON]) -> JSONArray:
    """The opresult list of a successful job; JobFailed otherwise (GenericPollJob's tail)."""
    status = job.get("status")
    results = job.get("opresult")
    if status == "success" and isinstance(results, list):
        return results
    if status in ("canceling", "canceled"):
        raise JobFailed(job_id, "Job was canceled")
    statuses = job.get("opstatus")
    if isinstance(statuses, list) and isinstance(results, list):
        for index, (op_status, op_result) in enumerate(zip(statuses, results, strict=False)):
            if op_status != "error":
                continue
            error = decode_error(op_result)
            text = str(error) if error else str(op_result)
            if index and any(earlier == "success" for earlier in statuses[:index]):
                text = f"partial failure (opcode {index}): {text}"
            raise JobFailed(job_id, text, error)
    raise JobFailed(job_id, f"status {status!r}, result {results!r}")


def log_entries(change: Mapping[str, JSON]) -> list[JSONArray]:
    """The ``[serial, timestamp, type, message]`` entries of a ``/wait`` answer, checked."""
    entries = change.get("log_entries") or []
    if not isinstance(entries, list):
        raise MalformedAnswer(f"malformed log entries: {excerpt(entries)}")
    checked = [entry for entry in entries if isinstance(entry, list) and len(entry) == 4]
    if len(checked) != len(entries):
        raise MalformedAnswer(f"malformed log entries: {excerpt(entries)}")
    return checked
