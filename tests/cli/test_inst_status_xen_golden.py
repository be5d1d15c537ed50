"""``ganeti-mon-collector inst-status-xen`` against the real Ganeti 3.0.2 tool's outputs.

Each golden case (tests/golden/inst-status-xen/) was recorded from the real
``mon-collector`` with the reference kit; here our CLI runs as a real process on the same
inputs: the same stand-in ``xm`` on PATH, the same reason files, and a confd peer on
127.0.0.1 answering NODE_INSTANCES with the same instances. Stdout must be the same JSON
(timestamp ignored), and the exit status the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort

from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import Reply, Request
from ganeti_agent.confd.testing import FakeConfdPeer
from ganeti_agent.core.executor import CommandFailed, ProcessRunner
from tests.cli.xen_golden_cases import HMAC_KEY, Case, confd_order, load_cases, materialise
from tests.confd.support import inline_callbacks
from tests.support import GANETI_FIXTURES, shared_missing_reason

CASES = load_cases()


def same_json(expected: Any, actual: Any, path: str = "$") -> str | None:
    """The first difference, comparing numbers by value and never bools with numbers."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return None if expected is actual else f"{path}: {expected!r} != {actual!r}"
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return None if expected == actual else f"{path}: {expected!r} != {actual!r}"
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return f"{path}: keys {sorted(expected)} != {sorted(actual)}"
        for key in expected:
            difference = same_json(expected[key], actual[key], f"{path}.{key}")
            if difference:
                return difference
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{path}: {len(expected)} items != {len(actual)}"
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            difference = same_json(left, right, f"{path}[{index}]")
            if difference:
                return difference
        return None
    return None if expected == actual else f"{path}: {expected!r} != {actual!r}"


def node_instances_peer(case: Case) -> FakeConfdPeer:
    answer: Any = [confd_order(case.instances), []]

    def respond(request: Request) -> list[Reply]:
        if request.type is RequestType.NODE_INSTANCES:
            return [Reply(0, answer, 7)]
        return [Reply(1, "unexpected request", 0)]

    return FakeConfdPeer(HMAC_KEY.encode("ascii"), respond)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@inline_callbacks
def test_cli_matches_the_real_tool(case: Case, tmp_path: Path) -> Any:
    missing = [name for name in case.fixtures_used if not (GANETI_FIXTURES / name).exists()]
    if missing:
        pytest.skip(shared_missing_reason(f"fixtures/ganeti/{', '.join(missing)}"))
    bin_dir, root = materialise(case, tmp_path, GANETI_FIXTURES)
    port: IListeningPort = reactor.listenUDP(0, node_instances_peer(case), interface="127.0.0.1")  # type: ignore[attr-defined]
    runner = ProcessRunner(
        reactor,
        reactor,
        search_path=f"{bin_dir}:/usr/bin:/bin",
        environment={
            "LC_ALL": "C.UTF-8",
            "GANETI_ROOTDIR": str(root),
            "GANETI_XEN_HUNG_CHECK_DELAY": "0",  # recorded from 3.0.2's back-to-back check
        },
    )
    argv = [sys.executable, "-m", "ganeti_agent.cli.moncollector", "inst-status-xen"]
    udp_port: int = port.getHost().port  # type: ignore[attr-defined]
    argv += ["-a", "127.0.0.1", "-p", str(udp_port), "ignored", "arguments"]
    try:
        result = yield runner.run(argv, timeout=60)
        stdout, code = result.stdout.decode("utf-8"), 0
    except CommandFailed as failure:
        stdout, code = failure.stdout.decode("utf-8"), failure.exit_code
    finally:
        yield port.stopListening()
    expected_stdout, expected_code = case.expected()
    assert code == expected_code
    if not expected_stdout:
        assert stdout == ""
        return
    expected, actual = json.loads(expected_stdout), json.loads(stdout)
    assert "timestamp" in actual
    expected["timestamp"] = actual["timestamp"]
    assert same_json(expected, actual) is None
