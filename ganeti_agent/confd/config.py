"""The cluster configuration (``config.data``) and the indexes confd answers from.

Parsing is pure: text in, :class:`ClusterConfig` out, or :class:`ConfigError` with the
reason. Every index an answer needs is built once per load, so a query costs a dict
lookup (spec/confd.md section 4). Ganeti 2.16 and 3.0 files are accepted, with disks
either in the top-level ``disks`` table (referenced by UUID) or inline in instances.

:func:`load_steps` does the same work in small steps (one ``yield`` every
:data:`STEP_ITEMS` instances, disks or nodes), so the agent can interleave a large
file's parsing with serving: CPython's JSON decoder holds the GIL, so a thread would
not help, but decoding the big tables member by member with the same C decoder costs
almost nothing more. JSON that is not plain data (``NaN``, ``Infinity``, numbers too
large for a double, nesting deeper than Python's recursion limit) is a ``ConfigError``
like any other malformed file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from json.decoder import JSONDecodeError
from typing import TypeVar

from ganeti_agent.core.jsontypes import JSON

#: mond's six collectors, the only ones confd reports on (spec/monitoring.md 6.2).
DATA_COLLECTORS = (
    "cpu-avg-load",
    "diskstats",
    "drbd",
    "inst-status-xen",
    "lv",
    "xen-cpu-avg-load",
)
DEFAULT_COLLECTOR_INTERVAL = 5_000_000
XEN_HYPERVISORS = frozenset({"xen-pvm", "xen-hvm"})

#: How a collector's ``active`` flag may be spelled by hand (Ganeti itself writes bools).
ACTIVE_WORDS = {"true": True, "yes": True, "on": True, "1": True}
ACTIVE_WORDS |= {"false": False, "no": False, "off": False, "0": False}
#: Table members (or instances indexed) between two yields of :func:`load_steps`.
STEP_ITEMS = 200

JSONObject = dict[str, JSON]
T = TypeVar("T")
Steps = Generator[None, None, T]


class ConfigError(ValueError):
    """``config.data`` cannot be used; the message says why."""


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ConfigError(f"Malformed JSON: number out of range: {literal[:40]}")
    return value


def _no_constant(literal: str) -> object:
    raise ConfigError(f"Malformed JSON: {literal} is not a JSON number")


#: The C string scanner the decoder itself uses (typeshed does not declare it).
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)
_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class Node:
    uuid: str
    name: str
    primary_ip: str
    master_candidate: bool
    drained: bool
    offline: bool
    serial: int


@dataclass(frozen=True)
class Instance:
    uuid: str
    name: str
    primary_node: str
    serial: int
    disks: tuple[JSONObject, ...]
    raw: JSONObject


@dataclass
class ClusterConfig:
    """A loaded configuration and its indexes."""

    raw: JSONObject
    version: int
    serial: int
    master_uuid: str
    master_ip: str
    default_link: str | None
    nodes: dict[str, Node]
    instances: dict[str, Instance]
    node_names: dict[str, Node] = field(default_factory=dict)
    instance_names: dict[str, Instance] = field(default_factory=dict)
    ips_by_link: dict[str, dict[str, str]] = field(default_factory=dict)
    drbd_by_node: dict[str, list[list[JSON]]] = field(default_factory=dict)
    primaries: dict[str, list[JSONObject]] = field(default_factory=dict)
    secondaries: dict[str, list[JSONObject]] = field(default_factory=dict)
    node_pips: list[str] = field(default_factory=list)
    mc_pips: list[str] = field(default_factory=list)
    collectors: JSONObject = field(default_factory=dict)
    hypervisors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def master(self) -> Node | None:
        return self.nodes.get(self.master_uuid)

    def find_node(self, query: str) -> Node | None:
        """Ganeti's lookup: UUID, exact name, else a unique ``query + "."`` prefix."""
        return _find(query, self.nodes, self.node_names)

    def find_instance(self, query: str) -> Instance | None:
        return _find(query, self.instances, self.instance_names)

    def node_name(self, uuid: str) -> str:
        node = self.nodes.get(uuid)
        return node.name if node is not None else uuid


