"""``ganeti-mon-collector`` for the collectors Ganeti never built: each as a real process.

inst-status-kvm, node, hypervisor-kvm/-xen, the daemon-* collectors and confd run the
daemon's collector once; the tests give them real files under ``GANETI_ROOTDIR``, stand-in
programs on ``PATH``, a confd peer and a QMP monitor on 127.0.0.1 / a UNIX socket.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory

from ganeti_agent.cli.moncollector import Outcome, prepare
from ganeti_agent.collectors.daemons import DAEMONS
from ganeti_agent.confd.constants import NodeRole, RequestType
from ganeti_agent.confd.protocol import Reply, Request
from ganeti_agent.confd.testing import FakeConfdPeer
from ganeti_agent.core.executor import CommandFailed, ProcessRunner
from tests.collectors.instances.test_kvm import NAME as KVM_INSTANCE
from tests.collectors.instances.test_kvm import QmpResponder, wait_for_exec
from tests.confd.support import inline_callbacks
from tests.support import REPO, shared_fixture, sleeping_program

CLI = [sys.executable, "-m", "ganeti_agent.cli.moncollector"]
DAEMON_COMMANDS = [spec.collector_name for spec in DAEMONS]
NEW_COMMANDS = [
    "inst-status-kvm",
    "node",
    "hypervisor-kvm",
    "hypervisor-xen",
    *DAEMON_COMMANDS,
    "confd",
]
HMAC_KEY = b"0123456789abcdef0123456789abcdef01234567\n"
"""hmac.key's content; the key is the whole file, newline included."""


def ganeti_root(tmp_path: Path, key: bool = True) -> Path:
    """An empty node under ``GANETI_ROOTDIR``: data and run directories, maybe the key."""
    root = tmp_path / "root"
    (root / "var/lib/ganeti").mkdir(parents=True)
    (root / "var/run/ganeti").mkdir(parents=True)
    if key:
        (root / "var/lib/ganeti/hmac.key").write_bytes(HMAC_KEY)
    return root


def environment(root: Path, path: str = "/usr/bin:/bin") -> dict[str, str]:
    return {"GANETI_ROOTDIR": str(root), "PATH": path, "LC_ALL": "C.UTF-8"}


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=False
    )


def report_of(done: subprocess.CompletedProcess[str], name: str) -> dict[str, Any]:
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.endswith("}\n") and done.stdout.count("\n") == 1
    report: dict[str, Any] = json.loads(done.stdout)
    assert (report["name"], report["version"], report["format_version"]) == (name, "B", 1)
    return report


def fails_in_one_line(done: subprocess.CompletedProcess[str], starting: str) -> None:
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(starting), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_top_level_help_lists_every_collector_command() -> None:
    usage = prepare(["--help"])
    assert isinstance(usage, Outcome) and usage.exit_code == 0
    listed = {line.split()[0] for line in usage.stdout.splitlines() if line.startswith(" ")}
    assert listed >= {*NEW_COMMANDS, "diskstats", "drbd", "lv", "inst-status-xen"}
    assert "daemon-ganeti-agent" not in listed
    choices = prepare(["--help-completion"])
    assert isinstance(choices, Outcome)
    assert set(NEW_COMMANDS) <= set(choices.stdout.split()[0].removeprefix("choices=").split(","))


@pytest.mark.parametrize("name", NEW_COMMANDS)
def test_every_command_has_help_and_refuses_arguments(name: str) -> None:
    helped = prepare([name, "--help"])
    assert isinstance(helped, Outcome) and helped.exit_code == 0
    assert helped.stdout.splitlines()[1] == "Usage: mon-collector [OPTION...]"
    assert "--help-completion" in helped.stdout
    extra = prepare([name, "surplus"])
    assert isinstance(extra, Outcome)
    assert (extra.exit_code, extra.stderr) == (
        1,
        "Error: This program takes exactly zero arguments, got 'surplus'\n",
    )
    wrong = prepare([name, "--bogus"])
    assert isinstance(wrong, Outcome) and wrong.exit_code == 2


