"""The answer to each of confd's 12 request types, as ganeti-confd 3.0.2 gives it.

Pure functions of (configuration, request): spec/confd.md sections 4 and 8 record the
real daemon's answers, error strings included, and the tests replay that table.
Objects from the configuration (instances, disks, whatever CONFIG_QUERY reaches) go
out as the real daemon re-serialises them (:mod:`ganeti_agent.confd.serialise`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from ganeti_agent.confd import serialise
from ganeti_agent.confd.config import ClusterConfig, JSONObject, Node
from ganeti_agent.confd.constants import (
    ErrorCode,
    NodeRole,
    ReplyStatus,
    RequestField,
    RequestType,
)
from ganeti_agent.confd.protocol import DictQuery, Query, Reply, Request
from ganeti_agent.core.jsontypes import JSON

NOT_YET_LOADED = "Configuration not yet loaded"
_INDEX = re.compile(r"[0-9]+\Z")
_FIELD_NAMES = {
    RequestField.NAME: "ReqFieldName",
    RequestField.IP: "ReqFieldIp",
    RequestField.MNODE_PIP: "ReqFieldMNodePip",
}


@dataclass(frozen=True)
class ConfigStatus:
    """What the server answers from: a configuration, or why there is none."""

    config: ClusterConfig | None
    error: str = NOT_YET_LOADED


def error(answer: JSON) -> Reply:
    return Reply(ReplyStatus.ERROR, answer, 0)


def _show_string(value: str | None) -> str:
    return "Nothing" if value is None else f"Just {json.dumps(value)}"


def show_query(query: Query) -> str:
    """The query as Haskell's ``show`` prints it in 3.0.2's error strings."""
    if query is None:
        return "EmptyQuery"
    if isinstance(query, str):
        return f"PlainQuery {json.dumps(query)}"
    ip_list = "[" + ",".join(json.dumps(ip) for ip in query.ip_list) + "]"
    fields = "[" + ",".join(_FIELD_NAMES[f] for f in query.fields) + "]"
    return (
        f"DictQuery (ConfdReqQ {{confdReqQIp = {_show_string(query.ip)}, "
        f"confdReqQIpList = {ip_list}, confdReqQLink = {_show_string(query.link)}, "
        f"confdReqQFields = {fields}}})"
    )


def invalid_query(query: Query) -> Reply:
    return error(f"Invalid query type {show_query(query)}")


def no_node(query: str) -> str:
    return f'OpPrereqError "Node name {query} not found" ECodeNoEnt'


def ping(config: ClusterConfig, query: Query) -> Reply:
    return Reply(ReplyStatus.OK, config.version, 0)


def node_role(config: ClusterConfig, query: Query) -> Reply:
    if not isinstance(query, str):
        return invalid_query(query)
    node = config.find_node(query)
    if node is None:
        return error(
            "Failure: prerequisites not met for this operation:\n"
            f"error type: ECodeNoEnt, error details:\nNode name {query} not found"
        )
    master = config.master
    if master is not None and query == master.name:
        role = NodeRole.MASTER
    elif node.drained:
        role = NodeRole.DRAINED
    elif node.offline:
        role = NodeRole.OFFLINE
    elif node.master_candidate:
        role = NodeRole.CANDIDATE
    else:
        role = NodeRole.REGULAR
    return Reply(ReplyStatus.OK, int(role), config.serial)


def _pip_of_instance_ip(config: ClusterConfig, link: str | None, ip: str) -> str | None:
    if link is None:
        return None
    instance_name = config.ips_by_link.get(link, {}).get(ip)
    instance = config.instance_names.get(instance_name) if instance_name is not None else None
    if instance is None:
        return None
    node = config.nodes.get(instance.primary_node)
    return node.primary_ip if node is not None else None


def node_pip_by_instance_ip(config: ClusterConfig, query: Query) -> Reply:
    if not isinstance(query, DictQuery):
        return error(int(ErrorCode.ARGUMENT))
    link = query.link if query.link is not None else config.default_link
    if query.ip is not None:
        pip = _pip_of_instance_ip(config, link, query.ip)
        if pip is None:
            return error(int(ErrorCode.UNKNOWN_ENTRY))
        return Reply(ReplyStatus.OK, pip, config.serial)
    triples: list[JSON] = []
    for ip in query.ip_list:
        pip = _pip_of_instance_ip(config, link, ip)
        found: list[JSON] = [0, pip, config.serial]
        triples.append(found if pip is not None else [1, int(ErrorCode.UNKNOWN_ENTRY), 0])
    return Reply(ReplyStatus.OK, triples, config.serial)


def _master_field(config: ClusterConfig, master: Node, selector: RequestField) -> str:
    if selector is RequestField.NAME:
        return master.name
    if selector is RequestField.IP:
        return config.master_ip
    return master.primary_ip


def cluster_master(config: ClusterConfig, query: Query) -> Reply:
    master = config.master
    if isinstance(query, str):
        return error(int(ErrorCode.ARGUMENT))
    if master is None:
        return error(f"Master node {config.master_uuid} not found in the configuration")
    if query is None:
        return Reply(ReplyStatus.OK, master.name, config.serial)
    values: list[JSON] = [_master_field(config, master, f) for f in query.fields]
    return Reply(ReplyStatus.OK, values, config.serial)


def node_pip_list(config: ClusterConfig, query: Query) -> Reply:
    return Reply(ReplyStatus.OK, list(config.node_pips), config.serial)


def mc_pip_list(config: ClusterConfig, query: Query) -> Reply:
    return Reply(ReplyStatus.OK, list(config.mc_pips), config.serial)


def instances_ips_list(config: ClusterConfig, query: Query) -> Reply:
    if isinstance(query, DictQuery):
        return error("Invalid query type")
    link = config.default_link if query is None else query
    ips: list[JSON] = [*sorted(config.ips_by_link.get(link, {}))] if link is not None else []
    return Reply(ReplyStatus.OK, ips, config.serial)


def node_drbd(config: ClusterConfig, query: Query) -> Reply:
    if not isinstance(query, str):
        return invalid_query(query)
    node = config.find_node(query)
    if node is None:
        return error(no_node(query))
    rows: list[JSON] = list(config.drbd_by_node.get(node.uuid, []))
    return Reply(ReplyStatus.OK, rows, node.serial)


def node_instances(config: ClusterConfig, query: Query) -> Reply:
    if not isinstance(query, str):
        return invalid_query(query)
    node = config.find_node(query)
    if node is None:
        return error(f"Node not found in the configuration: {no_node(query)}")
    primaries: list[JSON] = [serialise.instance(raw) for raw in config.primaries.get(node.uuid, [])]
    secondaries: list[JSON] = [
        serialise.instance(raw) for raw in config.secondaries.get(node.uuid, [])
    ]
    return Reply(ReplyStatus.OK, [primaries, secondaries], node.serial)


def instance_disks(config: ClusterConfig, query: Query) -> Reply:
    if not isinstance(query, str):
        return invalid_query(query)
    instance = config.find_instance(query)
    if instance is None:
        return error(
            "Instance not found in the configuration: "
            f'OpPrereqError "Instance name {query} not found" ECodeNoEnt'
        )
    disks: list[JSON] = [serialise.disk(raw) for raw in instance.disks]
    return Reply(ReplyStatus.OK, disks, instance.serial)


def pointer_tokens(pointer: str) -> list[str]:
    """The reference tokens of an RFC 6901 pointer; ``KeyError`` when it is not one."""
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def descend(value: JSON, tokens: list[str]) -> JSON:
    """Follow ``tokens`` from ``value`` as confd does; ``KeyError`` when nothing is there."""
    for token in tokens:
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and _INDEX.match(token) and int(token) < len(value):
            value = value[int(token)]
        else:
            raise KeyError(token)
    return value


def resolve_pointer(document: JSON, pointer: str) -> JSON:
    """RFC 6901 evaluation as confd does it; ``KeyError`` when nothing is there."""
    return descend(document, pointer_tokens(pointer))


def resolve_sent(raw: JSONObject, pointer: str) -> JSON:
    """What ``pointer`` finds in the configuration as ganeti-confd re-serialises it.

    Only the table member or top-level entry on the way is re-serialised, not the
    whole file, so a query costs what the object it reaches costs.
    """
    first, *rest = pointer_tokens(pointer)
    if first not in raw:
        raise KeyError(first)
    entry = raw[first]
    if first in serialise.TABLES and rest and isinstance(entry, dict):
        member = descend(entry, rest[:1])
        return descend(serialise.table_member(first, member), rest[1:])
    return descend(serialise.top_level(first, entry), rest)


def config_query(config: ClusterConfig, query: Query) -> Reply:
    if not isinstance(query, str):
        return invalid_query(query)
    try:
        value = resolve_sent(config.raw, query)
    except KeyError:
        return error(int(ErrorCode.ARGUMENT))
    return Reply(ReplyStatus.OK, value, config.serial)


def data_collectors(config: ClusterConfig, query: Query) -> Reply:
    return Reply(ReplyStatus.OK, dict(config.collectors), config.serial)


Answerer = Callable[[ClusterConfig, Query], Reply]

ANSWERERS: dict[RequestType, Answerer] = {
    RequestType.PING: ping,
    RequestType.NODE_ROLE_BYNAME: node_role,
    RequestType.NODE_PIP_BY_INSTANCE_IP: node_pip_by_instance_ip,
    RequestType.CLUSTER_MASTER: cluster_master,
    RequestType.NODE_PIP_LIST: node_pip_list,
    RequestType.MC_PIP_LIST: mc_pip_list,
    RequestType.INSTANCES_IPS_LIST: instances_ips_list,
    RequestType.NODE_DRBD: node_drbd,
    RequestType.NODE_INSTANCES: node_instances,
    RequestType.INSTANCE_DISKS: instance_disks,
    RequestType.CONFIG_QUERY: config_query,
    RequestType.DATA_COLLECTORS: data_collectors,
}


def answer(status: ConfigStatus, request: Request) -> Reply:
    """The reply to an authenticated request; without a configuration, the reason."""
    if status.config is None:
        return error(status.error)
    return ANSWERERS[request.type](status.config, request.query)
