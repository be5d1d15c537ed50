"""A real agent samples on the cluster's data-collector intervals unless its file says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.support import eventually, running_agent, write_cluster, write_config

pytestmark = pytest.mark.e2e

KEY = b"interval-test-key-0123456789abcd"
#: Starting to sample, and looking at the cluster's intervals again, may take this long.
WITHIN = 60.0


def test_cluster_interval_is_used_and_the_file_overrides_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    config = write_cluster(tmp_path / "data", KEY)
    config["cluster"]["data_collectors"] = {
        "cpu-avg-load": {"active": True, "interval": 60_000_000},
        "xen-cpu-avg-load": {"active": True, "interval": 30_000_000},
    }
    write_config(tmp_path / "data", config)
    agent_conf = "[collector:xen-cpu-avg-load]\ninterval = 2\n"
    with running_agent(tmp_path, agent_conf) as agent:
        eventually(lambda: "sampling cpu-avg-load every 60 s (cluster)" in agent.log_text(), WITHIN)
        assert "sampling xen-cpu-avg-load every 2 s (configuration file)" in agent.log_text()
        config["cluster"]["data_collectors"]["cpu-avg-load"]["interval"] = 20_000_000
        config["cluster"]["serial_no"] += 1
        write_config(tmp_path / "data", config)
        eventually(lambda: "sampling cpu-avg-load every 20 s (cluster)" in agent.log_text(), WITHIN)
