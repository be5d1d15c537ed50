"""Plugin collectors: real executables written by the test, run by the real executor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from twisted.internet import reactor as global_reactor

from ganeti_agent.collectors import plugins
from ganeti_agent.collectors.plugins import NOT_RUN_YET, PluginCollector, discover, plugin_name
from ganeti_agent.core.executor import ProcessRunner
from ganeti_agent.core.framework import (
    AgentContext,
    CollectedReport,
    Collector,
    CollectorSet,
    CollectorSettings,
    Enablement,
    ManagedCollector,
)
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.core.settings import parse_settings, unknown_entries
from tests.support import async_test

reactor: Any = global_reactor
GOOD = {
    "name": "raid",
    "version": "1.0",
    "format_version": 1,
    "category": "storage",
    "kind": 1,
    "data": {"status": {"code": 1, "message": "rebuilding md0"}, "degraded": 1},
}


def plugin(directory: Path, file_name: str, body: str) -> Path:
    path = directory / file_name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def prints(report: object) -> str:
    return f"cat <<'EOF'\n{json.dumps(report)}\nEOF\n"


def context(directory: Path, timeout: float = 5.0) -> AgentContext:
    def settings(name: str) -> CollectorSettings:
        options = {"directory": str(directory)} if name == "plugins" else {}
        return CollectorSettings(timeout=timeout, options=options)

    return AgentContext(
        clock=reactor,
        runner=ProcessRunner(reactor, reactor),
        paths=GanetiPaths(),
        hostname="node1",
        settings=settings,
    )


async def sampled_report(collector: PluginCollector) -> CollectedReport:
    managed = ManagedCollector(collector, reactor, lambda: 1.0e9)
    await managed._sample_once()
    return await managed.report()


@pytest.mark.parametrize(
    ("file_name", "name"),
    [
        ("raid.sh", "raid"),
        ("check-md", "check-md"),
        ("disk_temp.py", "disk_temp"),
        (".hidden", None),
        ("raid.sh~", None),
        ("raid.dpkg-old", None),
        ("raid.disabled", None),
        ("bad name.sh", None),
    ],
)
def test_plugin_names_come_from_file_names(file_name: str, name: str | None) -> None:
    assert plugin_name(file_name) == name


def test_discovery_keeps_executables_only(tmp_path: Path) -> None:
    plugin(tmp_path, "b.sh", "true")
    plugin(tmp_path, "a", "true")
    plugin(tmp_path, "a.py", "true")
    (tmp_path / "notes.txt").write_text("not a plugin")
    (tmp_path / "sub").mkdir()
    assert discover(str(tmp_path)) == [("a", str(tmp_path / "a")), ("b", str(tmp_path / "b.sh"))]
    assert discover(str(tmp_path / "missing")) == []


def test_the_module_makes_one_collector_per_plugin(tmp_path: Path) -> None:
    plugin(tmp_path, "raid.sh", "true")
    made = list(plugins.collectors(context(tmp_path)))
    assert [c.name for c in made] == ["raid"]
    assert made[0].stateful


def test_plugins_can_be_switched_off(tmp_path: Path) -> None:
    plugin(tmp_path, "raid.sh", "true")
    ctx = context(tmp_path)
    ctx.settings = lambda name: CollectorSettings(
        enabled=Enablement.NO, options={"directory": str(tmp_path)}
    )
    assert list(plugins.collectors(ctx)) == []


@async_test
async def test_a_valid_report_becomes_the_collectors_report(tmp_path: Path) -> None:
    path = plugin(tmp_path, "raid.sh", prints(GOOD))
    collector = PluginCollector(context(tmp_path), "raid", str(path))
    report = await sampled_report(collector)
    assert report.success
    assert report.report.category is Category.STORAGE
    assert report.report.kind is Kind.STATUS
    assert report.report.data == GOOD["data"]


@async_test
async def test_a_performance_plugin_keeps_its_kind(tmp_path: Path) -> None:
    performance = {
        **GOOD,
        "name": "temp",
        "kind": 0,
        "category": None,
        "data": {"temperature": 41.5},
    }
    path = plugin(tmp_path, "temp", prints(performance))
    report = await sampled_report(PluginCollector(context(tmp_path), "temp", str(path)))
    assert report.report.kind is Kind.PERFORMANCE
    assert report.report.category is None
    assert report.report.data == {"temperature": 41.5}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("echo 'all good'", "output is not one JSON object"),
        (prints({**GOOD, "kind": 5}), "kind must be 0 (performance) or 1 (status)"),
        (prints({**GOOD, "name": "other"}), "does not match the plugin's name 'raid'"),
        ("echo broken >&2; exit 3", "exited with status 3: broken"),
        ("kill -KILL $$", "killed by signal SIGKILL"),
    ],
)
@async_test
async def test_anything_else_is_status_2_with_the_reason(
    tmp_path: Path, body: str, message: str
) -> None:
    path = plugin(tmp_path, "raid.sh", body)
    report = await sampled_report(PluginCollector(context(tmp_path), "raid", str(path)))
    assert not report.success
    assert report.report.kind is Kind.STATUS
    status: Any = cast(Any, report.report.data)["status"]
    assert status["code"] == 2
    assert message in status["message"]


@async_test
async def test_a_hanging_plugin_times_out(tmp_path: Path) -> None:
    path = plugin(tmp_path, "slow", "exec sleep 30")
    collector = PluginCollector(context(tmp_path, timeout=0.3), "slow", str(path))
    report = await sampled_report(collector)
    assert cast(Any, report.report.data)["status"]["code"] == 2
    assert "timed out after 0.3 s" in cast(Any, report.report.data)["status"]["message"]


@async_test
async def test_a_failure_replaces_the_last_good_report(tmp_path: Path) -> None:
    path = plugin(tmp_path, "raid.sh", prints(GOOD))
    collector = PluginCollector(context(tmp_path), "raid", str(path))
    managed = ManagedCollector(collector, reactor, lambda: 1.0e9)
    await managed._sample_once()
    assert (await managed.report()).success
    plugin(tmp_path, "raid.sh", "exit 1")
    await managed._sample_once()
    report = await managed.report()
    assert cast(Any, report.report.data)["status"]["code"] == 2
    assert report.report.category is Category.STORAGE


@async_test
async def test_before_the_first_run_the_report_says_so(tmp_path: Path) -> None:
    path = plugin(tmp_path, "raid.sh", prints(GOOD))
    collector = PluginCollector(context(tmp_path), "raid", str(path))
    collectors = CollectorSet([collector], reactor, lambda: 1.0e9)
    report = await collectors.managed[0].report()
    assert report.report.data == {"status": {"code": 2, "message": NOT_RUN_YET}}


@async_test
async def test_the_envelope_keeps_the_plugins_version_and_format_version(
    tmp_path: Path,
) -> None:
    """Ganeti's design reserves version "B" for built-in collectors."""
    own = {**GOOD, "version": "raid-2.3", "format_version": 7}
    path = plugin(tmp_path, "raid.sh", prints(own))
    report = await sampled_report(PluginCollector(context(tmp_path), "raid", str(path)))
    envelope = json.loads(report.encoded)
    assert (envelope["version"], envelope["format_version"]) == ("raid-2.3", 7)


