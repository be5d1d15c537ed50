"""The iallocator backend (``-I``): the cluster described inside an iallocator request.

Ganeti's ``Backend/IAlloc.hs`` reads the whole request as ``hail`` would
(``parseData``), so a request that ``hail`` refuses stops ``hspace`` and
``hroller`` too, with the same message; then ``loadData`` keeps only the
cluster part. That part has already been through ``mergeData`` and
``updateMissing`` once, and ``loadExternalData`` runs both again: nodes
then count each instance twice, which the real tools show (e.g. a negative
missing disk in the second warning). We keep that on purpose.

``parse_data`` is pure (text in, cluster out); ``read_request_text`` is the
one function here that touches a file.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from ganeti_agent.htools import ghcio
from ganeti_agent.htools import instance as instance_model
from ganeti_agent.htools import node as node_model
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.instance import NO_SECONDARY, Disk, Instance
from ganeti_agent.htools.live import (
    LiveCluster,
    assemble,
    index_by_name,
    read_alloc_policy,
    read_disk_template,
    read_hypervisor,
    read_ipolicy,
)
from ganeti_agent.htools.loader import (
    ClusterData,
    lookup_group,
    lookup_instance,
    lookup_node,
    merge_data,
    update_missing,
)
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.textjson import (
    JSObject,
    JSONError,
    JSValue,
    Reader,
    annotate,
    decode_strict,
    from_obj,
    maybe_from_obj,
    pretty,
    read_bool,
    read_double,
    read_enum,
    read_int,
    read_list,
    read_object,
    read_string,
)
from ganeti_agent.htools.types import DEF_IPOLICY, AllocPolicy, LoadError

T = TypeVar("T")

MAX_REQUEST_BYTES = 256 * 1024 * 1024
"""A larger request is refused with one line instead of filling the memory."""

NIC_MODES = ("bridged", "routed", "openvswitch")
read_evac_mode = read_enum("EvacMode", ("primary-only", "secondary-only", "all"))
_RUN_STATES = {"offline": "ADMIN_offline", "down": "ADMIN_down"}


class RequestError(ValueError):
    """The request is refused; Ganeti's ``readRequest`` prints ``Error: <message>``, exit 1."""


# --- reading the file (the edge) ---------------------------------------------------


def read_request_text(path: str, limit: int = MAX_REQUEST_BYTES) -> str:
    """The request as ``readRequest`` reads it: the file, or standard input for ``-``.

    Errors are ``LoadError`` in the words of GHC's ``IOError`` (Ganeti adds
    ``failed to load data, aborting``); the text must be UTF-8, as GHC
    decodes it in a UTF-8 locale.
    """
    shown = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                raw = handle.read(limit + 1)
    except OSError as error:
        raise LoadError(ghcio.open_error(path, error)) from None
    if len(raw) > limit:
        raise LoadError(f"{shown}: larger than {limit} bytes")
    decoded = ghcio.decode_like_ghc(raw)
    if decoded is None:
        raise LoadError(f"{shown}: hGetContents: invalid argument (invalid byte sequence)")
    return decoded


# --- Ganeti.JSON helpers ---------------------------------------------------------------


def _any(value: JSValue) -> JSValue:
    return value


def _try_from_obj(owner: str, obj: JSObject, key: str, reader: Reader[T]) -> T:
    """``tryFromObj``: ``fromObj`` with the owner in front of its error."""
    return annotate(owner, lambda: from_obj(obj, key, reader))


def _as_object(value: JSValue) -> JSObject:
    """``asJSObject``."""
    if isinstance(value, JSObject):
        return value
    raise JSONError("not an object")


def _objects_in_array(value: JSValue) -> list[JSObject]:
    """``toArray >=> asObjectList``."""
    if not isinstance(value, list):
        raise JSONError(f"Invalid input, expected array but got {pretty(value)}")
    return [_as_object(item) for item in value]


def _either_string(value: JSValue) -> str:
    """``readEitherString``."""
    if isinstance(value, str):
        return value
    raise JSONError("Wrong JSON type")


def _lookup(action: Callable[[], int]) -> int:
    try:
        return action()
    except LoadError as error:
        raise JSONError(str(error)) from None


# --- the cluster part ----------------------------------------------------------------


def _check_nic(inst_name: str, obj: JSObject) -> None:
    """``parseNic``: read for its errors only (hspace and hroller model no NICs)."""
    for key in ("mac", "ip"):
        maybe_from_obj(obj, key, read_string)
    mode = maybe_from_obj(obj, "mode", read_string)
    if mode is not None and mode not in NIC_MODES:
        raise JSONError(f"invalid NIC mode in instance {inst_name}")
    for key in ("link", "bridge", "network"):
        maybe_from_obj(obj, key, read_string)


def _disk_spindles(owner: str, disk: JSObject) -> int | None:
    return annotate(owner, lambda: maybe_from_obj(disk, "spindles", read_int))