def test_node_samples_the_cpus_over_the_interval() -> None:
    report = report_of(run("node", "--interval=0.2"), "node")
    data = report["data"]
    assert report["category"] is None and report["kind"] == 0
    assert data["cpu_number"] == len(data["cpus"]) == os.cpu_count()
    assert all(0.0 <= load <= 1.0 for load in data["cpus"])
    assert {"memory", "filesystem", "NICs", "versions"} <= data.keys()
    assert report_of(run("node", "-i", "0"), "node")["data"]["cpu_number"] == os.cpu_count()


@pytest.mark.parametrize("value", ["nan", "-1", "3601", "soon"])
def test_a_bad_interval_is_one_line(value: str) -> None:
    done = run("node", "-i", value)
    fails_in_one_line(done, "Error: --interval must be a number of seconds from 0 to 3600")


def test_hypervisor_kvm_reads_this_hosts_proc() -> None:
    report = report_of(run("hypervisor-kvm"), "hypervisor-kvm")
    assert (report["category"], report["kind"]) == ("hypervisor", 0)
    assert report["data"]["hypervisor"] == "kvm"
    assert report["data"]["cpu_total"] == os.cpu_count()


def test_hypervisor_xen_runs_xl_from_path(tmp_path: Path) -> None:
    info = shared_fixture("xen-xl-info-4.0.1.txt")
    listing = shared_fixture("xen-xl-list-4.0.1-dom0-only.txt")
    xl = tmp_path / "xl"
    xl.write_text(f'#!/bin/sh\n[ "$1" = info ] && exec /bin/cat {info}\nexec /bin/cat {listing}\n')
    xl.chmod(0o755)
    root = ganeti_root(tmp_path)
    report = report_of(
        run("hypervisor-xen", env=environment(root, f"{tmp_path}:/usr/bin:/bin")),
        "hypervisor-xen",
    )
    assert report["data"]["hypervisor"] == "xen"
    assert report["data"]["memory_dom0"] is not None
    missing = run("hypervisor-xen", env=environment(root, str(tmp_path / "nowhere")))
    fails_in_one_line(missing, "Error: xl: command not found or not executable")


def test_confd_says_whether_the_configuration_and_key_load(tmp_path: Path) -> None:
    root = ganeti_root(tmp_path)
    config = shared_fixture("cluster_config_3.0.json")
    (root / "var/lib/ganeti/config.data").write_bytes(config.read_bytes())
    (root / "var/lib/ganeti/config.data").chmod(0o600)
    data = report_of(run("confd", env=environment(root)), "confd")["data"]
    assert (data["keyLoaded"], data["configLoaded"], data["configError"]) == (True, True, None)
    assert data["configSerial"] == json.loads(config.read_text())["cluster"]["serial_no"]
    assert data["received"] == 0 and data["configLoads"] == 1

    empty = ganeti_root(tmp_path / "empty", key=False)
    data = report_of(run("confd", env=environment(empty)), "confd")["data"]
    assert (data["keyLoaded"], data["configLoaded"]) == (False, False)
    assert "config.data" in data["configError"]


