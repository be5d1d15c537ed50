"""``ganeti-agent``: the check plugin against a real HTTP server on 127.0.0.1, targets,
hash-password, and ``check --local`` as a real process."""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import os
import pty
import socket
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import bcrypt
import pytest

from ganeti_agent.cli.agent import main


class Canned(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the class's status and body; records the headers."""

    status: ClassVar[int] = 200
    body: ClassVar[bytes] = b"[]"
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        Canned.seen.append({"path": self.path, **dict(self.headers.items())})
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    serving = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    thread = threading.Thread(target=serving.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{serving.server_address[1]}"
    serving.shutdown()
    serving.server_close()


@pytest.fixture
def agent(server: str) -> str:
    Canned.status, Canned.body, Canned.seen = 200, b"[]", []
    return server


def answer(reports: Any, status: int = 200) -> None:
    Canned.status = status
    Canned.body = reports if isinstance(reports, bytes) else json.dumps(reports).encode()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    code = exited.value.code
    return int(code) if isinstance(code, int) else -1, capsys.readouterr().out


def report(name: str, code: int, message: str = "") -> dict[str, Any]:
    return {
        "name": name, "version": "B", "format_version": 1, "timestamp": 1, "category": "storage",
        "kind": 1, "data": {"status": {"code": code, "message": message}},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("code", "extra", "exit_code", "state"),
    [
        (0, [], 0, "OK"),
        (1, [], 0, "OK"),
        (1, ["--warning-on-temporary"], 1, "WARNING"),
        (2, [], 3, "UNKNOWN"),
        (4, [], 2, "CRITICAL"),
    ],
)
def test_every_status_maps_to_its_exit_code(
    agent: str, capsys: pytest.CaptureFixture[str], code: int, extra: list[str], exit_code: int,
    state: str,
) -> None:  # fmt: skip
    answer([report("lv", 0), report("drbd", code, "\n4: Trying to establish")])
    status, out = run(["check", "-u", agent, *extra], capsys)
    assert status == exit_code
    assert out.startswith(f"GANETI {state} - ")
    assert out.endswith(f"| lv=0;;;0;4 drbd={code};;;0;4\n")
    assert out.count("\n") == 1
    assert Canned.seen[-1]["path"] == "/1/report/all"


def test_only_the_named_collectors_count(agent: str, capsys: pytest.CaptureFixture[str]) -> None:
    answer([report("lv", 0), report("drbd", 4, "broken")])
    assert run(["check", "-u", agent, "-C", "lv"], capsys) == (
        0, "GANETI OK - 1 collectors OK | lv=0;;;0;4\n",
    )  # fmt: skip
    status, out = run(["check", "-u", agent, "-C", "inst-status-xen"], capsys)
    assert (status, out) == (3, "GANETI UNKNOWN - no report from inst-status-xen\n")


def test_an_unreachable_agent_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, out = run(["check", "-u", f"http://127.0.0.1:{port}", "-t", "5"], capsys)
    assert status == 3
    assert out.startswith(f"GANETI UNKNOWN - cannot reach the agent at http://127.0.0.1:{port}/")
    assert "Connection refused" in out


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b"A web handler threw an exception.", 500, "answered HTTP 500"),
        (b"<html>", 200, "sent invalid JSON"),
        (b'{"name": "lv"}', 200, "sent dict, not a list of reports"),
        (b"[]", 200, "the agent reported no collectors"),
    ],
)
def test_bad_answers_are_unknown(
    agent: str, capsys: pytest.CaptureFixture[str], body: bytes, status: int, text: str
) -> None:
    answer(body, status)
    code, out = run(["check", "-u", agent], capsys)
    assert code == 3
    assert text in out


def test_basic_auth_credentials_are_sent(
    agent: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    answer([report("lv", 0)])
    run(["check", "-u", agent + "/", "--user", "nagios", "--password-file", str(secret)], capsys)
    assert Canned.seen[-1]["Authorization"] == "Basic bmFnaW9zOnMzY3JldA=="


def test_targets_writes_a_file_sd_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli.test_targets import cluster

    config = tmp_path / "config.data"
    config.write_text(json.dumps(cluster()))
    output = tmp_path / "targets.json"
    status, out = run(["targets", "--config-data", str(config), "-o", str(output)], capsys)
    assert (status, out) == (0, "")
    groups = json.loads(output.read_text())
    assert groups[0]["targets"] == ["alpha.example.org:1815"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_targets_without_a_configuration_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["targets", "--config-data", str(tmp_path / "missing")])
    assert exited.value.code == 1
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "bad").write_text("{}")
    with pytest.raises(SystemExit):
        main(["targets", "--config-data", str(tmp_path / "bad")])
    assert str(tmp_path / "bad") in capsys.readouterr().err


def test_hash_password_from_a_pipe() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ganeti_agent.cli.agent", "hash-password", "prometheus"],
        input=b"correct horse\n", capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    user, _, hashed = done.stdout.decode().strip().partition(":")
    assert user == "prometheus"
    assert bcrypt.checkpw(b"correct horse", hashed.encode())


