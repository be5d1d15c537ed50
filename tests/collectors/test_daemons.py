"""Daemon collectors against real stand-in daemon processes and their pid files."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from ganeti_agent.collectors import build_collectors
from ganeti_agent.collectors.daemons import (
    CANDIDATE,
    DAEMONS,
    MASTER,
    OFFLINE,
    REGULAR,
    AgentDaemonCollector,
    CpuMeter,
    GanetiDaemonCollector,
    RoleTracker,
    collectors,
)
from ganeti_agent.core.cluster import ClusterUnavailable
from ganeti_agent.core.framework import (
    AgentContext,
    CollectorSet,
    CollectorSettings,
    ManagedCollector,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from tests.support import FakeRunner, sleeping_program

SPECS = {spec.name: spec for spec in DAEMONS}


class FakeCluster:
    """Answers the node-role question with a fixed role, error or pending Deferred."""

    def __init__(self, role: int | Exception | Deferred[int]) -> None:
        self.role = role
        self.asked: list[str] = []

    def node_role(self, node: str) -> Deferred[int]:
        self.asked.append(node)
        if isinstance(self.role, Deferred):
            return self.role
        if isinstance(self.role, Exception):
            return fail(self.role)
        return succeed(self.role)

    def node_drbd(self, node: str) -> Deferred[list[list[JSON]]]:
        raise NotImplementedError

    def node_instances(
        self, node: str
    ) -> Deferred[tuple[list[dict[str, JSON]], list[dict[str, JSON]]]]:
        raise NotImplementedError

    def instance_disks(self, instance_uuid: str) -> Deferred[list[dict[str, JSON]]]:
        raise NotImplementedError

    def data_collectors(self) -> Mapping[str, bool] | None:
        return None

    def enabled_hypervisors(self) -> list[str] | None:
        return None

    def collector_intervals(self) -> Mapping[str, float] | None:
        return None


def make_context(
    tmp_path: Path, cluster: FakeCluster | None, options: dict[str, str] | None = None
) -> AgentContext:
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    settings = CollectorSettings(options=options or {})
    return AgentContext(
        Clock(),
        FakeRunner(),
        GanetiPaths(data_dir=str(tmp_path / "lib"), run_dir=str(run_dir)),
        "node1.example.com",
        lambda _: settings,
        cluster,
    )


def daemon(context: AgentContext, name: str) -> GanetiDaemonCollector:
    return GanetiDaemonCollector(context, SPECS[name], RoleTracker(context))


def collect(collector: GanetiDaemonCollector | AgentDaemonCollector) -> Any:
    results: list[Any] = []
    d = collector.collect()
    if isinstance(d, Deferred):
        d.addCallback(results.append)
    else:
        results.append(d)
    assert results, "collect did not finish"
    return results[0]


def status(data: Any) -> tuple[int, str]:
    return data["status"]["code"], data["status"]["message"]


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose program is ``ganeti-noded``, as Ganeti's noded script."""
    with sleeping_program(tmp_path, "ganeti-noded") as process:
        yield process


def write_pid(context: AgentContext, program: str, content: str) -> Path:
    path = Path(context.paths.run_dir) / f"{program}.pid"
    path.write_text(content)
    return path


def test_running_daemon_reports_its_usage(
    tmp_path: Path, stand_in: subprocess.Popen[bytes]
) -> None:
    context = make_context(tmp_path, FakeCluster(REGULAR))
    write_pid(context, "ganeti-noded", f"{stand_in.pid}\n")
    collector = daemon(context, "noded")
    assert collector.available()
    data = collect(collector)
    assert status(data) == (0, "")
    assert data["daemon"] == "ganeti-noded"
    assert data["pid"] == stand_in.pid
    assert data["size_unit"] == "B"
    assert isinstance(data["memory"], int) and data["memory"] > 0
    assert isinstance(data["uptime"], int) and 0 <= data["uptime"] < 60
    assert isinstance(data["cpu_usage"], float) and data["cpu_usage"] >= 0
    assert data["threads"] >= 1
    assert list(data)[-1] == "status"


def test_dead_daemon_with_stale_pid_file_is_bad_where_required(
    tmp_path: Path, stand_in: subprocess.Popen[bytes]
) -> None:
    context = make_context(tmp_path, FakeCluster(MASTER))
    write_pid(context, "ganeti-noded", str(stand_in.pid))
    stand_in.kill()
    stand_in.wait()
    data = collect(daemon(context, "noded"))
    assert status(data) == (4, f"not running: pid {stand_in.pid} is not running (stale pid file)")
    assert (data["pid"], data["memory"], data["uptime"], data["cpu_usage"]) == (None,) * 4


