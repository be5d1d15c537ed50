"""hypervisor-xen and hypervisor-kvm on real captures, stand-in tools and broken sources."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from ganeti_agent.collectors.hypervisor import (
    KvmHypervisorCollector,
    XenHypervisorCollector,
    count_numa_nodes,
)
from ganeti_agent.core.executor import CommandFailed, CommandTimedOut, ProcessResult, ProcessRunner
from ganeti_agent.core.framework import (
    AgentContext,
    CollectorSet,
    CollectorSettings,
    ManagedCollector,
    find_on_default_path,
)
from ganeti_agent.core.paths import GanetiPaths
from tests.support import FakeRunner, shared_fixture


def context(
    runner: object = None, proc_root: str = "/proc", options: dict[str, str] | None = None
) -> AgentContext:
    settings = CollectorSettings(options=options or {})
    chosen = runner if runner is not None else FakeRunner()
    return AgentContext(
        Clock(),
        chosen,  # type: ignore[arg-type]
        GanetiPaths(),
        "node1",
        lambda _: settings,
        proc_root=proc_root,
        find_command=chosen.resolve if isinstance(chosen, ProcessRunner) else find_on_default_path,
    )


def report_data(collector: XenHypervisorCollector | KvmHypervisorCollector) -> Any:
    clock = collector.context.clock
    assert isinstance(clock, Clock)
    managed = ManagedCollector(collector, clock, lambda: 1.0)
    reported = managed.report()
    clock.advance(collector.settings.timeout + 1)
    results: list[Any] = []
    reported.addCallback(lambda report: results.append(report.report.data))
    assert results, "the report never arrived"
    return results[0]


def xen_runner() -> FakeRunner:
    runner = FakeRunner()
    runner.reply("xl", b"")
    info = shared_fixture("xen-xl-info-4.0.1.txt").read_bytes()
    listing = shared_fixture("xen-xl-list-4.0.1-dom0-only.txt").read_bytes()
    runner.responses["xl"] = lambda argv: ProcessResult(
        tuple(argv), info if argv[1] == "info" else listing, b"", 0.0
    )
    return runner


def test_xen_report_from_real_xl_outputs() -> None:
    runner = xen_runner()
    data = report_data(XenHypervisorCollector(context(runner, options={"sys-root": "/nowhere"})))
    assert runner.calls == [("xl", "info"), ("xl", "list")]
    assert {k: v for k, v in data.items() if k != "xen"} == {
        "hypervisor": "xen",
        "version": "4.0.1",
        "memory_unit": "MiB",
        "memory_total": 16378,
        "memory_free": 8004,
        "memory_dom0": 1023,
        "cpu_total": 4,
        "cpu_nodes": 1,
        "cpu_sockets": 2,
        "cpu_dom0": 1,
        "cpu_mhz": 2800,
        "NICs": [],
    }
    assert data["xen"]["xen_caps"] == "xen-3.0-x86_64 xen-3.0-x86_32p"
    assert data["xen"]["node_to_memory"] == "node0:8004"


def test_xen_without_a_usable_domain_list_still_reports() -> None:
    runner = xen_runner()
    info = runner.responses["xl"]
    runner.responses["xl"] = lambda argv: (
        info(argv) if argv[1] == "info" else CommandFailed(argv, 1, b"", b"xl: list broke")
    )
    data = report_data(XenHypervisorCollector(context(runner)))
    assert data["memory_total"] == 16378
    assert data["memory_dom0"] is None


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (None, "xl: command not found or not executable"),
        (CommandTimedOut(("xl", "info"), 10), "xl: timed out after 10 s and was killed"),
        (CommandFailed(("xl", "info"), 1, b"", b"cannot connect"), "xl: exited with status 1"),
        (b"Segmentation fault\n", "xl info: cannot parse: line 1: expected"),
        (b"total_memory : 1\n", "xl info: cannot parse: missing free_memory, nr_cpus"),
        (b"\xff\xfe", "xl info: invalid byte sequence at offset 0"),
    ],
)
def test_xen_faults_become_error_reports(outcome: object, message: str) -> None:
    runner = FakeRunner()
    if isinstance(outcome, bytes):
        runner.reply("xl", outcome)
    elif isinstance(outcome, Exception):
        runner.responses["xl"] = lambda argv: outcome
    data = report_data(XenHypervisorCollector(context(runner)))
    assert list(data) == ["error"]
    assert data["error"].startswith(message)


def test_a_hanging_xl_is_cut_off_by_the_collector_timeout() -> None:
    runner = FakeRunner({"xl": lambda argv: Deferred()})
    data = report_data(XenHypervisorCollector(context(runner)))
    assert data == {"error": "collector timed out after 10 s"}


def test_xen_availability(tmp_path: Path) -> None:
    xl = tmp_path / "xl"
    xl.write_text("#!/bin/sh\n")
    xl.chmod(0o755)
    collector = XenHypervisorCollector(context(proc_root=str(tmp_path), options={"xl": str(xl)}))
    assert not collector.available()
    (tmp_path / "xen").mkdir()
    assert collector.available()
    xl.chmod(0o644)
    assert not collector.available()


def test_xen_availability_asks_the_context_where_commands_are(tmp_path: Path) -> None:
    """The runner is a fake with no search path: only the context knows where xl is."""
    (tmp_path / "xen").mkdir()
    found = context(proc_root=str(tmp_path))
    found.find_command = lambda name: "/opt/xen/bin/xl" if name == "xl" else None
    assert XenHypervisorCollector(found).available()
    found.find_command = lambda name: None
    assert not XenHypervisorCollector(found).available()


@pytest_twisted.ensureDeferred
async def test_xen_through_a_stand_in_xl_on_the_search_path(tmp_path: Path) -> None:
    info = shared_fixture("xen-xl-info-4.0.1.txt")
    listing = shared_fixture("xen-xl-list-4.0.1-dom0-only.txt")
    xl = tmp_path / "xl"
    xl.write_text(f'#!/bin/sh\n[ "$1" = info ] && exec /bin/cat {info}\nexec /bin/cat {listing}\n')
    xl.chmod(0o755)
    (tmp_path / "xen").mkdir()
    runner = ProcessRunner(reactor, reactor, search_path=str(tmp_path))
    collector = XenHypervisorCollector(context(runner, proc_root=str(tmp_path)))
    assert collector.available()
    collecting = collector.collect()
    assert isinstance(collecting, Deferred)
    data: Any = await collecting
    assert (data["memory_total"], data["memory_dom0"], data["version"]) == (16378, 1023, "4.0.1")


def kvm_root(tmp_path: Path) -> Path:
    """A /proc tree with the shared captures (copied at test time, never into the repo)."""
    (tmp_path / "meminfo").write_bytes(shared_fixture("proc_meminfo.txt").read_bytes())
    (tmp_path / "cpuinfo").write_bytes(shared_fixture("proc_cpuinfo.txt").read_bytes())
    (tmp_path / "sys" / "kernel").mkdir(parents=True)
    (tmp_path / "sys" / "kernel" / "osrelease").write_text("6.1.0-test\n")
    nodes = tmp_path / "nodes"
    (nodes / "node0").mkdir(parents=True)
    (nodes / "node1").mkdir()
    (nodes / "possible").write_text("0-1\n")
    return tmp_path


def test_kvm_report_from_real_proc_captures(tmp_path: Path) -> None:
    root = kvm_root(tmp_path)
    options = {
        "node-dir": str(root / "nodes"),
        "device": str(root / "meminfo"),
        "sys-root": str(root / "no-sys"),
    }
    collector = KvmHypervisorCollector(context(proc_root=str(root), options=options))
    assert collector.available()
    data = report_data(collector)
    extra = data.pop("kvm")
    assert data.pop("NICs") == []
    assert data == {
        "hypervisor": "kvm",
        "version": "6.1.0-test",
        "memory_unit": "MiB",
        "memory_total": 31506,
        "memory_free": 21392,  # Ganeti's: each of MemFree, Buffers, Cached in MiB, then summed
        "memory_dom0": 14533,
        "cpu_total": 4,
        "cpu_nodes": 2,
        "cpu_sockets": 1,
        "cpu_dom0": 4,
        "cpu_mhz": 1200.0,
    }
    assert extra["memory_available"] == 21098
    assert extra["cpu_cores"] == 2
    assert extra["virtualization"] == "vmx"
    assert (extra["hugepages_total"], extra["hugepage_size_kib"]) == (0, 2048)
    assert len(extra["load_average"]) == 3


def test_kvm_faults(tmp_path: Path) -> None:
    root = kvm_root(tmp_path)
    collector = KvmHypervisorCollector(context(proc_root=str(root)))
    (root / "cpuinfo").write_text("garbage\n")
    assert report_data(collector) == {
        "error": f"{root}/cpuinfo: cannot parse: line 1: expected 'key : value', got 'garbage'"
    }
    (root / "meminfo").unlink()
    assert report_data(collector)["error"].startswith(f"{root}/meminfo: openFile: does not exist")
    absent = KvmHypervisorCollector(context(options={"device": str(root / "no-kvm")}))
    assert not absent.available()


def test_kvm_on_this_machine() -> None:
    data = report_data(KvmHypervisorCollector(context()))
    assert data["cpu_total"] == os.cpu_count()
    assert 0 < data["memory_free"] <= data["memory_total"]


def test_numa_node_count(tmp_path: Path) -> None:
    assert count_numa_nodes(str(tmp_path / "missing")) == 1
    assert count_numa_nodes(str(tmp_path)) == 1


def test_a_failing_collector_leaves_the_others_alone(tmp_path: Path) -> None:
    clock = Clock()
    broken = XenHypervisorCollector(context(FakeRunner()))
    working = KvmHypervisorCollector(context(proc_root=str(kvm_root(tmp_path))))
    collectors = CollectorSet([broken, working], clock, lambda: 1.0)
    gathered: list[list[Any]] = []
    collectors.reports(collectors.managed).addCallback(
        lambda reports: gathered.append([r.report.data for r in reports])
    )
    assert gathered
    xen, kvm = gathered[0]
    assert xen == {"error": "xl: command not found or not executable"}
    assert kvm["memory_total"] == 31506
