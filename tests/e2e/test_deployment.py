"""Deployment modes with a real ``twistd ganeti-agent`` beside a stand-in Ganeti node.

The stand-in is a process holding 127.0.0.1:1814/udp and 127.0.0.1:1815/tcp, as
ganeti-confd and ganeti-mond would, with their pid files and executables under
``GANETI_ROOTDIR`` (where daemon-util keeps them). With the shipped defaults the
agent starts beside it and takes neither port; told to replace Ganeti's daemons it
stops with one line naming the port, the daemon and its pid (docs/debian.md).
Skipped where something on this machine already holds one of those ports.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ganeti_agent.server.deployment import ALONGSIDE_API_PORT
from tests.faults.support import eventually, stand_in, twistd
from tests.faults.test_operator_mistakes import start

pytestmark = pytest.mark.e2e

HOLDER = """
import socket, sys, time
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 1814))
tcp = socket.socket()
tcp.bind(("127.0.0.1", 1815))
tcp.listen()
print("holding", flush=True)
time.sleep(600)
"""


@dataclass(frozen=True)
class GanetiNode:
    home: Path
    pid: int


def _free(kind: int, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def ganeti_node(tmp_path: Path) -> Iterator[GanetiNode]:
    if not (_free(socket.SOCK_DGRAM, 1814) and _free(socket.SOCK_STREAM, 1815)):
        pytest.skip("127.0.0.1:1814/udp or 1815/tcp is in use on this machine")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        root = tmp_path / "root"
        (root / "usr/sbin").mkdir(parents=True)
        (root / "var/run/ganeti").mkdir(parents=True)
        for daemon in ("ganeti-confd", "ganeti-mond"):
            stand_in(root / "usr/sbin" / daemon, "exit 1\n")
            (root / "var/run/ganeti" / f"{daemon}.pid").write_text(f"{holder.pid}\n")
        yield GanetiNode(tmp_path, holder.pid)
    finally:
        holder.kill()
        holder.wait()


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def test_shipped_defaults_start_beside_ganetis_daemons(ganeti_node: GanetiNode) -> None:
    if not _free(socket.SOCK_STREAM, ALONGSIDE_API_PORT):
        pytest.skip(f"127.0.0.1:{ALONGSIDE_API_PORT}/tcp is in use on this machine")
    home = ganeti_node.home
    config = home / "agent.conf"
    config.write_text("[agent]\nbind = 127.0.0.1\n[confd]\nbind = 127.0.0.1\n")
    log = (home / "twistd.log").open("wb")
    agent = subprocess.Popen(
        [twistd(), "--nodaemon", "--pidfile=", "ganeti-agent", "--config", str(config),
         "--data-dir", str(home)],
        cwd=home, env={**os.environ, "GANETI_ROOTDIR": str(home / "root")},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        eventually(lambda: _answers(ALONGSIDE_API_PORT) or agent.poll() is not None, 30)
        text = (home / "twistd.log").read_text()
        assert agent.poll() is None, text
        pid = ganeti_node.pid
        assert f"confd server off: ganeti-confd is running (pid {pid})" in text
        assert f"ganeti-mond is running (pid {pid}), so the monitoring API listens on 1816" in text
        assert "Traceback" not in text
    finally:
        agent.terminate()
        agent.wait(20)
        log.close()


def test_replacing_a_running_ganeti_confd_stops_with_one_line_naming_it(
    ganeti_node: GanetiNode,
) -> None:
    config = "[agent]\nbind = 127.0.0.1\nport = 1815\n[confd]\nenabled = yes\nbind = 127.0.0.1\n"
    refused = start(ganeti_node.home, config)
    assert refused.status == 1
    assert "Traceback" not in refused.output
    (line,) = [line for line in refused.output.splitlines() if "#critical]" in line]
    assert line.endswith(
        "cannot listen on 127.0.0.1:1814: the port is already in use (ganeti-confd uses it"
        f" by default and is running here, pid {ganeti_node.pid})"
    )


def test_replacing_a_running_ganeti_mond_stops_with_one_line_naming_it(
    ganeti_node: GanetiNode,
) -> None:
    refused = start(ganeti_node.home, "[agent]\nbind = 127.0.0.1\nport = 1815\n", "--no-confd")
    assert refused.status == 1
    (line,) = [line for line in refused.output.splitlines() if "#critical]" in line]
    assert line.endswith(
        "cannot listen on 127.0.0.1:1815: the port is already in use (ganeti-mond uses it"
        f" by default and is running here, pid {ganeti_node.pid})"
    )
