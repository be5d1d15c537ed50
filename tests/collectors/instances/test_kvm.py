"""inst-status-kvm with a real stand-in QEMU process, its pid file and a QMP responder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor

from ganeti_agent.collectors.instances.kvm import (
    MONITOR_UNREACHABLE,
    InstStatusKvmCollector,
    format_uptime,
    instance_of_cmdline,
)
from ganeti_agent.core.framework import AgentContext, CollectorSettings, ManagedCollector
from ganeti_agent.core.paths import GanetiPaths
from tests.collectors.instances.xen_support import StaticCluster
from tests.support import FakeRunner

NAME = "kvm1.example.com"


class QmpResponder(Protocol):
    """A QEMU monitor that reports ``status``, or never answers when it is None."""

    def __init__(self, status: str | None) -> None:
        self.status = status

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        for line in data.splitlines():
            command = json.loads(line)["execute"]
            if self.status is None:
                continue
            if command == "qmp_capabilities":
                self.transport.write(b'{"return": {}}\r\n')
            elif command == "query-status":
                self.transport.write(b'{"event": "RESUME", "data": {}}\r\n')
                answer = {"return": {"status": self.status, "running": True}}
                self.transport.write(json.dumps(answer).encode() + b"\r\n")


def wait_for_exec(pid: int) -> None:
    """Popen returns while execve may still be finishing; /proc then shows no arguments."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if instance_of_cmdline(Path(f"/proc/{pid}/cmdline").read_bytes()) == NAME:
            return
        time.sleep(0.01)
    raise AssertionError("the stand-in QEMU did not start")


@pytest.fixture
def qemu() -> Iterator[subprocess.Popen[bytes]]:
    code = "import time; time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", code, "-name", f"{NAME},debug-threads=on"])
    wait_for_exec(process.pid)
    yield process
    process.kill()
    process.wait()


def kvm_node(
    tmp_path: Path,
    admin_state: str = "up",
    others: list[dict[str, Any]] | None = None,
    hypervisors: list[str] | None = None,
) -> AgentContext:
    instance: dict[str, Any] = {
        "name": NAME,
        "uuid": "u-1",
        "admin_state": admin_state,
        "mtime": 1.5,
    }
    settings = CollectorSettings(timeout=5, options={"qmp-timeout": "0.5"})
    return AgentContext(
        clock=reactor,
        runner=FakeRunner(),
        paths=GanetiPaths(data_dir=str(tmp_path / "lib"), run_dir=str(tmp_path / "run")),
        hostname="node1",
        settings=lambda _name: settings,
        cluster=StaticCluster([instance, *(others or [])], hypervisors),
        unix=reactor,  # type: ignore[arg-type]
    )


def runtime_dirs(context: AgentContext, pid: int | None) -> Path:
    root = Path(context.paths.kvm_hypervisor_dir)
    (root / "pid").mkdir(parents=True, exist_ok=True)
    (root / "ctrl").mkdir(parents=True, exist_ok=True)
    if pid is not None:
        (root / "pid" / NAME).write_text(f"{pid}\n")
    return root


async def instance_report(context: AgentContext) -> Any:
    managed = ManagedCollector(InstStatusKvmCollector(context), reactor, lambda: 0.0)
    return (await managed.report()).report.data


