"""Helpers shared by the tests: where the shared fixtures are, and a fake command runner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, fail, succeed

from ganeti_agent.core.executor import CommandNotFound, ProcessResult

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
GANETI_FIXTURES = SHARED / "fixtures" / "ganeti"
GOLDEN = SHARED / "fixtures" / "golden"

#: Every skip for a missing part of ../shared starts with this text; under
#: ``GANETI_AGENT_REQUIRE_SHARED=1`` (set by ``.ci/run``) tests/conftest.py turns
#: such skips into failures, so CI cannot go green on a checkout without the fixtures.
SHARED_MISSING = "../shared is incomplete:"
REQUIRE_SHARED_VARIABLE = "GANETI_AGENT_REQUIRE_SHARED"


def shared_required() -> bool:
    """Whether a missing shared fixture fails the run instead of skipping a test."""
    return os.environ.get(REQUIRE_SHARED_VARIABLE) == "1"


def shared_missing_reason(relative: str) -> str:
    """The skip reason for a missing ``../shared/<relative>``, recognised by conftest."""
    return f"{SHARED_MISSING} {relative} is not available in this checkout"


def shared_path(relative: str) -> Path:
    """``../shared/<relative>``, or skip the test saying which file is missing."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(shared_missing_reason(relative))
    return path


def shared_fixture(name: str) -> Path:
    """A file of ../shared/fixtures/ganeti, or skip the test saying why."""
    return shared_path(f"fixtures/ganeti/{name}")


AsyncTest = TypeVar("AsyncTest", bound=Callable[..., Coroutine[Any, Any, None]])


def async_test(test: AsyncTest) -> AsyncTest:
    """pytest-twisted's ``ensureDeferred``, which has no type hints, for mypy --strict."""
    return cast(AsyncTest, pytest_twisted.ensureDeferred(test))


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that was free a moment ago (TCP or UDP)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


Responder = Callable[[Sequence[str]], "Deferred[ProcessResult] | ProcessResult | Exception"]


class FakeRunner:
    """A CommandRunner that replays canned outputs by program name, recording each call."""

    def __init__(self, responses: dict[str, Responder] | None = None) -> None:
        self.responses = dict(responses or {})
        self.calls: list[tuple[str, ...]] = []

    def reply(self, program: str, stdout: bytes, stderr: bytes = b"") -> None:
        self.responses[program] = lambda argv: ProcessResult(tuple(argv), stdout, stderr, 0.0)

    def run(self, argv: Sequence[str], timeout: float = 30.0) -> Deferred[ProcessResult]:
        self.calls.append(tuple(argv))
        responder = self.responses.get(argv[0])
        if responder is None:
            return fail(CommandNotFound(argv, "command not found or not executable"))
        outcome = responder(argv)
        if isinstance(outcome, Exception):
            return fail(outcome)
        if isinstance(outcome, Deferred):
            return outcome
        return succeed(outcome)


@contextmanager
def sleeping_program(directory: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose program is called ``name`` (as Ganeti's daemon scripts are)."""
    script = directory / name
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    process = subprocess.Popen([str(script)])
    try:
        yield process
    finally:
        process.kill()
        process.wait()
