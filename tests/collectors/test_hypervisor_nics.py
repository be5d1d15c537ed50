"""The instances' NICs in hypervisor-kvm and hypervisor-xen, and the KVM host's NUMA nodes.

``data/sys-kvm`` was captured from a real tap interface attached to a real bridge (made
in a private network namespace); ``tests/parsers/data/sys`` from this machine's /sys.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, cast

import pytest
from twisted.internet.task import Clock

from ganeti_agent.collectors import hypervisor, hypervisor_nics
from ganeti_agent.collectors.hypervisor import (
    HostFigures,
    KvmHypervisorCollector,
    XenHypervisorCollector,
    count_numa_nodes,
    hypervisor_samples,
    numa_nodes,
)
from ganeti_agent.collectors.hypervisor_nics import HostNic, Interface, kvm_nics, xen_nics
from ganeti_agent.core.executor import ProcessResult
from ganeti_agent.core.framework import AgentContext, CollectorSettings, ManagedCollector
from ganeti_agent.core.paths import GanetiPaths
from tests.support import FakeRunner, shared_fixture

SYS_KVM = Path(__file__).parent / "data" / "sys-kvm"
HOST_NODES = Path(__file__).parents[1] / "parsers" / "data" / "sys" / "devices" / "system" / "node"
TAP_COUNTERS = {
    "bytes_sent": 0,
    "bytes_received": 0,
    "packets_sent": 0,
    "packets_received": 0,
    "errors_in": 0,
    "errors_out": 0,
    "drops_in": 0,
    "drops_out": 0,
}


def nic_files(tmp_path: Path, files: dict[str, str]) -> Path:
    """Ganeti's ``kvm-hypervisor/nic`` directory with ``instance/index`` files."""
    nic_dir = tmp_path / "run" / "kvm-hypervisor" / "nic"
    for relative, text in files.items():
        (nic_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (nic_dir / relative).write_text(text)
    return nic_dir


def test_kvm_nics_from_ganeti_runtime_files(tmp_path: Path) -> None:
    nic_dir = nic_files(
        tmp_path,
        {
            "inst1.example.com/0": "tap-t\n",
            "inst1.example.com/1": "tap-gone",
            "inst1.example.com/10": "not a name",
            "inst1.example.com/notes": "ignored: not a NIC index",
        },
    )
    nics = [nic.to_json() for nic in kvm_nics(str(SYS_KVM), str(nic_dir))]
    assert nics[0] == {
        "instance": "inst1.example.com",
        "index": 0,
        "name": "tap-t",
        "link": "br-t",
        "up": False,
        "mtu": 1500,
        **TAP_COUNTERS,
    }
    assert nics[1] == {
        "instance": "inst1.example.com",
        "index": 1,
        "name": "tap-gone",
        "error": f"no interface tap-gone in {SYS_KVM}/class/net",
    }
    assert nics[2]["index"] == 10 and nics[2]["name"] is None
    assert "not an interface name: 'not a name'" in str(nics[2]["error"])
    assert len(nics) == 3
    assert kvm_nics(str(SYS_KVM), str(tmp_path / "no-nic-dir")) == []


def test_hypervisor_kvm_reports_the_instances_nics(tmp_path: Path) -> None:
    nic_files(tmp_path, {"inst1/0": "tap-t\n"})
    for name in ("meminfo", "cpuinfo"):
        (tmp_path / name).write_bytes(shared_fixture(f"proc_{name}.txt").read_bytes())
    settings = CollectorSettings(options={"sys-root": str(SYS_KVM), "node-dir": str(HOST_NODES)})
    context = AgentContext(
        Clock(),
        FakeRunner(),
        GanetiPaths(run_dir=str(tmp_path / "run")),
        "node1",
        lambda _name: settings,
        proc_root=str(tmp_path),
    )
    data = report(KvmHypervisorCollector(context))
    assert [(nic["instance"], nic["name"], nic["link"]) for nic in data["NICs"]] == [
        ("inst1", "tap-t", "br-t")
    ]
    assert data["cpu_nodes"] == 1
    [node0] = data["kvm"]["numa_nodes"]
    assert node0 == {"node": 0, "cpus": [0, 1], "memory_total": 20697, "memory_free": 16065}


def report(collector: Any) -> Any:
    results: list[Any] = []
    managed = ManagedCollector(collector, Clock(), lambda: 1.0)
    managed.report().addCallback(lambda r: results.append(r.report.data))
    return results[0]


def xen_sys(tmp_path: Path) -> Path:
    """A Dom0's /sys/class/net: Dom0's own vif, a guest's two vifs (one emulated), eth0."""
    net = tmp_path / "sys" / "class" / "net"
    for name in ("vif0.0", "vif3.0", "vif3.0-emu", "vif3.1", "eth0"):
        shutil.copytree(SYS_KVM / "class" / "net" / "tap-t", net / name, symlinks=True)
    return tmp_path / "sys"


def test_xen_nics_are_the_guests_vifs(tmp_path: Path) -> None:
    sys_root = str(xen_sys(tmp_path))
    nics = [nic.to_json() for nic in xen_nics(sys_root, {0: "Domain-0", 3: "inst3"})]
    assert [(nic["instance"], nic["index"], nic["name"]) for nic in nics] == [
        ("inst3", 0, "vif3.0"),
        ("inst3", 0, "vif3.0-emu"),
        ("inst3", 1, "vif3.1"),
    ]
    assert xen_nics(sys_root, {})[0].instance is None
    assert xen_nics(str(tmp_path / "nowhere"), {3: "inst3"}) == []


def test_hypervisor_xen_names_the_vifs_after_xl_list(tmp_path: Path) -> None:
    info = shared_fixture("xen-xl-info-4.0.1.txt").read_bytes()
    listing = (
        b"Name                 ID   Mem VCPUs\tState\tTime(s)\n"
        b"Domain-0              0  1023     1     r-----    1.0\n"
        b"inst3                 3   512     1     -b----    2.0\n"
    )
    runner = FakeRunner()
    runner.responses["xl"] = lambda argv: ProcessResult(
        tuple(argv), info if argv[1] == "info" else listing, b"", 0.0
    )
    settings = CollectorSettings(options={"sys-root": str(xen_sys(tmp_path))})
    context = AgentContext(Clock(), runner, GanetiPaths(), "node1", lambda _name: settings)
    data = report(XenHypervisorCollector(context))
    assert data["memory_dom0"] == 1023
    assert [(nic["instance"], nic["name"]) for nic in data["NICs"]] == [
        ("inst3", "vif3.0"),
        ("inst3", "vif3.0-emu"),
        ("inst3", "vif3.1"),
    ]


def test_numa_nodes_of_a_real_host_and_of_broken_trees(tmp_path: Path) -> None:
    assert cast(Any, numa_nodes(str(HOST_NODES)))[0]["cpus"] == [0, 1]
    assert count_numa_nodes(str(HOST_NODES)) == 1
    (tmp_path / "online").write_text("0-1\n")
    (tmp_path / "node1").mkdir()
    (tmp_path / "node1" / "cpulist").write_text("2-3\n")
    (tmp_path / "node1" / "meminfo").write_text("Node 1 MemTotal: 2048 kB\n")
    assert numa_nodes(str(tmp_path)) == [
        {"node": 0, "cpus": None, "memory_total": None, "memory_free": None},
        {"node": 1, "cpus": [2, 3], "memory_total": 2, "memory_free": None},
    ]
    (tmp_path / "online").write_text("garbage")
    assert [node["node"] for node in cast(Any, numa_nodes(str(tmp_path)))] == [1]  # the directories


def test_the_number_of_nics_and_numa_nodes_is_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hypervisor_nics, "MAX_NICS", 2)
    nic_dir = nic_files(tmp_path, {f"inst{n}/0": "tap-t" for n in range(3)})
    assert len(kvm_nics(str(SYS_KVM), str(nic_dir))) == 2
    assert len(xen_nics(str(xen_sys(tmp_path)), {})) == 2
    monkeypatch.setattr(hypervisor, "MAX_NUMA_NODES", 2)
    (tmp_path / "nodes").mkdir()
    (tmp_path / "nodes" / "online").write_text("0-9\n")
    assert [node["node"] for node in cast(Any, numa_nodes(str(tmp_path / "nodes")))] == [0, 1]


def test_nic_counters_go_to_metrics() -> None:
    counters = (10, None, None, None, None, None, 2, None)
    tap = Interface("tap0", link="br0", up=True, mtu=1500, counters=counters)
    figures = HostFigures("kvm", None, 1, 1, None, 1, 1, 1, 1, None, {}, [HostNic("inst1", 0, tap)])
    found = {
        (sample.family.name, sample.labels): sample.value
        for sample in hypervisor_samples(figures)
        if sample.family.name.startswith("ganeti_hypervisor_nic_")
    }
    labels = ("kvm", "inst1", "tap0")
    assert found == {
        ("ganeti_hypervisor_nic_up", labels): 1.0,
        ("ganeti_hypervisor_nic_transmit_bytes_total", labels): 10.0,
        ("ganeti_hypervisor_nic_receive_drop_total", labels): 2.0,
    }
