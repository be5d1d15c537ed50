"""The installed ``ganeti-confd-client`` says why it failed, with an exit code per cause.

It used to print nothing and exit 1 with a wrong key, no server or a host name that
does not resolve. Here the real console script runs against a real agent, against a
port where nothing listens, with a name under ``.invalid`` and without a key file.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganeti_agent.cli.confd_client import ExitCode
from tests.faults.support import RunningAgent, confd_agent
from tests.support import free_port

pytestmark = pytest.mark.e2e

KEY = b"confd-client-key-9e1d44b7c2a0\n"
RUN_WITHIN = 60.0


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    with confd_agent(tmp_path_factory.mktemp("confd-client"), KEY) as started:
        yield started


def confd_client(*argv: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("ganeti-confd-client")
    return subprocess.run(
        [str(script), *argv], capture_output=True, text=True, timeout=RUN_WITHIN, check=False
    )


def key_file(tmp_path: Path, key: bytes) -> str:
    path = tmp_path / "hmac.key"
    path.write_bytes(key)
    return str(path)


def test_whole_sequence_against_the_agent(agent: RunningAgent, tmp_path: Path) -> None:
    port = str(agent.confd_port)
    done = confd_client("--key-file", key_file(tmp_path, KEY), "-p", port, "-r", "2")
    assert (done.returncode, done.stderr) == (ExitCode.OK, "")
    steps = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(steps) == 10 and all(step["ok"] for step in steps)


def test_wrong_key_says_no_reply(agent: RunningAgent, tmp_path: Path) -> None:
    wrong = key_file(tmp_path, b"not-the-cluster-key\n")
    done = confd_client("--key-file", wrong, "-p", str(agent.confd_port), "-t", "1", "-T", "PING")
    assert done.returncode == ExitCode.NO_REPLY
    assert done.stdout == ""
    assert done.stderr == (
        f"ganeti-confd-client: no reply to PING from localhost (127.0.0.1) port "
        f"{agent.confd_port} within 1 s: no confd there, a firewall, or a wrong HMAC key\n"
    )


def test_no_server(tmp_path: Path) -> None:
    port = str(free_port(socket.SOCK_DGRAM))
    done = confd_client("--key-file", key_file(tmp_path, KEY), "-a", "127.0.0.1", "-p", port,
                        "-t", "1")  # fmt: skip
    assert done.returncode == ExitCode.NO_REPLY
    assert f"no reply to ping from 127.0.0.1 port {port} within 1 s" in done.stderr


def test_unresolvable_host(tmp_path: Path) -> None:
    done = confd_client("--key-file", key_file(tmp_path, KEY), "-a", "confd.example.invalid")
    assert done.returncode == ExitCode.UNRESOLVED
    assert "cannot resolve host 'confd.example.invalid'" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_key_file(tmp_path: Path) -> None:
    done = confd_client("--key-file", str(tmp_path / "absent"), "-T", "PING")
    assert done.returncode == ExitCode.NO_KEY
    assert "cannot read the HMAC key" in done.stderr and "does not exist" in done.stderr


def test_usage_error() -> None:
    assert confd_client("-T", "NOPE").returncode == ExitCode.USAGE
