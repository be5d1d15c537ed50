"""Operator mistakes against a real ``twistd -n ganeti-agent``: one line, never a traceback.

A bad value in the configuration file stops the agent before it starts, with one
line on stderr naming the file, the section, the key and what was expected. A port
that cannot be bound stops it with one logged line naming the address and port.
Misspelt sections and keys are warned about, one line each, and the agent runs.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.support import running_agent, twistd
from tests.support import free_port

pytestmark = pytest.mark.e2e

#: Seconds a refused start may take on a loaded machine (it is normally about one).
REFUSAL_WITHIN = 60


@dataclass(frozen=True)
class Refusal:
    status: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def start(home: Path, config: str, *options: str) -> Refusal:
    """Run the agent with ``config`` until it exits by itself."""
    path = home / "agent.conf"
    path.write_text(config)
    env = {**os.environ, "GANETI_ROOTDIR": str(home / "root")}
    finished = subprocess.run(
        [twistd(), "--nodaemon", "--pidfile=", "ganeti-agent", "--config", str(path),
         "--data-dir", str(home), *options],
        cwd=home, env=env, capture_output=True, text=True, timeout=REFUSAL_WITHIN,
    )  # fmt: skip
    return Refusal(finished.returncode, finished.stdout, finished.stderr)


@pytest.mark.parametrize(
    ("config", "where", "expected"),
    [
        ("[agent]\nport = abc\n", "[agent] port", "a port number from 0 to 65535"),
        ("[agent]\nport = 99999\n", "[agent] port", "a port number from 0 to 65535"),
        ("[agent]\nlog-requests = maybe\n", "[agent] log-requests", "yes or no"),
        ("[confd]\nport = abc\n", "[confd] port", "a port number from 0 to 65535"),
        ("[confd]\nport = 70000\n", "[confd] port", "a port number from 0 to 65535"),
        ("[confd]\nenabled = perhaps\n", "[confd] enabled", "yes or no"),
        ("[collectors]\ncache = abc\n", "[collectors] cache", "a number of seconds"),
        ("[collector:cpu-avg-load]\nwindow = 1e300\n", "[collector:cpu-avg-load] window",
         "at most 86400"),
        ("[collector:cpu-avg-load]\nwindow = abc\n", "[collector:cpu-avg-load] window",
         "greater than 0"),
        ("[collector:xen-cpu-avg-load]\nmin-span = x\n", "[collector:xen-cpu-avg-load] min-span",
         "a number of seconds"),
        ("[collector:inst-status-kvm]\nqmp-timeout = inf\n",
         "[collector:inst-status-kvm] qmp-timeout", "greater than 0"),
        ("[collector:inst-status-xen]\nhung-check-delay = -1\n",
         "[collector:inst-status-xen] hung-check-delay", "from 0 to 86400"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_line_naming_file_section_and_key(
    tmp_path: Path, config: str, where: str, expected: str
) -> None:
    refused = start(tmp_path, config, "--bind", "127.0.0.1", "--port", str(free_port()))
    assert refused.status == 1
    assert "Traceback" not in refused.output
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert str(tmp_path / "agent.conf") in line
    assert f"{where}: expected " in line and expected in line


def _fatal_lines(refused: Refusal) -> list[str]:
    return [
        line
        for line in refused.output.splitlines()
        if "#critical]" in line or "#error]" in line or "#failure]" in line
    ]


@pytest.fixture
def taken_tcp_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def taken_udp_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def test_a_taken_http_port_is_one_line_naming_it(tmp_path: Path, taken_tcp_port: int) -> None:
    refused = start(
        tmp_path, "", "--bind", "127.0.0.1", "--port", str(taken_tcp_port), "--no-confd"
    )
    assert refused.status == 1
    assert "Traceback" not in refused.output
    (line,) = _fatal_lines(refused)
    assert f"cannot listen on 127.0.0.1:{taken_tcp_port}: the port is already in use" in line


def test_a_taken_confd_port_is_one_line_naming_it(tmp_path: Path, taken_udp_port: int) -> None:
    refused = start(
        tmp_path, "[confd]\nbind = 127.0.0.1\n", "--bind", "127.0.0.1", "--port",
        str(free_port()), "--confd-port", str(taken_udp_port),
    )  # fmt: skip
    assert refused.status == 1
    assert "Traceback" not in refused.output
    (line,) = _fatal_lines(refused)
    assert f"cannot listen on 127.0.0.1:{taken_udp_port}: the port is already in use" in line


def test_an_address_not_on_this_host_is_one_line(tmp_path: Path) -> None:
    """192.0.2.1 is TEST-NET-1: never a local address, and no name lookup to wait for."""
    refused = start(
        tmp_path, "[agent]\nbind = 192.0.2.1\n", "--port", str(free_port()), "--no-confd"
    )
    assert refused.status == 1
    assert "Traceback" not in refused.output
    (line,) = _fatal_lines(refused)
    assert "cannot listen on 192.0.2.1:" in line


def test_misspelt_sections_and_keys_are_warned_about_and_the_agent_runs(tmp_path: Path) -> None:
    config = (
        "[agnet]\nport = 1\n"
        "[agent]\nprot = 28155\n"
        "[collector:nosuch]\nenabled = yes\n"
        "[collector:lv]\nlvs-extra-arg = --x\n"
    )
    with running_agent(tmp_path, config) as agent:
        assert agent.get("/")[0] == 200
        log = agent.log_text().splitlines()
    conf = str(tmp_path / "agent.conf")
    warnings = [line for line in log if "#warn]" in line and conf in line]
    assert [line.split("] ", 1)[1] for line in warnings] == [
        f"{conf}: [agnet]: unknown section, ignored (did you mean [agent]?)",
        f"{conf}: [agent] prot: unknown key, ignored (did you mean port?)",
        f"{conf}: [collector:nosuch]: no collector of that name now, kept for a plugin"
        " named nosuch",
        f"{conf}: [collector:lv] lvs-extra-arg: unknown key, ignored"
        " (did you mean lvs-extra-args?)",
    ]


def test_a_daemonizing_twistd_reports_a_taken_port_and_removes_its_pid_file(
    tmp_path: Path, taken_tcp_port: int
) -> None:
    """Without --nodaemon the parent waits for the child's word: it must get it."""
    log, pid_file = tmp_path / "agent.log", tmp_path / "agent.pid"
    env = {**os.environ, "GANETI_ROOTDIR": str(tmp_path / "root")}
    finished = subprocess.run(
        [twistd(), f"--pidfile={pid_file}", f"--logfile={log}", "ganeti-agent",
         "--bind", "127.0.0.1", "--port", str(taken_tcp_port), "--no-confd",
         "--data-dir", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=REFUSAL_WITHIN,
    )  # fmt: skip
    assert finished.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken_tcp_port}" in finished.stderr
    assert not pid_file.exists()
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("cannot listen") == 1