def _parse_base_instance(name: str, obj: JSObject) -> Instance:
    """``parseBaseInstance``: what cluster instances and requested ones share."""
    owner = f"invalid data for instance '{name}'"

    def extract(key: str, reader: Reader[T]) -> T:
        return _try_from_obj(owner, obj, key, reader)

    disk = extract("disk_space_total", read_int)
    disk_objects = _objects_in_array(extract("disks", _any))
    sizes = [_try_from_obj(owner, d, "size", read_int) for d in disk_objects]
    spindles = [_disk_spindles(owner, d) for d in disk_objects]
    memory = extract("memory", read_int)
    vcpus = extract("vcpus", read_int)
    tags = extract("tags", read_list(read_string))
    template = extract("disk_template", read_disk_template)
    spindle_use = extract("spindle_use", read_int)
    for nic in _objects_in_array(extract("nics", _any)):
        _check_nic(name, nic)
    try:
        run_state = _RUN_STATES.get(extract("admin_state", read_string), "running")
    except JSONError:
        run_state = "running"
    try:
        forthcoming = extract("forthcoming", read_bool)
    except JSONError:
        forthcoming = False
    disks = tuple(Disk(size, count) for size, count in zip(sizes, spindles, strict=True))
    return instance_model.create(
        name, memory, disk, disks, vcpus, run_state, tuple(tags), True, 0, 0, template,
        spindle_use, forthcoming,
    )  # fmt: skip


def _parse_instance(nodes_by_name: dict[str, int], name: str, obj: JSObject) -> Instance:
    """``parseInstance``: the first of ``nodes`` is the primary, the second the secondary."""
    inst = _parse_base_instance(name, obj)
    node_names = from_obj(obj, "nodes", read_list(_any))
    if not node_names:
        raise JSONError(f"empty node list for instance {name}")
    primary_name = _either_string(node_names[0])
    primary = _lookup(lambda: lookup_node(nodes_by_name, name, primary_name))
    secondary = NO_SECONDARY
    if len(node_names) > 1:
        secondary_name = _either_string(node_names[1])
        secondary = _lookup(lambda: lookup_node(nodes_by_name, name, secondary_name))
    return dataclasses.replace(inst, pnode=primary, snode=secondary)


def _parse_node(groups_by_uuid: dict[str, int], name: str, obj: JSObject) -> Node:
    """``parseNode``: offline or not VM-capable nodes keep zeros for their resources."""
    owner = f"invalid data for node '{name}'"

    def extract(key: str, reader: Reader[T]) -> T:
        return _try_from_obj(owner, obj, key, reader)

    offline = extract("offline", read_bool)
    drained = extract("drained", read_bool)
    group_uuid = extract("group", read_string)
    vm_capable = annotate(owner, lambda: maybe_from_obj(obj, "vm_capable", read_bool))
    group = _lookup(lambda: lookup_group(groups_by_uuid, name, group_uuid))
    ndparams = _as_object(extract("ndparams", _any))
    tags = maybe_from_obj(obj, "tags", read_list(read_string)) or []
    exclusive = _try_from_obj(owner, ndparams, "exclusive_storage", read_bool)
    live = not offline and (vm_capable is None or vm_capable)

    def live_value(key: str, reader: Reader[T], default: T) -> T:
        return extract(key, reader) if live else default

    if exclusive:
        total_spindles = live_value("total_spindles", read_int, 0)
    else:
        total_spindles = _try_from_obj(owner, ndparams, "spindle_count", read_int)
    free_spindles = live_value("free_spindles", read_int, 0)
    total_mem = live_value("total_memory", read_double, 0.0)
    node_mem = live_value("reserved_memory", read_int, 0)
    free_mem = live_value("free_memory", read_int, 0)
    total_disk = live_value("total_disk", read_double, 0.0)
    free_disk = live_value("free_disk", read_int, 0)
    total_cpu = live_value("total_cpus", read_double, 0.0)
    node_cpu = live_value("reserved_cpus", read_int, 0)
    node = node_model.create(
        name, total_mem, node_mem, free_mem, total_disk, free_disk, total_cpu, node_cpu,
        not live or drained, total_spindles, free_spindles, group, exclusive,
    )  # fmt: skip
    node.tags = tuple(tags)
    return node


def _parse_group(uuid: str, obj: JSObject) -> Group:
    owner = f"invalid data for group '{uuid}'"
    name = _try_from_obj(owner, obj, "name", read_string)
    policy = _try_from_obj(owner, obj, "alloc_policy", read_alloc_policy)
    networks = _try_from_obj(owner, obj, "networks", read_list(read_string))
    ipolicy = _try_from_obj(owner, obj, "ipolicy", read_ipolicy)
    tags = _try_from_obj(owner, obj, "tags", read_list(read_string))
    return Group(
        name=name,
        uuid=uuid,
        alloc_policy=AllocPolicy[policy],
        networks=tuple(networks),
        tags=tuple(tags),
        ipolicy=ipolicy,
    )


