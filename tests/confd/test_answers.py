"""Every request type against the real daemon's recorded answers (spec/confd.md section 8)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from ganeti_agent.confd.answers import ConfigStatus, answer, resolve_pointer
from ganeti_agent.confd.config import ClusterConfig, ConfigError, build_config, parse_config
from ganeti_agent.confd.constants import RequestType as T
from ganeti_agent.confd.protocol import Reply, Request, parse_query
from tests.confd.support import (
    INSTANCE3_UUID,
    MASTER_UUID,
    NODE3_UUID,
    load_sample,
    section8_config,
)

NOT_FOUND = (
    "Failure: prerequisites not met for this operation:\n"
    "error type: ECodeNoEnt, error details:\nNode name {} not found"
)
DRBD_NODE1 = [
    ["node1.example.com", 0, "instance1.example.com", "disk/0", "primary", "node3.example.com"]
]
DRBD_NODE3 = [
    ["node3.example.com", 0, "instance1.example.com", "disk/0", "secondary", "node1.example.com"]
]
ALL_COLLECTORS = {
    name: {"active": True, "interval": 5000000}
    for name in ("cpu-avg-load", "diskstats", "drbd", "inst-status-xen", "lv", "xen-cpu-avg-load")
}
NO_ENT = 'OpPrereqError "{} name {} not found" ECodeNoEnt'

# (type, query, status, answer, serial), as recorded from ganeti-confd 3.0.2
TABLE: list[tuple[T, Any, int, Any, int]] = [
    (T.PING, None, 0, 3000000, 0),
    (T.PING, "anything", 0, 3000000, 0),
    (T.CLUSTER_MASTER, None, 0, "node1.example.com", 3189),
    (T.CLUSTER_MASTER, {"3": [2, 0]}, 0, ["192.0.2.82", "node1.example.com"], 3189),
    (
        T.CLUSTER_MASTER,
        {"3": [0, 1, 2]},
        0,
        ["node1.example.com", "192.0.2.87", "192.0.2.82"],
        3189,
    ),
    (T.CLUSTER_MASTER, {}, 0, [], 3189),
    (T.CLUSTER_MASTER, {"3": None}, 0, [], 3189),
    (T.CLUSTER_MASTER, "x", 1, 2, 0),
    (T.NODE_ROLE_BYNAME, "node1.example.com", 0, 0, 3189),
    (T.NODE_ROLE_BYNAME, "node1", 0, 1, 3189),
    (T.NODE_ROLE_BYNAME, MASTER_UUID, 0, 1, 3189),
    (T.NODE_ROLE_BYNAME, "vm", 0, 1, 3189),
    (T.NODE_ROLE_BYNAME, "node2.example.com", 0, 1, 3189),
    (T.NODE_ROLE_BYNAME, "node4", 0, 3, 3189),
    (T.NODE_ROLE_BYNAME, "node5", 0, 2, 3189),
    (T.NODE_ROLE_BYNAME, "node6", 0, 4, 3189),
    (
        T.NODE_ROLE_BYNAME,
        "nosuchnode.example.com",
        1,
        NOT_FOUND.format("nosuchnode.example.com"),
        0,
    ),
    (T.NODE_ROLE_BYNAME, "node", 1, NOT_FOUND.format("node"), 0),
    (T.NODE_ROLE_BYNAME, None, 1, "Invalid query type EmptyQuery", 0),
    (
        T.NODE_ROLE_BYNAME,
        {"1": "x"},
        1,
        'Invalid query type DictQuery (ConfdReqQ {confdReqQIp = Just "x", confdReqQIpList = [], '
        "confdReqQLink = Nothing, confdReqQFields = []})",
        0,
    ),
    (T.NODE_PIP_BY_INSTANCE_IP, {"1": "198.51.100.11"}, 0, "192.0.2.82", 3189),
    (T.NODE_PIP_BY_INSTANCE_IP, {"1": "10.9.9.9"}, 1, 0, 0),
    (T.NODE_PIP_BY_INSTANCE_IP, {"1": "203.0.113.11"}, 1, 0, 0),
    (T.NODE_PIP_BY_INSTANCE_IP, {"1": "203.0.113.11", "0": "br100"}, 0, "192.0.2.82", 3189),
    (
        T.NODE_PIP_BY_INSTANCE_IP,
        {"2": ["198.51.100.11", "10.9.9.9", "198.51.100.12"]},
        0,
        [[0, "192.0.2.82", 3189], [1, 0, 0], [0, "192.0.2.84", 3189]],
        3189,
    ),
    (
        T.NODE_PIP_BY_INSTANCE_IP,
        {"1": "198.51.100.12", "2": ["198.51.100.11"]},
        0,
        "192.0.2.84",
        3189,
    ),
    (
        T.NODE_PIP_BY_INSTANCE_IP,
        {"1": None, "2": ["198.51.100.11"]},
        0,
        [[0, "192.0.2.82", 3189]],
        3189,
    ),
    (T.NODE_PIP_BY_INSTANCE_IP, {}, 0, [], 3189),
    (T.NODE_PIP_BY_INSTANCE_IP, {"0": "br100"}, 0, [], 3189),
    (T.NODE_PIP_BY_INSTANCE_IP, {"2": None}, 0, [], 3189),
    (T.NODE_PIP_BY_INSTANCE_IP, None, 1, 2, 0),
    (T.NODE_PIP_BY_INSTANCE_IP, "198.51.100.11", 1, 2, 0),
    (
        T.NODE_PIP_LIST,
        "ignored",
        0,
        [
            "192.0.2.82",
            "192.0.2.84",
            "192.0.2.83",
            "192.0.2.88",
            "192.0.2.86",
            "192.0.2.85",
            "127.0.0.1",
        ],
        3189,
    ),
    (T.MC_PIP_LIST, None, 0, ["192.0.2.82", "192.0.2.84", "192.0.2.83", "127.0.0.1"], 3189),
    (T.INSTANCES_IPS_LIST, None, 0, ["198.51.100.11", "198.51.100.12"], 3189),
    (T.INSTANCES_IPS_LIST, "br100", 0, ["203.0.113.11"], 3189),
    (T.INSTANCES_IPS_LIST, "nosuchlink", 0, [], 3189),
    (T.INSTANCES_IPS_LIST, {}, 1, "Invalid query type", 0),
    (T.NODE_DRBD, "node1.example.com", 0, DRBD_NODE1, 197),
    (T.NODE_DRBD, "node3.example.com", 0, DRBD_NODE3, 2),
    (T.NODE_DRBD, "node3", 0, DRBD_NODE3, 2),
    (T.NODE_DRBD, NODE3_UUID, 0, DRBD_NODE3, 2),
    (T.NODE_DRBD, "node2.example.com", 0, [], 6),
    (T.NODE_DRBD, "nosuchnode", 1, NO_ENT.format("Node", "nosuchnode"), 0),
    (T.NODE_DRBD, None, 1, "Invalid query type EmptyQuery", 0),
    (T.NODE_INSTANCES, "vm", 0, [[], []], 5),
    (
        T.NODE_INSTANCES,
        "nosuchnode",
        1,
        "Node not found in the configuration: " + NO_ENT.format("Node", "nosuchnode"),
        0,
    ),
    (
        T.INSTANCE_DISKS,
        "nosuchinstance",
        1,
        "Instance not found in the configuration: " + NO_ENT.format("Instance", "nosuchinstance"),
        0,
    ),
    (T.CONFIG_QUERY, "/cluster/cluster_name", 0, "cluster.name.example.com", 3189),
    (T.CONFIG_QUERY, f"/nodes/{MASTER_UUID}/primary_ip", 0, "192.0.2.82", 3189),
    (T.CONFIG_QUERY, "/serial_no", 0, 7627, 3189),
    (T.CONFIG_QUERY, "/cluster/enabled_hypervisors/0", 0, "xen-pvm", 3189),
    (T.CONFIG_QUERY, "/cluster/nonexistent", 1, 2, 0),
    (T.CONFIG_QUERY, "cluster", 1, 2, 0),
    (T.CONFIG_QUERY, "/", 1, 2, 0),
    (T.CONFIG_QUERY, "", 1, 2, 0),
    (T.CONFIG_QUERY, "/cluster/", 1, 2, 0),
    (T.CONFIG_QUERY, "/cluster/enabled_hypervisors/-1", 1, 2, 0),
    (T.CONFIG_QUERY, "/cluster/enabled_hypervisors/5", 1, 2, 0),
    (T.CONFIG_QUERY, "/cluster/cluster_name/x", 1, 2, 0),
    (T.CONFIG_QUERY, None, 1, "Invalid query type EmptyQuery", 0),
    (T.DATA_COLLECTORS, None, 0, ALL_COLLECTORS, 3189),
]


@pytest.fixture(scope="module", params=["cluster_config_3.0.json", "cluster_config_2.16.json"])
def sample(request: pytest.FixtureRequest) -> tuple[str, ClusterConfig]:
    return request.param, build_config(section8_config(load_sample(request.param)))


def ask(config: ClusterConfig, rtype: T, query: Any) -> Reply:
    return answer(ConfigStatus(config), Request(rtype, parse_query(query), "salt"))


@pytest.mark.parametrize(("rtype", "query", "status", "expected", "serial"), TABLE)
def test_recorded_answers(
    sample: tuple[str, ClusterConfig], rtype: T, query: Any, status: int, expected: Any, serial: int
) -> None:
    name, config = sample
    if rtype is T.PING and name.endswith("2.16.json"):
        expected = 2160000
    reply = ask(config, rtype, query)
    assert (reply.status, reply.answer, reply.serial) == (status, expected, serial)


def test_node_instances_objects(sample: tuple[str, ClusterConfig]) -> None:
    _, config = sample
    node1 = ask(config, T.NODE_INSTANCES, "node1.example.com")
    assert node1.serial == 197
    primaries, secondaries = cast(Any, node1.answer)
    assert [i["name"] for i in primaries] == ["instance1.example.com"]
    assert secondaries == []
    node3 = ask(config, T.NODE_INSTANCES, NODE3_UUID)
    assert [[i["name"] for i in group] for group in cast(Any, node3.answer)] == [
        ["instance2.example.com"],
        ["instance1.example.com"],
    ]
    instance1: Any = primaries[0]
    assert instance1["nics"][1]["nicparams"] == {"link": "br100"}


def test_instance_disks(sample: tuple[str, ClusterConfig]) -> None:
    _, config = sample
    drbd = ask(config, T.INSTANCE_DISKS, "instance1")
    assert drbd.serial == 2
    assert isinstance(drbd.answer, list) and len(drbd.answer) == 1
    disk: Any = drbd.answer[0]
    assert isinstance(disk, dict)
    assert disk["dev_type"] == "drbd" and len(disk["children"]) == 2
    plain = ask(config, T.INSTANCE_DISKS, INSTANCE3_UUID)
    assert plain.serial == 4
    assert cast(Any, plain.answer)[0]["logical_id"] == [
        "xenvg",
        "b27a576a-13f7-4f07-885c-63fcad4fdfcc.disk0",
    ]


def test_config_query_secret_and_list(sample: tuple[str, ClusterConfig]) -> None:
    _, config = sample
    reply = ask(config, T.CONFIG_QUERY, "/disks/77ced3a5-6756-49ae-8d1f-274e27664c05/logical_id")
    assert reply.answer == [
        MASTER_UUID,
        NODE3_UUID,
        32100,
        0,
        0,
        "d3c3fd475fcbaf5fd177fb245ac43b71247ada38",
    ]


def test_unmodified_sample_loads_too() -> None:
    """3.0.2 rejects the sample for its UUID-less DRBD children; we do not need to."""
    config = build_config(load_sample("cluster_config_3.0.json"))
    reply = ask(config, T.NODE_DRBD, "node1.example.com")
    assert reply.answer == DRBD_NODE1


def test_inst_status_xen_needs_xen() -> None:
    raw = section8_config(load_sample("cluster_config_3.0.json"))
    raw["cluster"]["enabled_hypervisors"] = ["kvm"]
    raw["cluster"]["data_collectors"]["lv"]["active"] = False
    collectors = ask(build_config(raw), T.DATA_COLLECTORS, None).answer
    assert isinstance(collectors, dict)
    assert collectors["inst-status-xen"] == {"active": False, "interval": 5000000}
    assert collectors["lv"] == {"active": False, "interval": 5000000}
    assert collectors["drbd"] == {"active": True, "interval": 5000000}


def test_no_configuration_answers_status_1() -> None:
    reply = answer(ConfigStatus(None, "Configuration not yet loaded"), Request(T.PING, None, "s"))
    assert reply == Reply(1, "Configuration not yet loaded", 0)


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"cluster": {}}', json.dumps({"version": 1, "cluster": [], "nodes": {}})],
)
def test_unusable_configurations(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(text)


def test_pointer_escapes() -> None:
    assert resolve_pointer({"a/b": {"~": 1}}, "/a~1b/~0") == 1
