"""Merging what a backend read into a consistent cluster (Ganeti's ``Loader.hs``)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.haskell_read import ReadError, try_read_double, try_read_int
from ganeti_agent.htools.instance import NO_SECONDARY, Instance
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.types import DEF_IPOLICY, IPolicy, LoadError

EX_TAGS_PREFIX = "htools:iextags:"
DESIRED_LOCATION_PREFIX = "htools:desiredlocation:"
LOCATION_PREFIX = "htools:nlocation:"
MIGRATION_PREFIX = "htools:migration:"
ALLOW_MIGRATION_PREFIX = "htools:allowmigration:"


@dataclass(slots=True)
class ClusterData:
    """Groups, nodes and instances by index, cluster tags and policy."""

    groups: dict[int, Group]
    nodes: list[Node]
    instances: list[Instance]
    tags: list[str] = field(default_factory=list)
    ipolicy: IPolicy = DEF_IPOLICY
    node_index_base: int = 0
    """What Ganeti numbers the first node (1 for simulated clusters); ``-p idx`` prints it."""


def read_int(owner: str, text: str) -> int:
    """``tryRead owner text :: Int`` with Ganeti's error text."""
    try:
        return try_read_int(owner, text)
    except ReadError as error:
        raise LoadError(str(error)) from None


def read_double(owner: str, text: str) -> float:
    """``tryRead owner text :: Double`` with Ganeti's error text."""
    try:
        return try_read_double(owner, text)
    except ReadError as error:
        raise LoadError(str(error)) from None


def sep_split(sep: str, text: str) -> list[str]:
    """Ganeti's ``sepSplit``: an empty string gives no fields at all."""
    if text == "":
        return []
    return text.split(sep)


def comma_split(text: str) -> list[str]:
    return sep_split(",", text)


def longest_domain(names: list[str]) -> str:
    """The longest ``.suffix`` shared by all names (Ganeti's ``longestDomain``)."""
    if not names:
        return ""
    first, rest = names[0], names[1:]
    result = ""
    for pos in range(len(first) - 1, -1, -1):
        suffix = first[pos:]
        if suffix.startswith(".") and all(n.endswith(suffix) for n in rest):
            result = suffix
    return result


def common_suffix(nodes: list[Node], instances: list[Instance]) -> str:
    return longest_domain([n.name for n in nodes] + [i.name for i in instances])


def _alias(name: str, suffix: str) -> str:
    if suffix and name.endswith(suffix):
        return name[: -len(suffix)]
    return name


def _chomp(prefix: str, tags: list[str]) -> list[str]:
    return [t[len(prefix) :] for t in tags if t.startswith(prefix) and len(t) > len(prefix)]


def _prefixed_tags(prefix: str, cluster_tags: list[str], node_tags: tuple[str, ...]) -> set[str]:
    """Tags.hs ``getTags``: node tags under a ``<prefix><name>`` cluster tag's ``<name>:``."""
    names = [t[len(prefix) :] for t in cluster_tags if t.startswith(prefix)]
    return {t for name in names for t in node_tags if t.startswith(name + ":")}


def _allowed_migrations(cluster_tags: list[str]) -> list[tuple[str, str]]:
    """``htools:allowmigration:<src>::<dst>`` pairs (exactly one ``::``)."""
    pairs = []
    for tag in cluster_tags:
        if not tag.startswith(ALLOW_MIGRATION_PREFIX):
            continue
        rest = tag[len(ALLOW_MIGRATION_PREFIX) :]
        cut = rest.find("::")
        if cut >= 0 and "::" not in rest[cut + 2 :]:
            pairs.append((rest[:cut], rest[cut + 2 :]))
    return pairs


def _migration_tags(cluster_tags: list[str], node: Node) -> Node:
    """``addMigrationTags``: what the node's instances carry, and what it accepts."""
    own = _prefixed_tags(MIGRATION_PREFIX, cluster_tags, node.tags)
    allowed = _allowed_migrations(cluster_tags)
    accepted = own | {src for tag in own for src, dst in allowed if dst == tag}
    return dataclasses.replace(node, mig_tags=frozenset(own), rmig_tags=frozenset(accepted))


def _node_locations(cluster_tags: list[str], node_tags: tuple[str, ...]) -> frozenset[str]:
    """``getLocations``: node tags ``<name>:…`` under an ``htools:nlocation:<name>`` cluster tag."""
    return frozenset(_prefixed_tags(LOCATION_PREFIX, cluster_tags, node_tags))


