"""file_sd targets from a cluster configuration written by the test."""

from __future__ import annotations

import json
from typing import Any

from ganeti_agent.cli.targets import file_sd_targets
from ganeti_agent.confd.config import build_config, parse_config
from tests.support import shared_fixture

GROUP_A, GROUP_B = "g-aaaa", "g-bbbb"


def node(name: str, ip: str, group: str, **flags: Any) -> dict[str, Any]:
    return {
        "name": name, "uuid": "u-" + name, "primary_ip": ip, "secondary_ip": "10" + ip[3:],
        "group": group, "master_candidate": False, "drained": False, "offline": False,
        "serial_no": 1, **flags,
    }  # fmt: skip


def cluster() -> dict[str, Any]:
    nodes = [
        node("alpha.example.org", "192.0.2.1", GROUP_A, master_candidate=True),
        node("bravo.example.org", "192.0.2.2", GROUP_A, master_candidate=True),
        node("charlie.example.org", "192.0.2.3", GROUP_B),
        node("delta.example.org", "192.0.2.4", GROUP_B, drained=True),
        node("echo.example.org", "2001:db8::5", GROUP_B, offline=True),
    ]
    return {
        "version": 3000000,
        "cluster": {"cluster_name": "prod.example.org", "serial_no": 7,
                    "master_node": "u-alpha.example.org", "master_ip": "192.0.2.100"},
        "nodes": {n["uuid"]: n for n in nodes},
        "nodegroups": {GROUP_A: {"name": "rack1"}, GROUP_B: {"name": "rack2"}},
        "instances": {},
    }  # fmt: skip


def test_one_labelled_target_per_online_node() -> None:
    groups: Any = file_sd_targets(build_config(cluster()))
    assert [g["targets"] for g in groups] == [
        ["alpha.example.org:1815"], ["bravo.example.org:1815"], ["charlie.example.org:1815"],
        ["delta.example.org:1815"],
    ]  # fmt: skip
    assert [g["labels"]["ganeti_node_role"] for g in groups] == [
        "master", "candidate", "regular", "drained",
    ]  # fmt: skip
    assert groups[2]["labels"] == {
        "ganeti_cluster": "prod.example.org",
        "ganeti_node": "charlie.example.org",
        "ganeti_node_group": "rack2",
        "ganeti_node_role": "regular",
    }


def test_addresses_ports_and_offline_nodes() -> None:
    config = build_config(cluster())
    groups: Any = file_sd_targets(config, 9100, "primary-ip", include_offline=True)
    assert groups[-1]["targets"] == ["[2001:db8::5]:9100"]
    assert groups[-1]["labels"]["ganeti_node_role"] == "offline"
    secondary = file_sd_targets(config, address="secondary-ip")
    assert secondary[0]["targets"] == ["10.0.2.1:1815"]


def test_a_real_ganeti_configuration() -> None:
    path = shared_fixture("cluster_config_3.0.json")
    groups: Any = file_sd_targets(parse_config(path.read_bytes()), include_offline=True)
    assert len(groups) == len(json.loads(path.read_text())["nodes"])
    assert {g["labels"]["ganeti_node_role"] for g in groups} >= {"master"}