def _find(query: str, by_uuid: Mapping[str, T], by_name: Mapping[str, T]) -> T | None:
    found = by_uuid.get(query)
    if found is None:
        found = by_name.get(query)
    if found is not None:
        return found
    prefix = query + "."
    matches = [item for name, item in by_name.items() if name.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


def _object(value: object, where: str) -> JSONObject:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object")
    return value


def _string(obj: Mapping[str, JSON], key: str, where: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: key {key!r} missing or not a string")
    return value


def _int(obj: Mapping[str, JSON], key: str, where: str, default: int | None = None) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: key {key!r} missing or not a number")
    return int(value)


def _node(uuid: str, raw: object) -> Node:
    where = f"nodes/{uuid}"
    obj = _object(raw, where)
    return Node(
        uuid=_string(obj, "uuid", where, uuid),
        name=_string(obj, "name", where),
        primary_ip=_string(obj, "primary_ip", where),
        master_candidate=bool(obj.get("master_candidate", False)),
        drained=bool(obj.get("drained", False)),
        offline=bool(obj.get("offline", False)),
        serial=_int(obj, "serial_no", where, 0),
    )


def _instance(uuid: str, raw: object, disks: Mapping[str, JSON]) -> Instance:
    where = f"instances/{uuid}"
    obj = _object(raw, where)
    disk_list = obj.get("disks", [])
    if not isinstance(disk_list, list):
        raise ConfigError(f"{where}: 'disks' is not a list")
    resolved: list[JSONObject] = []
    for entry in disk_list:
        if isinstance(entry, str):
            if entry not in disks:
                raise ConfigError(f"{where}: unknown disk {entry}")
            resolved.append(_object(disks[entry], f"disks/{entry}"))
        else:
            resolved.append(_object(entry, f"{where}/disks"))
    name = obj.get("name")
    return Instance(
        uuid=_string(obj, "uuid", where, uuid),
        name=name if isinstance(name, str) else uuid,
        primary_node=_string(obj, "primary_node", where),
        serial=_int(obj, "serial_no", where, 0),
        disks=tuple(resolved),
        raw=obj,
    )


def _drbd_ends(disk: Mapping[str, JSON]) -> tuple[str, str, int, int] | None:
    """``(node_a, node_b, minor_a, minor_b)`` of a DRBD disk, None for other types."""
    if disk.get("dev_type") not in ("drbd", "drbd8"):
        return None
    logical = disk.get("logical_id")
    if not isinstance(logical, list) or len(logical) < 5:
        raise ConfigError("DRBD disk with a malformed logical_id")
    node_a, node_b, _port, minor_a, minor_b = logical[:5]
    if not (isinstance(node_a, str) and isinstance(node_b, str)):
        raise ConfigError("DRBD disk with a malformed logical_id")
    if not (isinstance(minor_a, int | float) and isinstance(minor_b, int | float)):
        raise ConfigError("DRBD disk with a malformed logical_id")
    return node_a, node_b, int(minor_a), int(minor_b)


def _walk(disk: JSONObject) -> Iterator[JSONObject]:
    """A disk and, recursively, its children."""
    yield disk
    children = disk.get("children") or []
    if isinstance(children, list):
        for child in children:
            if isinstance(child, dict):
                yield from _walk(child)


def _index_drbd(config: ClusterConfig) -> Steps[None]:
    for count, instance in enumerate(config.instances.values(), 1):
        if count % STEP_ITEMS == 0:
            yield
        for index, top in enumerate(instance.disks):
            for disk in _walk(top):
                ends = _drbd_ends(disk)
                if ends is None:
                    continue
                node_a, node_b, minor_a, minor_b = ends
                for node, peer, minor in ((node_a, node_b, minor_a), (node_b, node_a, minor_b)):
                    role = "primary" if instance.primary_node == node else "secondary"
                    row: list[JSON] = [
                        config.node_name(node),
                        minor,
                        instance.name,
                        f"disk/{index}",
                        role,
                        config.node_name(peer),
                    ]
                    config.drbd_by_node.setdefault(node, []).append(row)


def _secondary_nodes(instance: Instance) -> list[str]:
    """Nodes at the other end of the instance's top-level DRBD disks."""
    found: list[str] = []
    for disk in instance.disks:
        ends = _drbd_ends(disk)
        if ends is None:
            continue
        node_a, node_b, _, _ = ends
        other = node_b if node_a == instance.primary_node else node_a
        if other not in found:
            found.append(other)
    return found


def _index_instances(config: ClusterConfig, nicparams_default: str | None) -> Steps[None]:
    for count, instance in enumerate(config.instances.values(), 1):
        if count % STEP_ITEMS == 0:
            yield
        config.primaries.setdefault(instance.primary_node, []).append(instance.raw)
        for node in _secondary_nodes(instance):
            config.secondaries.setdefault(node, []).append(instance.raw)
        nics = instance.raw.get("nics") or []
        for nic in nics if isinstance(nics, list) else []:
            if not isinstance(nic, dict) or not isinstance(nic.get("ip"), str):
                continue
            params = nic.get("nicparams")
            link = params.get("link") if isinstance(params, dict) else None
            link = link if isinstance(link, str) else nicparams_default
            if link is not None:
                config.ips_by_link.setdefault(link, {})[str(nic["ip"])] = instance.name


def _active(value: JSON, name: str, warnings: list[str]) -> bool:
    """A collector's ``active`` flag: a JSON bool, or a word such as "no" written by hand.

    Anything else keeps Ganeti's default (active) and is reported once per load.
    """
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else str(value)
    if isinstance(value, str | int) and word in ACTIVE_WORDS:
        return ACTIVE_WORDS[word]
    shown = json.dumps(value)[:40]
    warnings.append(f"data_collectors/{name}/active is {shown}, not a boolean: treated as true")
    return True


def _collectors(
    cluster: Mapping[str, JSON], hypervisors: list[str], warnings: list[str]
) -> JSONObject:
    configured = cluster.get("data_collectors")
    configured = configured if isinstance(configured, dict) else {}
    xen = bool(XEN_HYPERVISORS & set(hypervisors))
    answer: JSONObject = {}
    for name in DATA_COLLECTORS:
        entry = configured.get(name)
        entry = entry if isinstance(entry, dict) else {}
        active = _active(entry.get("active", True), name, warnings)
        interval = entry.get("interval", DEFAULT_COLLECTOR_INTERVAL)
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            interval = DEFAULT_COLLECTOR_INTERVAL
        active = active and (name != "inst-status-xen" or xen)
        answer[name] = {"active": active, "interval": int(interval)}
    return answer


def _default_link(cluster: Mapping[str, JSON]) -> str | None:
    nicparams = cluster.get("nicparams")
    default = nicparams.get("default") if isinstance(nicparams, dict) else None
    link = default.get("link") if isinstance(default, dict) else None
    return link if isinstance(link, str) else None


def _instances(raw: JSONObject, disks: Mapping[str, JSON]) -> Steps[dict[str, Instance]]:
    instances: dict[str, Instance] = {}
    for count, uuid in enumerate(sorted(raw), 1):
        if count % STEP_ITEMS == 0:
            yield
        instances[uuid] = _instance(uuid, raw[uuid], disks)
    return instances


def build_config(raw: object) -> ClusterConfig:
    """Index a decoded configuration; raises ``ConfigError`` when it is not usable."""
    return run_steps(build_steps(raw))


def build_steps(raw: object) -> Steps[ClusterConfig]:
    """:func:`build_config` in steps, yielding every :data:`STEP_ITEMS` instances."""
    top = _object(raw, "configuration")
    cluster = _object(top.get("cluster"), "cluster")
    disks = top.get("disks", {})
    disks = disks if isinstance(disks, dict) else {}
    nodes = {uuid: _node(uuid, node) for uuid, node in _object(top.get("nodes"), "nodes").items()}
    instances = yield from _instances(_object(top.get("instances"), "instances"), disks)
    hypervisors = cluster.get("enabled_hypervisors")
    hypervisor_list = [str(h) for h in hypervisors] if isinstance(hypervisors, list) else []
    default_link = _default_link(cluster)
    config = ClusterConfig(
        raw=top,
        version=_int(top, "version", "configuration"),
        serial=_int(cluster, "serial_no", "cluster"),
        master_uuid=_string(cluster, "master_node", "cluster"),
        master_ip=_string(cluster, "master_ip", "cluster"),
        default_link=default_link,
        nodes=nodes,
        instances=instances,
        hypervisors=hypervisor_list,
    )
    config.node_names = {node.name: node for node in nodes.values()}
    config.instance_names = {instance.name: instance for instance in instances.values()}
    by_uuid_desc = [nodes[uuid] for uuid in sorted(nodes, reverse=True)]
    config.node_pips = [node.primary_ip for node in by_uuid_desc]
    config.mc_pips = [node.primary_ip for node in by_uuid_desc if node.master_candidate]
    config.collectors = _collectors(cluster, hypervisor_list, config.warnings)
    yield from _index_drbd(config)
    yield from _index_instances(config, default_link)
    return config


def run_steps(steps: Steps[T]) -> T:
    """Run stepwise work to its end at once."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def parse_config(text: str | bytes) -> ClusterConfig:
    """Decode and index ``config.data``; a JSON or schema problem is a ``ConfigError``."""
    return run_steps(load_steps(text))


def load_steps(text: str | bytes) -> Steps[ClusterConfig]:
    """:func:`parse_config` in steps: decoding, then indexing, a table slice at a time.

    Whatever the input, the only exception that leaves is ``ConfigError``: recursion
    too deep for Python (deep nesting, or DRBD children nested without end) included.
    """
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        del text  # the caller may have let go of it: the bytes are freed here
        raw = yield from decode_steps(decoded)
        del decoded  # and the text once decoded, before the indexes are built
    except RecursionError:
        raise ConfigError("Malformed JSON: nested too deeply") from None
    except ConfigError:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ConfigError(f"Malformed JSON: {exc}") from None
    try:
        return (yield from build_steps(raw))
    except RecursionError:
        raise ConfigError("configuration: disks nested too deeply") from None


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return index if match is None else match.end()


def decode_steps(text: str) -> Steps[object]:
    """The JSON document in ``text``: an object's tables member by member, else at once."""
    index = _skip(text, 0)
    if text.startswith("{", index):
        value, index = yield from _object_steps(text, index, 2)
    else:
        value, index = _DECODER.raw_decode(text, index)
    index = _skip(text, index)
    if index != len(text):
        raise JSONDecodeError("Extra data", text, index)
    return value


def _object_steps(text: str, index: int, levels: int) -> Steps[tuple[JSONObject, int]]:
    """The object starting at ``text[index]``; members ``levels`` deep decoded one by one.

    Returns the object and the index after its closing brace, as ``raw_decode`` does.
    """
    result: JSONObject = {}
    index = _skip(text, index + 1)
    if text.startswith("}", index):
        return result, index + 1
    for count in range(1, len(text)):
        if not text.startswith('"', index):
            raise JSONDecodeError("Expecting property name enclosed in double quotes", text, index)
        key, index = scanstring(text, index + 1)
        index = _skip(text, index)
        if not text.startswith(":", index):
            raise JSONDecodeError("Expecting ':' delimiter", text, index)
        index = _skip(text, index + 1)
        value: JSON
        if levels > 1 and text.startswith("{", index):
            value, index = yield from _object_steps(text, index, levels - 1)
        else:
            value, index = _DECODER.raw_decode(text, index)
        result[key] = value
        if count % STEP_ITEMS == 0:
            yield
        index = _skip(text, index)
        if text.startswith("}", index):
            return result, index + 1
        if not text.startswith(",", index):
            raise JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)
    raise JSONDecodeError("Unterminated object", text, index)
