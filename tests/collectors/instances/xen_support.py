"""Helpers of the Xen collector tests: a node with a stand-in toolstack and a fake cluster."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, succeed

from ganeti_agent.core.cluster import ClusterUnavailable
from ganeti_agent.core.executor import ProcessRunner
from ganeti_agent.core.framework import AgentContext, CollectorSettings
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from tests.cli.xen_golden_cases import install_standin


class StaticCluster:
    """Answers NODE_INSTANCES with fixed primaries; ``None`` means confd is unreachable.

    ``hypervisors`` are the cluster's enabled hypervisors (None: not known).
    """

    def __init__(
        self, primaries: list[dict[str, JSON]] | None, hypervisors: list[str] | None = None
    ) -> None:
        self.primaries = primaries
        self.hypervisors = hypervisors

    def node_instances(
        self, node: str
    ) -> Deferred[tuple[list[dict[str, JSON]], list[dict[str, JSON]]]]:
        if self.primaries is None:
            return fail(ClusterUnavailable("No answer from the Confd server"))
        return succeed((list(self.primaries), []))

    def data_collectors(self) -> Mapping[str, bool] | None:
        return None

    def enabled_hypervisors(self) -> list[str] | None:
        return self.hypervisors

    def collector_intervals(self) -> Mapping[str, float] | None:
        return None

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def xen_node(
    tmp_path: Path,
    replay: dict[str, str],
    commands: tuple[str, ...] = ("xl",),
    primaries: list[dict[str, JSON]] | None = None,
    options: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> AgentContext:
    """A context whose runner finds only the stand-in ``commands`` replaying ``replay``."""
    bin_dir, replay_dir = tmp_path / "bin", tmp_path / "replay"
    bin_dir.mkdir(parents=True, exist_ok=True)
    replay_dir.mkdir(parents=True, exist_ok=True)
    for command in commands:
        install_standin(bin_dir, replay_dir, command)
    for name, text in replay.items():
        (replay_dir / name).write_text(text)
    runner = ProcessRunner(reactor, reactor, search_path=f"{bin_dir}:/usr/bin:/bin")
    back_to_back = {"hung-check-delay": "0"}  # the replay, not the clock, moves CPU time
    settings = CollectorSettings(
        timeout=timeout, options=back_to_back if options is None else options
    )
    return AgentContext(
        clock=reactor,
        runner=runner,
        paths=GanetiPaths(data_dir=str(tmp_path / "lib"), run_dir=str(tmp_path / "run")),
        hostname="node1.example.com",
        settings=lambda _name: settings,
        cluster=StaticCluster(primaries),
        proc_root=str(tmp_path / "proc"),
    )


INSTANCE1: dict[str, JSON] = {
    "name": "instance1.example.com",
    "uuid": "6c078d22-3eb6-4780-857d-81772e09eef1",
    "admin_state": "up",
    "mtime": 1363620320.874901,
}