# --- the request part (checked, then dropped) ---------------------------------------


def _find_by_name(names: Sequence[tuple[str, str]], wanted: str) -> None:
    """``Container.findByName``: exactly one element must answer to the name."""
    if sum(wanted in pair for pair in names) != 1:
        raise JSONError(f"Wrong number of elems found with name {wanted}")


def _check_allocation(request: JSObject, obj: JSObject) -> None:
    """One instance to allocate (``allocate``, or an item of ``multi-allocate``)."""
    name = _try_from_obj("invalid request dict", obj, "name", read_string)
    maybe_from_obj(request, "group_name", read_string)
    if obj is request:
        maybe_from_obj(request, "restrict-to-nodes", read_list(read_string))
    _try_from_obj("invalid request dict", obj, "required_nodes", read_int)
    _parse_base_instance(name, obj)


def _check_request(request: JSObject, data: ClusterData, instances_by_name: dict[str, int]) -> None:
    """The request's own fields, read for the errors ``hail`` would give."""

    def extract(key: str, reader: Reader[T]) -> T:
        return _try_from_obj("invalid request dict", request, key, reader)

    node_names = [(n.name, n.alias) for n in data.nodes]
    inst_names = [(i.name, i.alias) for i in data.instances]
    group_names = [(g.name, g.uuid) for g in data.groups.values()]
    kind = extract("type", read_string)
    if kind == "allocate":
        _check_allocation(request, request)
    elif kind == "relocate":
        name = extract("name", read_string)
        _lookup(lambda: lookup_instance(instances_by_name, name))
        extract("required_nodes", read_int)
        for node in extract("relocate_from", read_list(read_string)):
            _find_by_name(node_names, node)
    elif kind == "change-group":
        for inst in extract("instances", read_list(read_string)):
            _find_by_name(inst_names, inst)
        for group in extract("target_groups", read_list(read_string)):
            _find_by_name(group_names, group)
    elif kind == "node-evacuate":
        for inst in extract("instances", read_list(read_string)):
            _find_by_name(inst_names, inst)
        extract("evac_mode", read_evac_mode)
    elif kind == "multi-allocate":
        for item in extract("instances", read_list(read_object)):
            _check_allocation(request, item)
    elif kind == "allocate-secondary":
        name = extract("name", read_string)
        _lookup(lambda: lookup_instance(instances_by_name, name))
    else:
        raise JSONError(f"Invalid request type '{kind}'")


# --- the whole message -------------------------------------------------------------------


def _parse(text: str) -> tuple[list[str], LiveCluster]:
    try:
        top = read_object(decode_strict(text))
    except JSONError as error:
        raise JSONError(f"Parsing input IAllocator message: {error}") from None

    def extract(key: str, reader: Reader[T]) -> T:
        return _try_from_obj("invalid iallocator message", top, key, reader)

    request = extract("request", read_object)
    groups = [
        (uuid, _parse_group(uuid, _as_object(v)))
        for uuid, v in extract("nodegroups", read_object).pairs
    ]
    groups_by_uuid, _ = index_by_name(groups)
    nodes = [
        (name, _parse_node(groups_by_uuid, name, _as_object(v)))
        for name, v in extract("nodes", read_object).pairs
    ]
    nodes_by_name, node_list = index_by_name(nodes)
    instances = [
        (name, _parse_instance(nodes_by_name, name, _as_object(v)))
        for name, v in extract("instances", read_object).pairs
    ]
    instances_by_name, instance_list = index_by_name(instances)
    cluster_tags = extract("cluster_tags", read_list(read_string))
    hypervisors = extract("enabled_hypervisors", read_list(read_hypervisor))
    data = assemble(
        groups, node_list, instance_list, cluster_tags, DEF_IPOLICY, None, nodes_by_name
    )
    merged = merge_data(data)
    messages, fixed_nodes = update_missing(merged.nodes, merged.instances)
    merged = dataclasses.replace(merged, nodes=fixed_nodes)
    _check_request(request, merged, instances_by_name)
    return messages, LiveCluster(merged, hypervisors[0] if hypervisors else "")


def parse_data(text: str) -> tuple[list[str], LiveCluster]:
    """``parseData`` then ``loadData``: ``updateMissing``'s warnings and the cluster.

    The cluster has been merged once already (see the module text); its
    ``hypervisor`` is the first enabled one (``""`` if none), which decides
    whether ``--static-kvm-node-memory`` applies. ``RequestError`` carries
    Ganeti's message for anything ``hail`` would refuse.
    """
    try:
        return _parse(text)
    except (JSONError, LoadError) as error:
        raise RequestError(str(error)) from None