def merge_data(data: ClusterData) -> ClusterData:
    """``mergeData``: tags, aliases, location scores, node accounting, policies."""
    instances = data.instances
    nodes = data.nodes
    ctags = data.tags
    ex_tags = _chomp(EX_TAGS_PREFIX, ctags)
    dsrd = _chomp(DESIRED_LOCATION_PREFIX, ctags)
    suffix = longest_domain([n.name for n in nodes] + [i.name for i in instances])
    fixed_insts = []
    for inst in instances:
        excl = tuple(t for t in inst.all_tags if any(t.startswith(p) for p in ex_tags))
        dloc = frozenset(t for t in inst.all_tags if any(t.startswith(p) for p in dsrd))
        fixed_insts.append(
            dataclasses.replace(
                inst, excl_tags=excl, dsrd_loc_tags=dloc, alias=_alias(inst.name, suffix)
            )
        )
    nodes2 = [
        _migration_tags(ctags, dataclasses.replace(n, location_tags=_node_locations(ctags, n.tags)))
        for n in nodes
    ]
    scored = []
    for inst in fixed_insts:
        pnode = nodes2[inst.pnode]
        if 0 <= inst.snode < len(nodes2):
            score = len(pnode.location_tags & nodes2[inst.snode].location_tags)
        else:
            score = 0
        scored.append(dataclasses.replace(inst, location_score=score))
    nodes3 = list(nodes2)
    for inst in scored:
        # Ganeti's fixNodes reads the secondary before recording the primary:
        # a (non-DRBD) instance naming its primary as secondary loses the primary.
        secondary = None if inst.snode == NO_SECONDARY else nodes3[inst.snode]
        nodes3[inst.pnode] = hnode.set_pri(nodes3[inst.pnode], inst)
        if secondary is not None:
            nodes3[inst.snode] = hnode.set_sec(secondary, inst)
    nodes4 = []
    for n in nodes3:
        n = hnode.build_peers(n, fixed_insts)
        n = dataclasses.replace(n, alias=_alias(n.name, suffix))
        n = hnode.set_policy(n, data.groups[n.group].ipolicy)
        nodes4.append(n)
    final_insts = []
    for inst in scored:
        groups = {nodes3[x].group for x in inst.all_nodes() if x >= 0}
        if len(groups) > 1:
            inst = dataclasses.replace(inst, movable=False)
        final_insts.append(inst)
    return ClusterData(
        data.groups, nodes4, final_insts, data.tags, data.ipolicy, data.node_index_base
    )


def update_missing(nodes: list[Node], instances: list[Instance]) -> tuple[list[str], list[Node]]:
    """``updateMissing``: fill in instance and unaccounted memory; warn when off."""
    messages: list[str] = []
    result = []
    for node in nodes:
        i_mem = sum(instances[i].mem for i in node.plist if instances[i].uses_memory)
        node2 = dataclasses.replace(node, i_mem=i_mem)
        node3 = dataclasses.replace(node2, x_mem=node2.missing_mem)
        node4 = dataclasses.replace(node3, p_mem=hnode.div(node3.unallocated_mem, node3.t_mem))
        delta_mem = node4.x_mem
        delta_dsk = (
            math.trunc(node.t_dsk)
            - node.f_dsk
            - sum(instances[i].dsk for i in node.plist + node.slist)
        )
        if delta_mem > 512 or delta_dsk > 1024:
            messages.insert(
                0, f"node {node.name} is missing {delta_mem} MB ram and {delta_dsk // 1024} GB disk"
            )
        result.append(node4)
    return messages, result


def lookup_group(groups_by_uuid: dict[str, int], node_name: str, uuid: str) -> int:
    if uuid not in groups_by_uuid:
        raise LoadError(f"Unknown group '{uuid}' for node {node_name}")
    return groups_by_uuid[uuid]


def lookup_node(nodes_by_name: dict[str, int], inst_name: str, node_name: str) -> int:
    if node_name not in nodes_by_name:
        raise LoadError(f"Unknown node '{node_name}' for instance {inst_name}")
    return nodes_by_name[node_name]


def lookup_instance(instances_by_name: dict[str, int], inst_name: str) -> int:
    if inst_name not in instances_by_name:
        raise LoadError(f"Unknown instance '{inst_name}'")
    return instances_by_name[inst_name]
