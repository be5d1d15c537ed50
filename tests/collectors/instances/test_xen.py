"""inst-status-xen on the real xl captures, replayed by a stand-in xl on the search path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock, deferLater

from ganeti_agent.collectors.instances.xen import (
    DEFAULT_HUNG_CHECK_DELAY,
    InstStatusXenCollector,
)
from ganeti_agent.core.framework import ManagedCollector
from ganeti_agent.core.paths import GanetiPaths
from tests.collectors.instances.xen_support import INSTANCE1, StaticCluster, xen_node
from tests.support import shared_fixture


def fixtures() -> dict[str, str]:
    long_text = shared_fixture("xen-xl-list-long-4.0.1.txt").read_text()
    return {
        "xl_list_--long.1": long_text,
        "xl_list_--long.2": long_text.replace("(cpu_time 24.116", "(cpu_time 25.116"),
        "xl_uptime": shared_fixture("xen-xl-uptime-4.0.1.txt").read_text(),
    }


def write_reason_file(paths: GanetiPaths, instance: str, text: str) -> None:
    """What Ganeti's node daemon leaves behind for the collector to read."""
    directory = Path(paths.instance_reason_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / instance).write_text(text)


async def report(collector: InstStatusXenCollector) -> Any:
    managed = ManagedCollector(collector, reactor, lambda: 0.0)
    collected = await managed.report()
    return collected.report.data


@pytest_twisted.ensureDeferred
async def test_running_instance_with_trail(tmp_path: Path) -> None:
    context = xen_node(tmp_path, fixtures(), primaries=[INSTANCE1])
    write_reason_file(context.paths, "instance1.example.com", '[["gnt:user","go",5]]')
    data = await report(InstStatusXenCollector(context))
    assert data == {
        "instances": [
            {
                "name": "instance1.example.com",
                "uuid": "6c078d22-3eb6-4780-857d-81772e09eef1",
                "adminState": "up",
                "actualState": "blocked",
                "uptime": "15 days, 20:57:07",
                "mtime": 1363620320.874901,
                "state_reason": [["gnt:user", "go", 5]],
                "status": {"code": 0, "message": ""},
            }
        ],
        "status": {"code": 0, "message": ""},
    }


@pytest_twisted.ensureDeferred
async def test_unchanged_cpu_time_is_hung_and_xm_is_the_fallback(tmp_path: Path) -> None:
    replay = {k.replace("xl_", "xm_"): v for k, v in fixtures().items()}
    replay["xm_list_--long.2"] = replay["xm_list_--long.1"]
    context = xen_node(tmp_path, replay, commands=("xm",), primaries=[INSTANCE1])
    data = await report(InstStatusXenCollector(context))
    assert data["instances"][0]["actualState"] == "hung"
    assert data["status"] == {
        "code": 2,
        "message": "\nInstance marked as running, but it appears to be hung",
    }


@pytest_twisted.ensureDeferred
async def test_missing_binary_is_code_4_like_ganeti(tmp_path: Path) -> None:
    context = xen_node(tmp_path, {}, commands=(), primaries=[INSTANCE1])
    data = await report(InstStatusXenCollector(context))
    missing = "xm: readCreateProcess: posix_spawnp: does not exist (No such file or directory)"
    assert data == {
        "instances": [],
        "status": {
            "code": 4,
            "message": f"Unable to receive the list of instances: {missing}\n{missing}",
        },
    }


@pytest_twisted.ensureDeferred
async def test_garbage_output(tmp_path: Path) -> None:
    context = xen_node(
        tmp_path, {"xl_list_--long": "(((", "xl_uptime": "Name ID Uptime\n"}, primaries=[INSTANCE1]
    )
    data = await report(InstStatusXenCollector(context))
    assert data["status"]["code"] == 4
    assert "Failed reading: takeWhile1" in data["status"]["message"]


@pytest_twisted.ensureDeferred
async def test_uptime_failure_and_no_cluster_are_status_2(tmp_path: Path) -> None:
    replay = fixtures()
    del replay["xl_uptime"]
    data = await report(InstStatusXenCollector(xen_node(tmp_path, replay, primaries=[INSTANCE1])))
    assert data["status"]["code"] == 2
    assert data["status"]["message"].startswith("running command: readCreateProcess: xl")
    no_cluster = xen_node(tmp_path / "b", fixtures(), primaries=None)
    data = await report(InstStatusXenCollector(no_cluster))
    assert data == {
        "status": {
            "code": 2,
            "message": "Can't get instance info from ConfD: No answer from the Confd server",
        }
    }


@pytest_twisted.ensureDeferred
async def test_timeout_is_status_2(tmp_path: Path) -> None:
    replay = fixtures()
    replay["xl_list_--long.1.sleep"] = "5"
    context = xen_node(tmp_path, replay, primaries=[INSTANCE1], timeout=0.5)
    data = await report(InstStatusXenCollector(context))
    assert data["status"]["code"] in (2, 4)
    assert "timed out" in data["status"]["message"]


def test_listed_only_in_a_xen_control_domain(tmp_path: Path) -> None:
    context = xen_node(tmp_path, {}, primaries=[])
    collector = InstStatusXenCollector(context)
    assert not collector.available()
    xen_dir = tmp_path / "proc" / "xen"
    xen_dir.mkdir(parents=True)
    (xen_dir / "capabilities").write_text("")
    assert not collector.available()
    (xen_dir / "capabilities").write_text("control_d\n")
    assert collector.available()


def test_not_listed_where_the_cluster_does_not_enable_xen(tmp_path: Path) -> None:
    context = xen_node(tmp_path, {}, primaries=[])
    xen_dir = tmp_path / "proc" / "xen"
    xen_dir.mkdir(parents=True)
    (xen_dir / "capabilities").write_text("control_d\n")
    kvm_only: Any = StaticCluster([], hypervisors=["kvm"])
    context.cluster = kvm_only
    assert not InstStatusXenCollector(context).available()
    mixed: Any = StaticCluster([], hypervisors=["kvm", "xen-hvm"])
    context.cluster = mixed
    assert InstStatusXenCollector(context).available()


@pytest_twisted.ensureDeferred
async def test_instances_of_other_hypervisors_are_left_out(tmp_path: Path) -> None:
    kvm_instance = {**INSTANCE1, "name": "kvm.example.com", "uuid": "u-kvm", "hypervisor": "kvm"}
    xen_instance = {**INSTANCE1, "hypervisor": "xen-pvm"}
    context = xen_node(tmp_path, fixtures(), primaries=[kvm_instance, xen_instance])
    data = await report(InstStatusXenCollector(context))
    assert [record["name"] for record in data["instances"]] == ["instance1.example.com"]
    assert data["status"] == {"code": 0, "message": ""}


@pytest_twisted.ensureDeferred
async def test_default_waits_between_the_listings_so_an_idle_domain_is_not_hung(
    tmp_path: Path,
) -> None:
    """3.0.2's back-to-back listings call idle domains hung; the default waits first."""
    context = xen_node(tmp_path, fixtures(), primaries=[INSTANCE1], options={})
    clock = Clock()
    context.clock = clock
    collecting = InstStatusXenCollector(context).collect()
    while not collecting.called and not clock.getDelayedCalls():
        await deferLater(reactor, 0.05, lambda: None)
    assert [call.getTime() for call in clock.getDelayedCalls()] == [DEFAULT_HUNG_CHECK_DELAY]
    assert DEFAULT_HUNG_CHECK_DELAY >= 1
    clock.advance(DEFAULT_HUNG_CHECK_DELAY)
    data: Any = await collecting
    assert data["instances"][0]["actualState"] == "blocked"