def test_hash_password_refuses_a_password_bcrypt_cannot_use() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ganeti_agent.cli.agent", "hash-password", "prometheus"],
        input=b"x" * 73 + b"\n", capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        "ganeti-agent: the password has 73 bytes; bcrypt uses at most 72: choose a shorter one"
    ]


def _take_terminal() -> None:
    """In the child: a new session whose controlling terminal is stdin, the pty."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.parametrize(
    ("key", "code", "message"),
    [(b"\x04", 1, "no password given (end of input)"), (b"\x03", 130, "interrupted")],
)
def test_hash_password_prompt_ends_cleanly_on_ctrl_d_and_ctrl_c(
    key: bytes, code: int, message: str
) -> None:
    """On a terminal (a pty here): one line, no traceback."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ganeti_agent.cli.agent", "hash-password", "prometheus"],
        stdin=follower, stdout=follower, stderr=follower, preexec_fn=_take_terminal,
    )  # fmt: skip
    os.close(follower)
    output = b""
    while b"Password: " not in output:
        output += os.read(leader, 1024)
    os.write(leader, key)
    assert process.wait(timeout=60) == code
    with contextlib.suppress(OSError):
        while chunk := os.read(leader, 1024):
            output += chunk
    os.close(leader)
    text = output.decode(errors="replace")
    assert "Traceback" not in text
    assert f"ganeti-agent: {message}" in text


def test_check_local_runs_the_collectors_in_a_real_process(tmp_path: Path) -> None:
    config = tmp_path / "agent.conf"
    config.write_text(
        "[collectors]\nenabled = no\n[collector:diskstats]\nenabled = yes\n"
        "[collector:daemon-ganeti-agent]\nenabled = yes\n[collector:node]\nenabled = yes\n"
        f"[collector:plugins]\ndirectory = {tmp_path}/none\n[confd]\nenabled = no\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "ganeti_agent.cli.agent", "check", "--local", "-c", str(config),
         "--data-dir", str(tmp_path)],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    out = done.stdout.decode()
    assert out.startswith("GANETI "), (out, done.stderr)
    assert "diskstats=" in out
    assert "daemon-ganeti-agent=" in out and "node=" in out  # sampled, yet run once here
    assert done.returncode in (0, 3)


def test_check_local_wiring_failure_is_one_line(tmp_path: Path) -> None:
    """make_agent failing inside the one reactor run: a plugin line, no traceback."""
    config = tmp_path / "agent.conf"
    config.write_text("[collectors]\nenabled = no\n[confd]\nbind = 1.2.3.4.5\n")
    done = subprocess.run(
        [sys.executable, "-m", "ganeti_agent.cli.agent", "check", "--local", "-c", str(config),
         "--data-dir", str(tmp_path)],
        capture_output=True, timeout=60, check=False, text=True,
    )  # fmt: skip
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert done.stdout.startswith("GANETI UNKNOWN - running the collectors failed: ")
    assert "1.2.3.4.5" in done.stdout and done.stdout.count("\n") == 1
    assert "Traceback" not in done.stdout + done.stderr


def console(*argv: str) -> subprocess.CompletedProcess[str]:
    """The installed ``ganeti-agent`` script, as an operator or Nagios runs it."""
    script = Path(sys.executable).with_name("ganeti-agent")
    return subprocess.run(
        [str(script), *argv], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["-t", "0"], "argument -t/--timeout: expected a number of seconds greater than 0"),
        (["-t", "soon"], "argument -t/--timeout: expected a number of seconds greater than 0"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_a_check_usage_error_is_unknown_not_critical(argv: list[str], complaint: str) -> None:
    """argparse's status 2 would read as CRITICAL; a plugin's usage error is UNKNOWN (3)."""
    done = console("check", *argv)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"GANETI UNKNOWN - ganeti-agent check: {complaint}")


@pytest.mark.parametrize(
    ("option", "complaint"),
    [
        ("--password-file", "cannot read the password file {missing}: No such file or directory"),
        ("--ca-file", "cannot load the CA file {missing}: No such file or directory"),
    ],
)
def test_a_missing_check_file_is_named(tmp_path: Path, option: str, complaint: str) -> None:
    missing = tmp_path / "missing"
    done = console(
        "check", "-u", "https://127.0.0.1:1", "--user", "x", option, str(missing), "-t", "5"
    )
    assert (done.returncode, done.stderr) == (3, "")
    assert done.stdout == f"GANETI UNKNOWN - {complaint.format(missing=missing)}\n"


def test_a_bad_targets_port_is_one_usage_line(tmp_path: Path) -> None:
    done = console("targets", "--port", "99999", "--config-data", str(tmp_path / "config.data"))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1] == (
        "ganeti-agent targets: error: argument --port:"
        " expected a port number from 0 to 65535, got '99999'"
    )
