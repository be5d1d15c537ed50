"""The lv collector: replayed lvs output, cluster ownership, failures, and real LVM.

The real-LVM test builds a volume group on a loop device with volumes named as Ganeti
names them and runs the collector's own ``lvs`` through the real executor. LVM works
there even without device-mapper when every command gets ``--driverloaded n``, which
is what the ``lvs-extra-args`` knob is for. It needs root, lvm2 and loop devices.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from ganeti_agent.collectors.lv import LvCollector
from ganeti_agent.core.cluster import ClusterQueries
from ganeti_agent.core.executor import CommandFailed, CommandRunner, ProcessRunner
from ganeti_agent.core.framework import (
    AgentContext,
    CollectedReport,
    CollectorSettings,
    ManagedCollector,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.parsers.lvs import LVS_ARGUMENTS
from tests.collectors.storage_support import StorageCluster
from tests.support import FakeRunner

RECORD = (
    "  Uu1;{name};-wi-ao----;-1;-1;253;0;1073741824B;1;;;Vg1;xenvg;linear;"
    "0B;0;1073741824B;;/dev/loop0:0-255;/dev/loop0(0)\n"
)
INSTANCE: dict[str, JSON] = {
    "name": "inst1.example.com",
    "primary_node": "n1",
    "os": "debian",
    "hypervisor": "kvm",
    "admin_state": "up",
    "admin_state_source": "admin",
    "disks_active": True,
    "uuid": "iu1",
    "serial_no": 1,
    "forthcoming": False,
}


def plain(vg: str, lv: str) -> dict[str, JSON]:
    return {"dev_type": "plain", "logical_id": [vg, lv], "size": 1, "uuid": lv, "serial_no": 1}


def make(runner: CommandRunner, cluster: ClusterQueries | None, **options: str) -> LvCollector:
    settings = CollectorSettings(timeout=30.0, options=options)
    context = AgentContext(Clock(), runner, GanetiPaths(), "node1", lambda _: settings, cluster)
    return LvCollector(context)


def test_lvs_is_looked_for_where_the_runner_finds_commands() -> None:
    """``[agent] command-path`` decides, as for running it (not the default path)."""
    collector = make(FakeRunner(), None)
    collector.context.find_command = lambda name: None
    assert not collector.available()
    collector.context.find_command = lambda name: "/opt/lvm/lvs" if name == "lvs" else None
    assert collector.available()


def data_of(collector: LvCollector) -> Any:
    done = ManagedCollector(collector, Clock(), lambda: 0.0).report()
    collected: list[CollectedReport] = []
    done.addCallback(collected.append)
    return collected[0].report.data


def test_runs_ganetis_command_and_maps_instances() -> None:
    runner = FakeRunner()
    runner.reply("lvs", (RECORD.format(name="a.disk0") + RECORD.format(name="b")).encode())
    cluster = StorageCluster(instances=([INSTANCE], []), disks={"iu1": [plain("xenvg", "a.disk0")]})
    data = data_of(make(runner, cluster))
    assert runner.calls == [LVS_ARGUMENTS]
    assert [d["instance"] for d in data] == ["inst1.example.com", None]
    assert cluster.asked == [("node_instances", "node1"), ("instance_disks", "iu1")]


def test_extra_arguments_go_before_the_field_list() -> None:
    runner = FakeRunner()
    runner.reply("lvs", b"")
    assert data_of(make(runner, None, **{"lvs-extra-args": "--driverloaded n"})) == []
    assert runner.calls[0][-4:] == ("--driverloaded", "n", "-o", LVS_ARGUMENTS[-1])


def test_failures_become_error_reports() -> None:
    runner = FakeRunner()
    assert "command not found" in data_of(make(runner, None))["error"]
    runner.responses["lvs"] = lambda argv: CommandFailed(argv, 5, b"", b"lock held")
    assert data_of(make(runner, None))["error"].startswith("running command: lvs: exited")
    runner.reply("lvs", b"garbage")
    assert "cannot parse" in data_of(make(runner, None))["error"]
    runner.reply("lvs", RECORD.format(name="x").encode())
    cluster = StorageCluster(error="No answer from the Confd server")
    assert data_of(make(runner, cluster)) == {
        "error": "Unable to obtain the list of instances: No answer from the Confd server"
    }
    bad = StorageCluster(instances=([{"name": "x"}], []))
    assert "invalid instance data" in data_of(make(runner, bad))["error"]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_output_gives_a_report(output: bytes) -> None:
    runner = FakeRunner()
    runner.reply("lvs", output)
    data = data_of(make(runner, StorageCluster()))
    assert isinstance(data, list) or set(data) == {"error"}


def _lvm(*argv: str) -> None:
    subprocess.run([*argv, "--driverloaded", "n"], check=True, capture_output=True, timeout=60)


def _real_lvm_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create a loop device and a volume group"
    if shutil.which("lvcreate") is None or shutil.which("losetup") is None:
        return "lvm2 or losetup is not installed (make system-deps installs lvm2)"
    if not os.path.exists("/dev/loop-control"):
        return "no loop devices on this machine"
    return None


@pytest.fixture
def volume_group(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A VG on a loop file with Ganeti-named LVs; everything is removed afterwards."""
    reason = _real_lvm_missing()
    if reason is not None:
        pytest.skip(reason)
    image = tmp_path / "pv.img"
    with open(image, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    loop = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=False
    )
    if loop.returncode != 0:
        pytest.skip(f"cannot attach a loop device: {loop.stderr.strip()}")
    device = loop.stdout.strip()
    vg = f"gatest{uuid.uuid4().hex[:8]}"
    disk = str(uuid.uuid4())
    try:
        _lvm("pvcreate", "-q", device)
        _lvm("vgcreate", "-q", vg, device)
        for suffix, size in (("disk0_data", "16M"), ("disk0_meta", "4M"), ("disk1", "8M")):
            _lvm("lvcreate", "-q", "-an", "-Zn", "-L", size, "-n", f"{disk}.{suffix}", vg)
        yield vg, disk
    finally:
        subprocess.run(["vgremove", "-f", "-q", vg, "--driverloaded", "n"], capture_output=True)
        subprocess.run(["pvremove", "-q", device, "--driverloaded", "n"], capture_output=True)
        subprocess.run(["losetup", "-d", device], capture_output=True)


