"""A real ``twistd -n ganeti-agent`` for fault injection, and the probes the tests use.

Each test module starts one agent (starting twistd costs about a second) with its own
configuration file, data directory and stand-in binaries, then breaks things under it
and checks, from outside the process, that it keeps answering: HTTP reports, signed
confd requests built with the project's own protocol module, and its child processes
through psutil.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import Reply, decode_reply, encode_request
from tests.support import free_port

#: Seconds an HTTP answer may take while something else is broken or hanging.
ANSWER_WITHIN = 3.0
#: Seconds a condition polled with :func:`eventually` may take on a loaded CI machine.
EVENTUALLY = 10.0
START_TIMEOUT = 30.0

T = TypeVar("T")


def twistd() -> str:
    candidate = Path(sys.executable).with_name("twistd")
    return str(candidate) if candidate.exists() else "twistd"


def stand_in(path: Path, script: str) -> Path:
    """An executable shell script standing in for a system binary."""
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def eventually(probe: Callable[[], T | None], timeout: float = EVENTUALLY) -> T:
    """Poll ``probe`` until it returns something other than None or False."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)


@dataclass
class RunningAgent:
    """The agent process and the ways in: HTTP, confd and its log."""

    process: subprocess.Popen[bytes]
    home: Path
    data_dir: Path
    port: int
    confd_port: int | None
    log_path: Path
    _log: Any = field(repr=False, default=None)

    def get(self, path: str, timeout: float = ANSWER_WITHIN) -> tuple[int, bytes]:
        """One GET; fails the test if the answer takes longer than ``timeout``."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def report(self, category: str, name: str, timeout: float = ANSWER_WITHIN) -> Any:
        """The JSON of one collector's report (which must be a 200)."""
        status, body = self.get(f"/1/report/{category}/{name}", timeout)
        assert status == 200, (status, body)
        return json.loads(body)

    def all_reports(self, timeout: float = ANSWER_WITHIN) -> dict[str, Any]:
        status, body = self.get("/1/report/all", timeout)
        assert status == 200, (status, body)
        return {report["name"]: report for report in json.loads(body)}

    def confd(
        self,
        key: bytes,
        request_type: RequestType = RequestType.PING,
        query: Any = None,
        timeout: float = ANSWER_WITHIN,
    ) -> Reply | None:
        """A signed request; the verified reply, or None when nothing came back in time."""
        assert self.confd_port is not None
        rsalt = str(uuid.uuid4())
        datagram = encode_request(key, request_type, query, rsalt, time.time())
        for reply_datagram in self.send_datagram(datagram, timeout):
            salt, reply = decode_reply(key, reply_datagram)
            if salt == rsalt:
                return reply
        return None

    def send_datagram(
        self, datagram: bytes, timeout: float, stop_at_first: bool = True
    ) -> list[bytes]:
        """Send raw bytes to confd; what comes back within ``timeout`` (or the first)."""
        assert self.confd_port is not None
        received: list[bytes] = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(datagram, ("127.0.0.1", self.confd_port))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    received.append(sock.recv(65536))
                except TimeoutError:
                    break
                if stop_at_first:
                    break
        return received

    def children(self) -> list[psutil.Process]:
        """Every live descendant of the agent (zombies reaped or not, they count)."""
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_alive(self) -> None:
        """Still running, answering, and with no child process left."""
        assert self.process.poll() is None, f"the agent exited:\n{self.log_text()[-4000:]}"
        assert self.get("/")[0] == 200
        assert self.children() == [], "a child process was left behind"


def _wait_until_listening(agent: RunningAgent) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            agent.get("/")
            return
        except OSError:
            if agent.process.poll() is not None:
                pytest.fail(f"twistd exited: {agent.log_text()}")
            time.sleep(0.1)
    agent.process.kill()
    pytest.fail(f"the agent did not answer within {START_TIMEOUT} s")


@contextlib.contextmanager
def running_agent(
    home: Path, config: str, confd: bool = False, extra: tuple[str, ...] = ()
) -> Iterator[RunningAgent]:
    """Start twistd with ``config`` (INI text) and ``home/data`` as data directory.

    ``GANETI_ROOTDIR`` points into ``home`` so no real Ganeti file is ever read;
    ``extra`` are more twistd options (``--uid``...). On exit the agent gets SIGTERM
    (then SIGKILL).
    """
    data_dir = home / "data"
    data_dir.mkdir(exist_ok=True)
    config_path = home / "agent.conf"
    config_path.write_text(config)
    port = free_port()
    confd_port = free_port(socket.SOCK_DGRAM) if confd else None
    confd_args = ["--confd-bind", "127.0.0.1", "--confd-port", str(confd_port)]
    log_path = home / "twistd.log"
    log = log_path.open("wb")
    env = {**os.environ, "GANETI_ROOTDIR": str(home / "root")}
    process = subprocess.Popen(
        [twistd(), "--nodaemon", "--pidfile=", *extra, "ganeti-agent", "--config", str(config_path),
         "--bind", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
         *(confd_args if confd else ["--no-confd"])],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    agent = RunningAgent(process, home, data_dir, port, confd_port, log_path, log)
    try:
        _wait_until_listening(agent)
        yield agent
    finally:
        _stop(agent)


def _stop(agent: RunningAgent) -> None:
    process = agent.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    agent._log.close()


def write_cluster(data_dir: Path, key: bytes) -> dict[str, Any]:
    """config.data (Ganeti's 3.0 sample, as spec/confd.md section 8 uses it) and hmac.key.

    This node is "vm" in that configuration; the files get Ganeti's modes (0640, 0440).
    """
    from tests.confd.support import load_sample, section8_config

    config = section8_config(load_sample("cluster_config_3.0.json"))
    write_config(data_dir, config)
    key_path = data_dir / "hmac.key"
    key_path.write_bytes(key)
    key_path.chmod(0o440)
    return config


def write_config(data_dir: Path, config: dict[str, Any]) -> None:
    """Replace config.data atomically, as Ganeti does (write a temporary file, rename)."""
    temporary = data_dir / ".config.data.new"
    temporary.write_text(json.dumps(config))
    temporary.chmod(0o640)
    temporary.rename(data_dir / "config.data")


#: A confd-serving agent that runs no LVM and caches no report.
CONFD_AGENT_SETTINGS = (
    "[agent]\nnode-name = vm\n[collectors]\ncache = 0\n[collector:lv]\nenabled = no\n"
)


@contextlib.contextmanager
def confd_agent(home: Path, key: bytes) -> Iterator[RunningAgent]:
    """An agent answering confd from Ganeti's sample cluster, once it answers signed PINGs."""
    (home / "data").mkdir()
    write_cluster(home / "data", key)
    with running_agent(home, CONFD_AGENT_SETTINGS, confd=True) as started:
        eventually(lambda: started.confd(key) is not None)
        yield started


def confd_state(agent: RunningAgent) -> dict[str, Any]:
    """The ``confd`` collector's report: counters, loads, load failures, serial."""
    data: dict[str, Any] = agent.report("daemon", "confd")["data"]
    return data
