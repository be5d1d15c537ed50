"""The agent as sysadmins run it: a real ``twistd -n ganeti-agent`` process on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support import free_port

pytestmark = pytest.mark.e2e

HANG_TIMEOUT = 2


@dataclass
class Agent:
    process: subprocess.Popen[bytes]
    port: int
    hanging_lvs: Path
    log: Path

    def request(self, path: str, method: str = "GET") -> tuple[int, str, bytes, dict[str, str]]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, response.reason, response.read(), headers
        finally:
            connection.close()


def twistd() -> str:
    candidate = Path(sys.executable).with_name("twistd")
    return str(candidate) if candidate.exists() else "twistd"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    home = tmp_path_factory.mktemp("agent")
    hanging = home / "lvs-hang"
    hanging.write_text("#!/bin/sh\nsleep 300\n")
    hanging.chmod(0o755)
    config = home / "agent.conf"
    config.write_text(
        "[agent]\n"
        "log-requests = yes\n"
        f"[collector:lv]\nlvs = {hanging}\nenabled = yes\ntimeout = {HANG_TIMEOUT}\n"
        "[confd]\nenabled = no\n"
    )
    port = free_port()
    env = {**os.environ, "GANETI_ROOTDIR": str(home / "root")}
    log = (home / "twistd.log").open("wb")
    process = subprocess.Popen(
        [twistd(), "--nodaemon", "--pidfile=", "ganeti-agent", "--config", str(config),
         "--bind", "127.0.0.1", "--port", str(port), "--data-dir", str(home / "data")],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    started = Agent(process, port, hanging, home / "twistd.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            started.request("/")
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"twistd exited: {(home / 'twistd.log').read_text()}")
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("the agent did not answer within 30 s")
    yield started
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    log.close()


def test_version_routes(agent: Agent) -> None:
    status, _, body, headers = agent.request("/")
    assert (status, body, headers["content-type"]) == (200, b"[1]", "application/json")
    assert agent.request("/1")[:3:2] == (200, b"null")
    assert agent.request("/1/")[:3:2] == (200, b"null")


def test_listing_has_the_local_collectors(agent: Agent) -> None:
    status, _, body, _ = agent.request("/1/list/collectors")
    listed = json.loads(body)
    assert status == 200
    assert ["cpu-avg-load", "default", 0] in listed
    assert ["lv", "storage", 0] in listed
    assert all(len(entry) == 3 for entry in listed)


def test_not_found_answers(agent: Agent) -> None:
    assert agent.request("/1/report/storage/nothing")[:3] == (
        404,
        "Not found",
        b"Unable to produce a report for the requested resource",
    )
    assert agent.request("/2/list/collectors")[:3] == (404, "Not found", b"Resource not found")


def test_methods(agent: Agent) -> None:
    status, _, body, headers = agent.request("/1/list/collectors", "HEAD")
    assert (status, body, headers["content-type"]) == (200, b"", "application/json")
    status, _, _, headers = agent.request("/1/report/all", "DELETE")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_hanging_collector_does_not_stall_the_others(agent: Agent) -> None:
    results: dict[str, Any] = {}

    def slow_request() -> None:
        started = time.monotonic()
        results["all"] = agent.request("/1/report/all")
        results["all_seconds"] = time.monotonic() - started

    waiting = threading.Thread(target=slow_request)
    waiting.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert agent.request("/1/list/collectors")[0] == 200
    assert agent.request("/1/report/default/cpu-avg-load")[0] == 200
    assert time.monotonic() - started < 1.5
    waiting.join(timeout=30)
    status, _, body, _ = results["all"]
    assert status == 200
    assert results["all_seconds"] < HANG_TIMEOUT + 5
    reports = {report["name"]: report for report in json.loads(body)}
    lv_error = reports["lv"]["data"]["error"]
    assert f"timed out after {HANG_TIMEOUT} s" in lv_error, lv_error
    assert (
        "cpu_number" in reports["cpu-avg-load"]["data"]
        or "error" in reports["cpu-avg-load"]["data"]
    )
    assert isinstance(reports["diskstats"]["data"], list)
    time.sleep(1)
    assert not _processes_running(agent.hanging_lvs), "the timed-out lvs is still running"


def _processes_running(path: Path) -> list[int]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if str(path) in " ".join(process.info["cmdline"] or []):
            found.append(process.pid)
    return found


def test_sigterm_stops_cleanly(agent: Agent) -> None:
    """twistd shuts down and then re-raises SIGTERM, which systemd counts as a clean stop."""
    agent.process.send_signal(signal.SIGTERM)
    assert agent.process.wait(timeout=20) in (0, -signal.SIGTERM)
    assert "Main loop terminated." in agent.log.read_text()
