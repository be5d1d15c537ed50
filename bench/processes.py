"""Starting and stopping the processes under test: ganeti-agent and the real Ganeti daemons.

The agent runs as sysadmins run it (``twistd -n ganeti-agent``) on 127.0.0.1 and free
ports. The real daemons are Debian's Ganeti 3.0.2, started directly (as the reference
kit's scripts do) so this process owns, reaps and measures them. ganeti-mond always asks
confd on UDP port 1814 of the addresses in ``ssconf_master_candidates_ips``; the suite
points that file at a private loopback address (:data:`MOND_CONFD_ADDRESS`) and runs the
real confd there, so it never collides with another confd on 127.0.0.1:1814.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
KIT = SHARED / "reference"
GANETI_SBIN = Path(os.environ.get("GANETI_SBIN", "/usr/lib/ganeti/3.0/usr/sbin"))
MOND_CONFD_ADDRESS = "127.0.0.73"
MOND_CONFD_PORT = 1814
INACTIVE_FOR_MOND = "diskstats,drbd,lv,inst-status-xen"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for TCP and UDP on 127.0.0.1 right now."""
    while True:
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, other) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def udp_free(address: str, port: int) -> bool:
    """Whether a UDP socket can bind ``address:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def http_get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_http(port: int, path: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    """Until ``path`` answers (any status), or raise with the reason."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with status {process.returncode}")
        try:
            http_get(port, path, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no HTTP answer on port {port} after {seconds} s")


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """TERM, then KILL after ``grace`` seconds; always reaped."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def twistd() -> str:
    candidate = Path(sys.executable).with_name("twistd")
    return str(candidate) if candidate.exists() else "twistd"


def agent_has_confd() -> bool:
    """Whether this checkout's agent has the ``--confd-port`` option yet."""
    completed = subprocess.run(
        [twistd(), "ganeti-agent", "--help"], capture_output=True, text=True, check=False
    )
    return "--confd-port" in completed.stdout


@dataclass
class AgentProcess:
    """A running ``twistd -n ganeti-agent`` on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    confd_port: int | None
    home: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        stop_process(self.process)


def start_agent(
    home: Path,
    root: Path | None,
    config: str = "",
    confd: bool = True,
    extra_args: tuple[str, ...] = (),
) -> AgentProcess:
    """Start the agent with ``config`` (INI text) under ``GANETI_ROOTDIR=root``.

    confd is enabled on a free UDP port when this checkout supports it and ``confd`` is
    true, else explicitly disabled when the option exists.
    """
    home.mkdir(parents=True, exist_ok=True)
    config_path = home / "agent.conf"
    config_path.write_text(config)
    port = free_port()
    args = [twistd(), "--nodaemon", "--pidfile=", f"--logfile={home / 'twistd.log'}",
            "ganeti-agent", "--config", str(config_path), "--bind", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    confd_port: int | None = None
    if agent_has_confd():
        if confd:
            confd_port = free_port(socket.SOCK_DGRAM)
            args += ["--confd-bind", "127.0.0.1", "--confd-port", str(confd_port)]
        else:
            args.append("--no-confd")
    args += list(extra_args)
    env = dict(os.environ)
    if root is not None:
        env["GANETI_ROOTDIR"] = str(root)
    out = (home / "twistd.out").open("wb")
    process = subprocess.Popen(args, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT)
    agent = AgentProcess(process, port, confd_port, home)
    try:
        wait_http(port, "/1/list/collectors", process, 60)
    except RuntimeError:
        agent.stop()
        raise
    return agent


def ganeti_installed() -> str | None:
    """None when the real daemons and the reference kit are usable, else why not."""
    for daemon in ("ganeti-mond", "ganeti-confd"):
        if not os.access(GANETI_SBIN / daemon, os.X_OK):
            return f"{GANETI_SBIN / daemon} not installed"
    if not (KIT / "make-root.py").exists():
        return f"reference kit not found at {KIT}"
    return None


def make_root(root: Path, inactive: str = "", hostname: str | None = None) -> Path:
    """A GANETI_ROOTDIR tree from the reference kit, with mond's confd at a private address."""
    args = [sys.executable, str(KIT / "make-root.py"), str(root), hostname or socket.gethostname()]
    if inactive:
        args[2:2] = ["--inactive", inactive]
    subprocess.run(args, check=True, capture_output=True)
    data = root / "var" / "lib" / "ganeti"
    (data / "ssconf_master_candidates_ips").write_text(MOND_CONFD_ADDRESS + "\n")
    return data


@dataclass
class RealGaneti:
    """ganeti-confd (on the private address mond asks) and ganeti-mond for one root."""

    root: Path
    mond_port: int = 0
    confd: subprocess.Popen[bytes] | None = None
    mond: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def _spawn(self, daemon: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = self.root / f"{daemon}.out"
        self.logs.append(log)
        env = {**os.environ, "GANETI_ROOTDIR": str(self.root)}
        return subprocess.Popen(
            [str(GANETI_SBIN / daemon), "-f", "-d", "--no-user-checks", *args],
            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def start(self) -> None:
        """Start confd, then mond, and wait until mond lists its collectors."""
        if not udp_free(MOND_CONFD_ADDRESS, MOND_CONFD_PORT):
            raise RuntimeError(
                f"UDP {MOND_CONFD_ADDRESS}:{MOND_CONFD_PORT} is taken (another confd or "
                "ganeti-agent on 0.0.0.0:1814?); mond could not reach its confd"
            )
        for sub in ("run", "log"):
            (self.root / "var" / sub / "ganeti").mkdir(parents=True, exist_ok=True)
        self.confd = self._spawn(
            "ganeti-confd", ["-b", MOND_CONFD_ADDRESS, "-p", str(MOND_CONFD_PORT)]
        )
        time.sleep(0.5)
        if self.confd.poll() is not None:
            raise RuntimeError(
                f"ganeti-confd exited: {self.root / 'ganeti-confd.out'} "
                f"(is {MOND_CONFD_ADDRESS}:{MOND_CONFD_PORT}/udp taken?)"
            )
        self.mond_port = free_port()
        self.mond = self._spawn("ganeti-mond", ["-b", "127.0.0.1", "-p", str(self.mond_port)])
        wait_http(self.mond_port, "/1/list/collectors", self.mond, 30)

    def pids(self) -> list[int]:
        return [p.pid for p in (self.mond, self.confd) if p is not None]

    def stop(self) -> None:
        for process in (self.mond, self.confd):
            if process is not None:
                stop_process(process)


def ganeti_version() -> str:
    """The installed ganeti-haskell package version, for the results."""
    if shutil.which("dpkg-query") is None:
        return "unknown"
    completed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "ganeti-haskell-3.0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return completed.stdout.strip() or "not installed"
