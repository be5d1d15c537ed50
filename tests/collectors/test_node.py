"""The node collector on this machine, on a prepared file tree, and with failing sources."""

from __future__ import annotations

import os
from collections import namedtuple
from pathlib import Path
from typing import Any

import psutil
import pytest
from twisted.internet.task import Clock

from ganeti_agent import __version__
from ganeti_agent.collectors.node import CpuLoad, NodeCollector, filesystems
from ganeti_agent.core.executor import CommandFailed
from ganeti_agent.core.framework import AgentContext, CollectorSettings, ManagedCollector
from ganeti_agent.core.paths import GanetiPaths
from tests.support import FakeRunner, shared_fixture

Times = namedtuple("Times", "user nice system idle iowait guest")
Partition = namedtuple("Partition", "device mountpoint fstype opts")


def node(tmp_path: Path, proc_root: str = "/proc", **options: str) -> NodeCollector:
    defaults = {
        "ganeti-share": str(tmp_path / "share"),
        "ganeti-versions": str(tmp_path / "versions"),
        "sys-root": str(tmp_path / "sys"),
    }
    settings = CollectorSettings(options={**defaults, **options})
    context = AgentContext(
        Clock(),
        FakeRunner(),
        GanetiPaths(data_dir=str(tmp_path / "lib")),
        "node1",
        lambda _: settings,
        proc_root=proc_root,
    )
    return NodeCollector(context)


def report(collector: NodeCollector) -> Any:
    results: list[Any] = []
    managed = ManagedCollector(collector, Clock(), lambda: 1.0)
    managed.report().addCallback(lambda r: results.append(r.report.data))
    return results[0]


def test_this_machine(tmp_path: Path) -> None:
    data = report(node(tmp_path))
    assert list(data) == [
        "cpu_number",
        "cpus",
        "cpu_seconds",
        "size_unit",
        "memory",
        "filesystem",
        "NICs",
        "versions",
    ]
    assert data["cpu_number"] == os.cpu_count() == len(data["cpus"])
    assert all(0.0 <= load <= 1.0 for load in data["cpus"])
    assert data["size_unit"] == "B"
    memory = data["memory"]
    assert 0 < memory["available"] <= memory["total"]
    assert {"swap_total", "swap_used", "swap_free", "cached", "buffers"} <= set(memory)
    for entry in data["filesystem"]:
        assert {"device", "mountpoint", "fstype"} <= set(entry)
        assert "error" in entry or entry["total"] >= entry["free"] >= 0
    nics = {nic["name"]: nic for nic in data["NICs"]}
    assert "lo" in nics
    loopback = nics["lo"]
    assert {"bytes_sent", "bytes_received", "packets_sent", "errors_in", "drops_out"} <= set(
        loopback
    )
    assert {"family": "inet", "address": "127.0.0.1", "netmask": "255.0.0.0"} in loopback[
        "addresses"
    ]
    assert data["versions"]["linux"] == os.uname().release
    assert data["versions"]["ganeti-agent"] == __version__


def test_versions_from_files(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "osrelease").write_text("6.1.0-13-amd64\n")
    (proc / "drbd").write_bytes(shared_fixture("proc_drbd84.txt").read_bytes())
    hypervisor = tmp_path / "sys" / "hypervisor"
    (hypervisor / "version").mkdir(parents=True)
    (hypervisor / "type").write_text("xen\n")
    for part, value in (("major", "4"), ("minor", "17"), ("extra", ".1")):
        (hypervisor / "version" / part).write_text(value + "\n")
    constants = tmp_path / "share" / "ganeti" / "_constants.py"
    constants.parent.mkdir(parents=True)
    constants.write_text('PKG = "x"\nRELEASE_VERSION = "3.0.2"\n')
    collector = node(tmp_path, str(proc))
    assert collector.version_reader.versions() == {
        "linux": "6.1.0-13-amd64",
        "drbd": "8.4.2",
        "xen": "4.17.1",
        "ganeti": "3.0.2",
        "ganeti-agent": __version__,
    }


def test_ganeti_version_fallbacks(tmp_path: Path) -> None:
    collector = node(tmp_path)
    assert "ganeti" not in collector.version_reader.versions()
    for version in ("2.16", "3.0"):
        constants = tmp_path / "versions" / version / "ganeti" / "_constants.py"
        constants.parent.mkdir(parents=True)
        constants.write_text(f'RELEASE_VERSION = "{version}.9"\n')
    assert "ganeti" not in collector.version_reader.versions()
    (tmp_path / "versions" / "2.16" / "ganeti" / "_constants.py").unlink()
    assert collector.version_reader.versions()["ganeti"] == "3.0.9"
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "ssconf_release_version").write_text("3.0.2\n")
    assert collector.version_reader.versions()["ganeti"] == "3.0.2"