def test_zombie_daemon_is_not_running(tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
    context = make_context(tmp_path, FakeCluster(MASTER))
    write_pid(context, "ganeti-noded", str(stand_in.pid))
    stand_in.kill()
    for _ in range(200):
        if psutil.Process(stand_in.pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.01)
    assert status(collect(daemon(context, "noded"))) == (
        4,
        f"not running: pid {stand_in.pid} is a zombie (the daemon exited)",
    )


def test_pid_file_naming_a_foreign_process(tmp_path: Path) -> None:
    context = make_context(tmp_path, FakeCluster(MASTER))
    write_pid(context, "ganeti-confd", str(os.getpid()))
    code, message = status(collect(daemon(context, "confd")))
    assert code == 4
    assert message.startswith(f"not running: pid {os.getpid()} is ")
    assert message.endswith("not ganeti-confd (stale pid file)")


@pytest.mark.parametrize(
    ("content", "message"),
    [("garbage\n", "does not hold a pid: 'garbage'"), ("", "does not hold a pid"), ("-1", "")],
)
def test_unreadable_pid_files_are_unknown(tmp_path: Path, content: str, message: str) -> None:
    context = make_context(tmp_path, FakeCluster(MASTER))
    path = write_pid(context, "ganeti-noded", content)
    code, text = status(collect(daemon(context, "noded")))
    assert code == 2
    assert text.startswith(f"pid file {path} does not hold a pid")
    assert message in text


def test_pid_file_that_cannot_be_read(tmp_path: Path) -> None:
    context = make_context(tmp_path, FakeCluster(MASTER))
    (Path(context.paths.run_dir) / "ganeti-noded.pid").mkdir()
    code, message = status(collect(daemon(context, "noded")))
    assert code == 2
    assert message.startswith("cannot read pid file ")


def test_role_decides_what_must_run(tmp_path: Path) -> None:
    master = make_context(tmp_path, FakeCluster(MASTER))
    code, message = status(collect(daemon(master, "wconfd")))
    assert (code, message) == (
        4,
        f"not running: no pid file {master.paths.run_dir}/ganeti-wconfd.pid",
    )
    assert daemon(master, "wconfd").available()

    regular = make_context(tmp_path, FakeCluster(REGULAR))
    assert not daemon(regular, "wconfd").available()
    assert daemon(regular, "noded").available()
    assert not daemon(regular, "confd").available()
    assert status(collect(daemon(regular, "wconfd"))) == (
        0,
        f"not running (no pid file {regular.paths.run_dir}/ganeti-wconfd.pid); "
        "not needed on a regular node",
    )
    assert daemon(make_context(tmp_path, FakeCluster(CANDIDATE)), "confd").available()
    assert not daemon(make_context(tmp_path, FakeCluster(OFFLINE)), "noded").available()


def test_unknown_role_is_unknown_status(tmp_path: Path) -> None:
    context = make_context(tmp_path, FakeCluster(ClusterUnavailable("no config.data")))
    collector = daemon(context, "noded")
    assert not collector.available()
    code, message = status(collect(collector))
    assert code == 2
    assert message.endswith("node role of node1.example.com unknown: no config.data")


def test_a_silent_cluster_is_given_up_on(tmp_path: Path) -> None:
    context = make_context(tmp_path, FakeCluster(Deferred()))
    results: list[Any] = []
    collecting = daemon(context, "noded").collect()
    assert isinstance(collecting, Deferred)
    collecting.addCallback(results.append)
    assert not results
    assert isinstance(context.clock, Clock)
    context.clock.advance(5)
    assert status(results[0])[0] == 2
    assert "no answer about the node's role within 5 s" in status(results[0])[1]


def test_role_is_asked_once_and_shared(tmp_path: Path) -> None:
    cluster = FakeCluster(MASTER)
    context = make_context(tmp_path, cluster)
    built = list(collectors(context))
    for collector in built:
        collector.available()
    assert cluster.asked == ["node1.example.com"]
    assert isinstance(context.clock, Clock)
    context.clock.advance(31)
    built[0].available()
    assert len(cluster.asked) == 2


def test_on_demand_daemons_follow_their_pid_file(
    tmp_path: Path, stand_in: subprocess.Popen[bytes]
) -> None:
    context = make_context(tmp_path, FakeCluster(MASTER))
    metad = daemon(context, "metad")
    assert not metad.available()
    assert status(collect(metad)) == (
        0,
        f"not running (no pid file {context.paths.run_dir}/ganeti-metad.pid); "
        "started only when needed",
    )
    write_pid(context, "ganeti-metad", str(stand_in.pid))
    assert metad.available()
    assert status(collect(metad))[0] == 4


def test_required_option(tmp_path: Path) -> None:
    forced = make_context(tmp_path, FakeCluster(REGULAR), {"required": "yes"})
    assert daemon(forced, "kvmd").available()
    assert status(collect(daemon(forced, "kvmd")))[0] == 4
    relaxed = make_context(tmp_path, FakeCluster(MASTER), {"required": "no"})
    assert status(collect(daemon(relaxed, "noded")))[0] == 0
    broken = make_context(tmp_path, FakeCluster(MASTER), {"required": "maybe"})
    misconfigured = daemon(broken, "noded")
    assert misconfigured.available()
    reported = ManagedCollector(misconfigured, Clock(), lambda: 1.0).report()
    data: list[Any] = []
    reported.addCallback(lambda report: data.append(report.report.data))
    assert status(data[0]) == (2, "[collector:daemon-noded] required: expected auto, yes or no")


def test_custom_pid_file(tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
    path = tmp_path / "elsewhere.pid"
    path.write_text(str(stand_in.pid))
    context = make_context(tmp_path, FakeCluster(REGULAR), {"pid-file": str(path)})
    assert collect(daemon(context, "noded"))["pid"] == stand_in.pid


def test_without_a_cluster_only_the_agent_is_listed(tmp_path: Path) -> None:
    context = make_context(tmp_path, None)
    listed = [c.name for c in collectors(context) if c.available()]
    assert listed == ["daemon-ganeti-agent"]
    data = collect(AgentDaemonCollector(context))
    assert status(data) == (0, "")
    assert data["daemon"] == "ganeti-agent"
    assert data["pid"] == os.getpid()


def test_collector_names_and_registry(tmp_path: Path) -> None:
    context = make_context(tmp_path, FakeCluster(MASTER))
    names = [c.name for c in build_collectors(context, ("hypervisor", "node", "daemons"))]
    assert names == [
        "hypervisor-xen",
        "hypervisor-kvm",
        "node",
        "daemon-noded",
        "daemon-confd",
        "daemon-wconfd",
        "daemon-luxid",
        "daemon-rapi",
        "daemon-mond",
        "daemon-kvmd",
        "daemon-metad",
        "daemon-ganeti-agent",
    ]


def test_errors_never_escape_and_spare_other_collectors(tmp_path: Path) -> None:
    class Exploding(FakeCluster):
        def node_role(self, node: str) -> Deferred[int]:
            raise RuntimeError("confd client bug")

    context = make_context(tmp_path, Exploding(MASTER))
    clock = Clock()
    built = list(collectors(context))
    managed = CollectorSet(built, clock, lambda: 1.0)
    names = [m.name for m in managed.active()]
    assert names == ["daemon-ganeti-agent"]
    gathered: list[list[Any]] = []
    managed.reports(managed.managed).addCallback(
        lambda reports: gathered.append([r.report.data for r in reports])
    )
    noded, *_, agent = gathered[0]
    assert status(noded)[0] == 2
    assert "confd client bug" in status(noded)[1]
    assert status(agent) == (0, "")


def test_cpu_meter() -> None:
    meter = CpuMeter()
    assert meter.percent() == 0.0
    meter.sample(10, 100.0, 5.0, 110.0)
    assert meter.percent() == 50.0 and meter.knows(10, 100.0) and not meter.knows(10, 99.0)
    meter.sample(10, 100.0, 6.0, 112.0)
    assert meter.percent() == meter.percent() == 50.0
    meter.sample(11, 111.0, 1.0, 112.0)
    assert meter.percent() == 100.0
    meter.sample(11, 111.0, 1.0, 112.0)
    assert meter.percent() == 100.0
    meter.sample(12, 112.0, 0.0, 112.0)
    assert meter.percent() == 0.0


def test_cpu_usage_covers_the_last_sampling_interval(tmp_path: Path) -> None:
    """However many scrapers ask, cpu_usage is the usage between the last two samples."""
    readings = iter([10.0, 12.0])
    latest = [0.0]

    def cpu_seconds(_process: psutil.Process) -> float:
        latest[0] = next(readings, latest[0])
        return latest[0]

    now = [psutil.Process().create_time() + 100.0]
    clock = Clock()
    collector = AgentDaemonCollector(make_context(tmp_path, None))
    collector.probe.wall_clock = lambda: now[0]
    collector.probe.cpu_seconds = cpu_seconds
    managed = ManagedCollector(collector, clock, lambda: 1.0)
    managed.start()
    now[0] += 4.0
    clock.advance(collector.settings.interval)
    seen: list[Any] = []
    for _scraper in range(3):
        managed.report().addCallback(lambda r: seen.append(r.report.data))
        now[0] += 1.0
        clock.advance(collector.settings.cache)
    managed.stop()
    assert [data["cpu_usage"] for data in seen] == [50.0] * 3
    assert seen[0]["cpu_seconds"] == 12.0


def test_roles_are_numbered_as_confd_answers_them(tmp_path: Path) -> None:
    """confd's NODE_ROLE_BYNAME: 2 is offline (nothing required), 4 regular (noded)."""
    assert not daemon(make_context(tmp_path, FakeCluster(2)), "noded").available()
    assert daemon(make_context(tmp_path, FakeCluster(4)), "noded").available()