def test_every_daemon_command_runs_without_a_cluster(tmp_path: Path) -> None:
    root = ganeti_root(tmp_path, key=False)
    processes = {
        name: subprocess.Popen(
            [*CLI, name, "-i", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(root),
            cwd=REPO,
        )
        for name in DAEMON_COMMANDS
    }
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        data = report_of(done, name)["data"]
        assert data["pid"] is None
        if name in ("daemon-mond", "daemon-kvmd", "daemon-metad"):
            assert data["status"]["code"] == 0  # on demand: no pid file, not needed
        else:
            assert data["status"]["code"] == 2
            assert "hmac.key: openBinaryFile: does not exist" in data["status"]["message"]


@pytest.fixture
def noded(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose program is ``ganeti-noded``, as Ganeti's noded script."""
    with sleeping_program(tmp_path, "ganeti-noded") as process:
        yield process


def confd_peer(answers: dict[RequestType, Any]) -> IListeningPort:
    def respond(request: Request) -> list[Reply]:
        if request.type in answers:
            return [Reply(0, answers[request.type], 3)]
        return [Reply(1, "unexpected request", 0)]

    peer = FakeConfdPeer(HMAC_KEY, respond)
    listening: IListeningPort = reactor.listenUDP(0, peer, interface="127.0.0.1")  # type: ignore[attr-defined]
    return listening


def process_runner(root: Path) -> ProcessRunner:
    return ProcessRunner(reactor, reactor, environment=environment(root))


def confd_arguments(port: IListeningPort) -> list[str]:
    udp_port: int = port.getHost().port  # type: ignore[attr-defined]
    return ["-a", "127.0.0.1", "-p", str(udp_port)]


@inline_callbacks
def test_a_running_daemon_with_its_role_from_confd(
    tmp_path: Path, noded: subprocess.Popen[bytes]
) -> Any:
    root = ganeti_root(tmp_path)
    (root / "var/run/ganeti/ganeti-noded.pid").write_text(f"{noded.pid}\n")
    port = confd_peer({RequestType.NODE_ROLE_BYNAME: int(NodeRole.REGULAR)})
    argv = [*CLI, "daemon-noded", "--interval=0.3", *confd_arguments(port)]
    not_needed = [*CLI, "daemon-rapi", "-i", "0", *confd_arguments(port)]
    try:
        result = yield process_runner(root).run(argv, timeout=120)
        rapi = yield process_runner(root).run(not_needed, timeout=120)
    finally:
        yield port.stopListening()
    assert json.loads(rapi.stdout)["data"]["status"] == {
        "code": 0,
        "message": f"not running (no pid file {root}/var/run/ganeti/ganeti-rapi.pid);"
        " not needed on a regular node",
    }
    data = json.loads(result.stdout)["data"]
    assert (data["daemon"], data["pid"], data["status"]) == (
        "ganeti-noded",
        noded.pid,
        {"code": 0, "message": ""},
    )
    assert data["cpu_usage"] is not None and data["cpu_usage"] >= 0


@pytest.fixture
def qemu() -> Iterator[subprocess.Popen[bytes]]:
    code = "import time; time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", code, "-name", KVM_INSTANCE])
    wait_for_exec(process.pid)
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory with a short path: a UNIX socket's path must fit in 108 bytes."""
    directory = Path(tempfile.mkdtemp(prefix="mc-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory)


@inline_callbacks
def test_inst_status_kvm_asks_confd_and_the_monitor(
    short_tmp: Path, qemu: subprocess.Popen[bytes]
) -> Any:
    root = ganeti_root(short_tmp)
    runtime = root / "var/run/ganeti/kvm-hypervisor"
    (runtime / "pid").mkdir(parents=True)
    (runtime / "ctrl").mkdir()
    (runtime / "pid" / KVM_INSTANCE).write_text(f"{qemu.pid}\n")
    factory = Factory.forProtocol(lambda: QmpResponder("running"))
    monitor = reactor.listenUNIX(str(runtime / "ctrl" / f"{KVM_INSTANCE}.qmp"), factory)  # type: ignore[attr-defined]
    kvm = {"name": KVM_INSTANCE, "uuid": "u-1", "admin_state": "up", "hypervisor": "kvm"}
    xen = {"name": "xen1", "uuid": "u-2", "admin_state": "up", "hypervisor": "xen-pvm"}
    port = confd_peer({RequestType.NODE_INSTANCES: [[kvm, xen], []]})
    argv = [*CLI, "inst-status-kvm", *confd_arguments(port)]
    try:
        result = yield process_runner(root).run(argv, timeout=120)
    finally:
        yield port.stopListening()
        yield monitor.stopListening()
    report = json.loads(result.stdout)
    identity = (report["name"], report["category"], report["kind"])
    assert identity == ("inst-status-kvm", "instance", 1)
    [instance] = report["data"]["instances"]
    assert (instance["name"], instance["actualState"], instance["pid"]) == (
        KVM_INSTANCE,
        "running",
        qemu.pid,
    )
    assert report["data"]["status"]["code"] == 0


@inline_callbacks
def test_inst_status_kvm_without_confd_is_one_error_line(tmp_path: Path) -> Any:
    root = ganeti_root(tmp_path, key=False)
    try:
        yield process_runner(root).run([*CLI, "inst-status-kvm"], timeout=120)
    except CommandFailed as failure:
        assert (failure.exit_code, failure.stdout) == (1, b"")
        assert failure.stderr.decode() == (
            f"Error: Can't get instance info from ConfD: {root}/var/lib/ganeti/hmac.key:"
            " openBinaryFile: does not exist (No such file or directory)\n"
        )
    else:
        raise AssertionError("inst-status-kvm without a cluster must fail")