def test_cpu_load_between_the_last_two_samples() -> None:
    load = CpuLoad()
    load.sample([Times(1, 0, 1, 8, 0, 5), Times(0, 0, 0, 0, 0, 0)])
    assert load.loads() == [0.2, 0.0]
    load.sample([Times(4, 0, 1, 9, 1, 5), Times(0, 0, 0, 4, 0, 0)])
    assert load.loads() == [0.6, 0.0]
    assert load.loads() == [0.6, 0.0]
    assert load.times[0] == {"user": 4.0, "nice": 0.0, "system": 1.0, "idle": 9.0, "iowait": 1.0}
    load.sample([Times(4, 0, 1, 9, 1, 5)])
    assert load.loads() == [0.3333]


def test_reports_do_not_shift_the_cpu_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Busy fractions cover the last sampling interval, however often reports are asked."""
    readings = iter([[Times(10, 0, 0, 90, 0, 0)], [Times(30, 0, 0, 170, 0, 0)]])
    latest: list[list[Times]] = []

    def cpu_times(percpu: bool = False) -> list[Times]:
        latest[:] = [next(readings, latest[0] if latest else [])]
        return latest[0]

    monkeypatch.setattr(psutil, "cpu_times", cpu_times)
    clock = Clock()
    collector = node(tmp_path)
    managed = ManagedCollector(collector, clock, lambda: 1.0)
    managed.start()
    clock.advance(collector.settings.interval)
    seen: list[Any] = []
    for _scraper in range(3):
        managed.report().addCallback(lambda r: seen.append(r.report.data))
        clock.advance(collector.settings.cache)
    managed.stop()
    assert [data["cpus"] for data in seen] == [[0.2]] * 3
    cpu_seconds = seen[0]["cpu_seconds"]
    assert cpu_seconds == [{"user": 30.0, "nice": 0.0, "system": 0.0, "idle": 170.0, "iowait": 0.0}]


def test_an_unreadable_filesystem_is_reported_in_its_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    part = Partition("/dev/sdz1", "/srv", "ext4", "rw")

    def failing_usage(path: str) -> None:
        raise OSError(5, "EIO")

    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: [part, part])
    monkeypatch.setattr(psutil, "disk_usage", failing_usage)
    assert [filesystem.to_json() for filesystem in filesystems()] == [
        {
            "device": "/dev/sdz1",
            "mountpoint": "/srv",
            "fstype": "ext4",
            "error": "statvfs /srv: EIO",
        }
    ]


def test_a_failing_source_becomes_an_error_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise PermissionError(13, "Permission denied", "/proc/net/dev")

    monkeypatch.setattr(psutil, "net_if_addrs", broken)
    data = report(node(tmp_path))
    assert data == {"error": "[Errno 13] Permission denied: '/proc/net/dev'"}


def qemu_node(tmp_path: Path, runner: FakeRunner) -> tuple[NodeCollector, Path]:
    """A KVM node (a stand-in ``/dev/kvm``) whose ``kvm`` is a stand-in binary."""
    kvm = tmp_path / "kvm"
    kvm.write_text("#!/bin/sh\n")
    device = tmp_path / "dev-kvm"
    device.touch()
    collector = node(tmp_path, **{"kvm-device": str(device)})
    collector.context.runner = runner
    collector.context.find_command = lambda name: str(kvm) if name == "kvm" else None
    collector.qemu.context = collector.context
    return collector, kvm


def test_qemu_version_on_a_kvm_node_is_asked_once_per_binary(tmp_path: Path) -> None:
    captured = (Path(__file__).parents[1] / "parsers" / "data").joinpath(
        "qemu-system-x86_64-version-7.2.txt"
    )
    runner = FakeRunner()
    collector, kvm = qemu_node(tmp_path, runner)
    runner.reply(str(kvm), captured.read_bytes())
    assert report(collector)["versions"]["qemu"] == "7.2.22"
    assert report(collector)["versions"]["qemu"] == "7.2.22"
    assert runner.calls == [(str(kvm), "--version")]
    kvm.write_text("#!/bin/sh\n# upgraded\n")
    runner.reply(str(kvm), b"QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)\n")
    assert report(collector)["versions"]["qemu"] == "8.2.2"
    assert len(runner.calls) == 2


def test_no_qemu_version_without_kvm_or_when_it_fails(tmp_path: Path) -> None:
    runner = FakeRunner()
    collector, kvm = qemu_node(tmp_path, runner)
    runner.responses[str(kvm)] = lambda argv: CommandFailed(argv, 1, b"", b"broken")
    assert "qemu" not in report(collector)["versions"]
    assert "qemu" not in report(collector)["versions"]
    assert len(runner.calls) == 1  # a failure is remembered until the binary changes
    (tmp_path / "dev-kvm").unlink()
    assert "qemu" not in report(collector)["versions"]
    plain = node(tmp_path / "plain", **{"kvm-device": str(tmp_path / "no-kvm")})
    assert "qemu" not in report(plain)["versions"]
