"""Prometheus ``file_sd`` targets for every node of a Ganeti cluster, from config.data.

One Prometheus then finds every agent of the cluster: the targets are the nodes'
names (or primary/secondary addresses) on the agent's port, labelled with the
cluster, node, node group and role, so alerts can treat the master, candidates and
drained nodes differently. Roles follow confd's NODE_ROLE rules exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from ganeti_agent.confd.answers import node_role
from ganeti_agent.confd.config import ClusterConfig, Node
from ganeti_agent.confd.constants import NodeRole
from ganeti_agent.core.jsontypes import JSON, JSONObject, expect_int

AddressKind = Literal["name", "primary-ip", "secondary-ip"]
ADDRESS_KINDS: tuple[AddressKind, ...] = ("name", "primary-ip", "secondary-ip")
DEFAULT_PORT = 1815


def role_of(config: ClusterConfig, node: Node) -> str:
    """``master``, ``candidate``, ``regular``, ``drained`` or ``offline``."""
    answer = node_role(config, node.name).answer
    try:
        return NodeRole(expect_int(answer, "node role")).name.lower()
    except ValueError:  # JSONShapeError included: an error text instead of a role
        return "unknown"


def _raw_node(config: ClusterConfig, node: Node) -> Mapping[str, JSON]:
    nodes = config.raw.get("nodes")
    raw = nodes.get(node.uuid) if isinstance(nodes, Mapping) else None
    return raw if isinstance(raw, Mapping) else {}


def group_name(config: ClusterConfig, node: Node) -> str:
    """The name of the node's group; its UUID if the group is not in the configuration."""
    group = _raw_node(config, node).get("group")
    groups = config.raw.get("nodegroups")
    entry = groups.get(group) if isinstance(groups, Mapping) and isinstance(group, str) else None
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        return str(entry["name"])
    return str(group) if group is not None else ""


def cluster_name(config: ClusterConfig) -> str:
    cluster = config.raw.get("cluster")
    name = cluster.get("cluster_name") if isinstance(cluster, Mapping) else None
    return name if isinstance(name, str) else ""


def address_of(config: ClusterConfig, node: Node, kind: AddressKind) -> str:
    if kind == "name":
        return node.name
    if kind == "primary-ip":
        return node.primary_ip
    secondary = _raw_node(config, node).get("secondary_ip")
    return secondary if isinstance(secondary, str) and secondary else node.primary_ip


def host_port(host: str, port: int) -> str:
    """``host:port``, with IPv6 addresses in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def file_sd_targets(
    config: ClusterConfig,
    port: int = DEFAULT_PORT,
    address: AddressKind = "name",
    include_offline: bool = False,
) -> list[dict[str, JSON]]:
    """One target group per node, sorted by node name; offline nodes only if asked."""
    groups: list[dict[str, JSON]] = []
    cluster = cluster_name(config)
    for node in sorted(config.nodes.values(), key=lambda n: n.name):
        role = role_of(config, node)
        if role == "offline" and not include_offline:
            continue
        labels: JSONObject = {
            "ganeti_cluster": cluster,
            "ganeti_node": node.name,
            "ganeti_node_group": group_name(config, node),
            "ganeti_node_role": role,
        }
        target = host_port(address_of(config, node, address), port)
        groups.append({"targets": [target], "labels": labels})
    return groups
