"""A real agent exports raw counters on /metrics: CPU seconds of the node and of daemons,
and its confd's request and drop counts, in an exposition promtool accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ganeti_agent.confd.constants import RequestType
from tests.faults.support import RunningAgent, eventually, running_agent, write_cluster

pytestmark = pytest.mark.e2e

KEY = b"raw-counters-key-0123456789abcdef"


def series(agent: RunningAgent) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = agent.get("/metrics")
    assert status == 200, body
    found = {}
    for metric in text_string_to_metric_families(body.decode()):
        for sample in metric.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_counters_are_exported_and_promtool_accepts_them(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write_cluster(tmp_path / "data", KEY)
    with running_agent(tmp_path, "[agent]\nnode-name = vm\n", confd=True) as agent:
        assert eventually(lambda: agent.confd(KEY, RequestType.PING)) is not None
        agent.send_datagram(b"plj0 forged", timeout=0.2, stop_at_first=False)
        found = series(agent)
        assert found[("ganeti_confd_requests_total", (("type", "PING"),))] >= 1
        assert found[("ganeti_confd_dropped_total", (("reason", "bad-envelope"),))] >= 1
        assert found[("ganeti_confd_config_loaded", ())] == 1.0
        user = found[("ganeti_node_cpu_seconds_total", (("cpu", "0"), ("mode", "user")))]
        assert user > 0
        agent_cpu = ("ganeti_daemon_cpu_seconds_total", (("daemon", "ganeti-agent"),))
        assert found[agent_cpu] > 0
        if shutil.which("promtool") is not None:
            _status, body = agent.get("/metrics")
            checked = subprocess.run(
                ["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60,
                check=False,
            )  # fmt: skip
            assert checked.returncode == 0, checked.stdout + checked.stderr