async def with_monitor(
    tmp_path: Path, pid: int, status: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    context = kvm_node(tmp_path)
    root = runtime_dirs(context, pid)
    factory = Factory.forProtocol(lambda: QmpResponder(status))
    port = reactor.listenUNIX(str(root / "ctrl" / f"{NAME}.qmp"), factory)  # type: ignore[attr-defined]
    try:
        data = await instance_report(context)
    finally:
        await port.stopListening()
    return data["instances"][0], data["status"]


def test_the_monitor_is_asked_through_the_context_unix_reactor(
    tmp_path: Path, qemu: subprocess.Popen[bytes]
) -> None:
    context = kvm_node(tmp_path)
    memory = MemoryReactor()
    context.unix = memory
    root = runtime_dirs(context, qemu.pid)
    asked = InstStatusKvmCollector(context).collect()
    try:
        assert [client[0] for client in memory.unixClients] == [str(root / "ctrl" / f"{NAME}.qmp")]
    finally:
        asked.addErrback(lambda _: None)
        asked.cancel()


@pytest_twisted.ensureDeferred
async def test_running_instance(tmp_path: Path, qemu: subprocess.Popen[bytes]) -> None:
    record, status = await with_monitor(tmp_path, qemu.pid, "running")
    assert status == {"code": 0, "message": ""}
    assert record["actualState"] == "running" and record["qmpStatus"] == "running"
    assert record["pid"] == qemu.pid and record["rss"] > 0 and record["cpuTime"] >= 0
    assert 0 <= record["uptimeSeconds"] < 60 and record["uptime"].startswith("0:00:")
    assert record["state_reason"] == [] and record["mtime"] == 1.5


@pytest_twisted.ensureDeferred
async def test_paused_instance(tmp_path: Path, qemu: subprocess.Popen[bytes]) -> None:
    record, status = await with_monitor(tmp_path, qemu.pid, "paused")
    assert record["actualState"] == "paused"
    assert status["code"] == 4


@pytest_twisted.ensureDeferred
async def test_silent_monitor_means_hung(tmp_path: Path, qemu: subprocess.Popen[bytes]) -> None:
    record, status = await with_monitor(tmp_path, qemu.pid, None)
    assert record["actualState"] == "hung"
    assert status == {
        "code": 2,
        "message": "\nInstance marked as running, but it appears to be hung",
    }


@pytest_twisted.ensureDeferred
async def test_missing_monitor_is_unknown(tmp_path: Path, qemu: subprocess.Popen[bytes]) -> None:
    context = kvm_node(tmp_path)
    runtime_dirs(context, qemu.pid)
    data = await instance_report(context)
    record = data["instances"][0]
    assert record["actualState"] == "unknown" and "qmpError" in record
    assert record["status"] == {"code": 2, "message": MONITOR_UNREACHABLE}
    assert data["status"] == {"code": 2, "message": "\n" + MONITOR_UNREACHABLE}


@pytest_twisted.ensureDeferred
async def test_instances_of_other_hypervisors_are_left_out(tmp_path: Path) -> None:
    xen = {"name": "xen.example.com", "uuid": "u-2", "admin_state": "up", "hypervisor": "xen-pvm"}
    context = kvm_node(tmp_path, admin_state="down", others=[xen])
    runtime_dirs(context, None)
    data = await instance_report(context)
    assert [record["name"] for record in data["instances"]] == [NAME]
    assert data["status"] == {"code": 0, "message": ""}


def test_listed_only_where_the_cluster_enables_kvm(tmp_path: Path) -> None:
    xen_cluster = kvm_node(tmp_path, hypervisors=["xen-pvm"])
    runtime_dirs(xen_cluster, None)
    assert not InstStatusKvmCollector(xen_cluster).available()
    kvm_cluster = kvm_node(tmp_path / "other", hypervisors=["xen-hvm", "kvm"])
    assert InstStatusKvmCollector(kvm_cluster).available()


@pytest_twisted.ensureDeferred
async def test_vanished_pid_is_crashed(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    context = kvm_node(tmp_path)
    runtime_dirs(context, gone.pid)
    data = await instance_report(context)
    assert data["instances"][0]["actualState"] == "crashed"
    assert data["instances"][0]["pid"] is None
    assert data["status"]["code"] == 4


@pytest_twisted.ensureDeferred
async def test_stopped_instance_without_pid_file_is_fine(tmp_path: Path) -> None:
    context = kvm_node(tmp_path, admin_state="down")
    runtime_dirs(context, None)
    data = await instance_report(context)
    assert data["instances"][0]["actualState"] == "shutdown"
    assert data["status"] == {"code": 0, "message": ""}


@pytest_twisted.ensureDeferred
async def test_pid_of_another_program_and_garbage_pid_file(tmp_path: Path) -> None:
    context = kvm_node(tmp_path)
    root = runtime_dirs(context, 1)
    assert (await instance_report(context))["instances"][0]["actualState"] == "crashed"
    (root / "pid" / NAME).write_bytes(b"\x00garbage")
    assert (await instance_report(context))["instances"][0]["actualState"] == "shutdown"


def test_helpers() -> None:
    assert format_uptime(42) == "0:00:42"
    assert format_uptime(86400 + 1) == "1 day, 0:00:01"
    assert format_uptime(15 * 86400 + 20 * 3600 + 57 * 60 + 7) == "15 days, 20:57:07"
    assert instance_of_cmdline(b"qemu\0-name\0a.example,x=1\0-m\0128\0") == "a.example"
    assert instance_of_cmdline(b"sleep\x0060\x00") is None