def test_the_number_of_plugins_is_capped(tmp_path: Path) -> None:
    for index in range(4):
        plugin(tmp_path, f"p{index}", "true")
    found = plugins.scan(str(tmp_path), limit=3)
    assert [name for name, _ in found.plugins] == ["p0", "p1", "p2"]
    assert found.notes == [f"ignoring {tmp_path / 'p3'}: more than 3 plugins in {tmp_path}"]
    assert plugins.MAX_PLUGINS == 100


def test_a_rescan_adds_new_plugins_and_drops_removed_ones(tmp_path: Path) -> None:
    plugin(tmp_path, "raid.sh", "true")
    ctx = context(tmp_path)
    served = CollectorSet(plugins.collectors(ctx), reactor, lambda: 1.0e9)
    rescan = plugins.PluginRescan(ctx, served, str(tmp_path))
    plugin(tmp_path, "temp.py", "true")
    rescan()
    assert [m.name for m in served.managed] == ["raid", "temp"]
    (tmp_path / "raid.sh").unlink()
    rescan()
    assert [m.name for m in served.managed] == ["temp"]
    assert served.get("raid") is None


def test_a_new_plugin_is_sampled_once_the_set_runs(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    served = CollectorSet([], reactor, lambda: 1.0e9)
    served.start()
    try:
        plugin(tmp_path, "temp.py", "true")
        plugins.PluginRescan(ctx, served, str(tmp_path))()
        managed = served.get("temp")
        assert managed is not None and managed._loop is not None
    finally:
        served.stop()


def test_a_rescan_leaves_a_built_in_collector_alone(tmp_path: Path) -> None:
    class BuiltIn(Collector):
        name = "node"

    ctx = context(tmp_path)
    built_in = BuiltIn(ctx)
    served = CollectorSet([built_in], reactor, lambda: 1.0e9)
    plugin(tmp_path, "node.sh", "true")
    rescan = plugins.PluginRescan(ctx, served, str(tmp_path))
    rescan()
    rescan()
    managed = served.get("node")
    assert managed is not None and managed.collector is built_in


def test_a_plugin_that_appears_later_takes_its_section_of_the_configuration(
    tmp_path: Path,
) -> None:
    text = f"[collector:plugins]\ndirectory = {tmp_path}\n[collector:raidwatch]\ntimeout = 7\n"
    agent_settings = parse_settings(text, "agent.conf")
    ctx = AgentContext(
        clock=reactor,
        runner=ProcessRunner(reactor, reactor),
        paths=GanetiPaths(),
        hostname="node1",
        settings=agent_settings.collector,
    )
    served = CollectorSet(plugins.collectors(ctx), reactor, lambda: 1.0e9)
    assert unknown_entries(agent_settings, [m.name for m in served.managed]) == [
        "agent.conf: [collector:raidwatch]: no collector of that name now,"
        " kept for a plugin named raidwatch"
    ]
    plugin(tmp_path, "raidwatch.sh", "true")
    plugins.PluginRescan(ctx, served, str(tmp_path))()
    managed = served.get("raidwatch")
    assert managed is not None and managed.settings.timeout == 7.0