@pytest.mark.root
@pytest_twisted.ensureDeferred
async def test_real_lvs_on_a_loop_device(volume_group: tuple[str, str]) -> None:
    vg, disk = volume_group
    drbd: dict[str, JSON] = {
        "dev_type": "drbd",
        "logical_id": ["n1", "n2", 11000, 0, 0, "secret"],
        "size": 16,
        "uuid": "d0",
        "serial_no": 1,
        "children": [plain(vg, f"{disk}.disk0_data"), plain(vg, f"{disk}.disk0_meta")],
    }
    cluster = StorageCluster(
        instances=([INSTANCE], []), disks={"iu1": [drbd, plain("othervg", f"{disk}.disk1")]}
    )
    runner = ProcessRunner(reactor, reactor)
    collector = make(runner, cluster, **{"lvs-extra-args": f"--driverloaded n {vg}"})
    assert collector.available()
    collecting = collector.collect()
    assert isinstance(collecting, Deferred)
    data: Any = await collecting
    by_name: Any = {d["name"]: d for d in data}
    assert set(by_name) == {f"{disk}.disk0_data", f"{disk}.disk0_meta", f"{disk}.disk1"}
    assert by_name[f"{disk}.disk0_data"]["size"] == 16 * 1024 * 1024
    assert by_name[f"{disk}.disk0_data"]["vg_name"] == vg
    assert by_name[f"{disk}.disk0_meta"]["instance"] == "inst1.example.com"
    assert by_name[f"{disk}.disk1"]["instance"] is None
    assert all(d["segtype"] == "linear" and d["seg_count"] == 1 for d in data)
