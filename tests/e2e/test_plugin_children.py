"""Plugins that leave children behind, under a real ``twistd ganeti-agent``.

A plugin that starts a background child and exits at once (``sleep 1300 & report``)
must be judged by its own exit, must not keep the pipes (the child holds them) open
in the agent, and must not leave the child running. Stopping the agent must not leave
a plugin child behind either, even one that ignores SIGTERM.

Every child a test starts carries a marker in its environment, so leftovers are found
(and cleaned up) by marker, whoever their parent is by then.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.faults.support import RunningAgent, eventually, running_agent, stand_in

pytestmark = pytest.mark.e2e

RUNS = 100
WARM_UP_RUNS = 5
#: Pipes of a run in flight when the fds are counted, plus an HTTP connection.
FD_SLACK = 4
REPORT = {
    "name": "lingering",
    "version": "1.0",
    "format_version": 1,
    "category": None,
    "kind": 1,
    "data": {"status": {"code": 0, "message": "all fine"}},
}


def marked(marker: str) -> list[psutil.Process]:
    """Live processes whose environment carries ``marker`` (zombies do not count)."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get("AGENT_TEST_MARKER") == marker:
                found.append(process)
    return found


@contextlib.contextmanager
def marker_cleaned_up() -> Iterator[str]:
    """A fresh marker; whatever still carries it at the end is killed."""
    marker = uuid.uuid4().hex
    try:
        yield marker
    finally:
        for process in marked(marker):
            with contextlib.suppress(psutil.Error):
                process.kill()


def runs(counter: Path) -> int:
    try:
        return len(counter.read_text().splitlines())
    except FileNotFoundError:
        return 0


def plugin_leaving_a_child(counter: Path, marker: str, runs_with_child: int) -> str:
    """A plugin that starts ``sleep 1300`` in the background, prints a report, exits 0.

    It leaves the child only on its first ``runs_with_child`` runs, so that the end
    state (fds, children) can be observed with no such run in flight.
    """
    return (
        f"echo run >> {counter}\n"
        f'if [ "$(wc -l < {counter})" -le {runs_with_child} ]; then\n'
        f"  AGENT_TEST_MARKER={marker} sleep 1300 &\n"
        "fi\n"
        f"echo '{json.dumps(REPORT)}'\n"
        "exit 0\n"
    )


@dataclass
class Lingering:
    agent: RunningAgent
    #: ``lingering`` leaves a child on every run; a timeout of 30 s would show.
    lingering_marker: str
    #: ``frequent`` runs every 0.05 s with a 0.5 s timeout and leaves ``RUNS`` children.
    frequent_marker: str
    frequent_runs: Path


@pytest.fixture(scope="module")
def lingering(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lingering]:
    home = tmp_path_factory.mktemp("plugin-children")
    plugins = home / "plugins"
    plugins.mkdir()
    with marker_cleaned_up() as lingering_marker, marker_cleaned_up() as frequent_marker:
        stand_in(
            plugins / "lingering.sh",
            plugin_leaving_a_child(home / "lingering-runs", lingering_marker, 10**9),
        )
        stand_in(
            plugins / "frequent.sh",
            plugin_leaving_a_child(home / "frequent-runs", frequent_marker, RUNS),
        )
        config = (
            f"[collector:plugins]\ndirectory = {plugins}\n"
            "[collector:lingering]\ninterval = 1\ntimeout = 30\n"
            "[collector:frequent]\ninterval = 0.05\ntimeout = 0.5\n"
        )
        with running_agent(home, config) as agent:
            yield Lingering(agent, lingering_marker, frequent_marker, home / "frequent-runs")


def test_the_report_is_the_plugins_own(lingering: Lingering) -> None:
    """The plugin exited 0 with a valid report: that is the report, not "timed out"."""
    seen: list[object] = []

    def plugins_own() -> bool:
        seen.append(lingering.agent.report("default", "lingering")["data"])
        return seen[-1] == REPORT["data"]

    try:
        eventually(plugins_own)
    except AssertionError:
        pytest.fail(f"the last report was {seen[-1]}")


def test_no_fd_and_no_child_outlives_a_run(lingering: Lingering) -> None:
    agent = psutil.Process(lingering.agent.process.pid)
    eventually(lambda: runs(lingering.frequent_runs) >= WARM_UP_RUNS, timeout=30)
    fds_early = agent.num_fds()
    eventually(lambda: runs(lingering.frequent_runs) > RUNS, timeout=300)
    eventually(lambda: marked(lingering.frequent_marker) == [], timeout=30)
    fds_after = agent.num_fds()
    assert fds_after <= fds_early + FD_SLACK, (fds_early, fds_after)
    assert lingering.agent.process.poll() is None


def test_stopping_the_agent_ends_a_plugin_child_that_ignores_term(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    with marker_cleaned_up() as marker:
        stand_in(
            plugins / "stubborn",
            f'[ -n "$AGENT_TEST_MARKER" ] || exec env AGENT_TEST_MARKER={marker} "$0"\n'
            "trap '' TERM\nsleep 1300 &\nsleep 1300\n",
        )
        config = (
            f"[collector:plugins]\ndirectory = {plugins}\n[collector:stubborn]\ntimeout = 600\n"
        )
        with running_agent(tmp_path, config) as agent:
            eventually(lambda: len(marked(marker)) >= 3 or None)
        assert agent.process.returncode is not None
        assert eventually(lambda: marked(marker) == [] or None, timeout=10)
