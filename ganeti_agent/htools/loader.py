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


def _node_locations(cluster_tags: list[str], node_tags: tuple[str, ...]) -> frozenset[str]:
    """``getLocations``: node tags ``<name>:…`` under an ``htools:nlocation:<name>`` cluster tag."""
    return frozenset(_prefixed_tags(LOCATION_PREFIX, cluster_tags, node_tags))


def _loading_node(node: Node, cluster_tags: list[str], suffix: str) -> Node:
    """The loader's own copy of a node, with location and migration tags (``addMigrationTags``)."""
    copy = hnode.copy_node(node)
    copy.alias = _alias(node.name, suffix)
    copy.location_tags = _node_locations(cluster_tags, node.tags)
    own = _prefixed_tags(MIGRATION_PREFIX, cluster_tags, node.tags)
    allowed = _allowed_migrations(cluster_tags)
    copy.mig_tags = frozenset(own)
    copy.rmig_tags = frozenset(own | {src for tag in own for src, dst in allowed if dst == tag})
    return copy


def _fixed_instance(
    inst: Instance, ex_tags: list[str], dsrd: list[str], suffix: str, nodes: list[Node]
) -> Instance:
    """Exclusion and desired-location tags, alias, location score, movability; one copy at most.

    Each value is computed only where it can differ from the default, and
    the instance is copied only when one of them changes.
    """
    changes: dict[str, object] = {}
    if ex_tags or inst.excl_tags:
        changes["excl_tags"] = tuple(
            t for t in inst.all_tags if any(t.startswith(p) for p in ex_tags)
        )
    if dsrd or inst.dsrd_loc_tags:
        changes["dsrd_loc_tags"] = frozenset(
            t for t in inst.all_tags if any(t.startswith(p) for p in dsrd)
        )
    alias = _alias(inst.name, suffix)
    if alias != inst.alias:
        changes["alias"] = alias
    pnode = nodes[inst.pnode]
    score = 0
    if 0 <= inst.snode < len(nodes):
        snode = nodes[inst.snode]
        if pnode.location_tags and snode.location_tags:
            score = len(pnode.location_tags & snode.location_tags)
        if inst.movable and inst.has_secondary and pnode.group != snode.group:
            changes["movable"] = False
    if score != inst.location_score:
        changes["location_score"] = score
    return dataclasses.replace(inst, **changes) if changes else inst  # type: ignore[arg-type]


def fix_nodes(nodes: list[Node], instances: list[Instance]) -> None:
    """``fixNodes``: record every instance on its primary and secondary node (in place).

    Ganeti's ``fixNodes`` reads the secondary before recording the primary,
    so a (non-DRBD) instance naming its primary as its secondary is only a
    secondary there. The instance lists are newest first, as Ganeti's.
    """
    plists: list[list[int]] = [[] for _ in nodes]
    plists_forth: list[list[int]] = [[] for _ in nodes]
    slists: list[list[int]] = [[] for _ in nodes]
    slists_forth: list[list[int]] = [[] for _ in nodes]
    for inst in instances:
        if inst.snode != inst.pnode:
            hnode.record_pri(nodes[inst.pnode], inst)
            plists_forth[inst.pnode].append(inst.idx)
            if not inst.forthcoming:
                plists[inst.pnode].append(inst.idx)
        if inst.snode != NO_SECONDARY:
            hnode.record_sec(nodes[inst.snode], inst)
            slists_forth[inst.snode].append(inst.idx)
            if not inst.forthcoming:
                slists[inst.snode].append(inst.idx)
    for pos, node in enumerate(nodes):
        node.plist = (*reversed(plists[pos]), *node.plist)
        node.plist_forth = (*reversed(plists_forth[pos]), *node.plist_forth)
        node.slist = (*reversed(slists[pos]), *node.slist)
        node.slist_forth = (*reversed(slists_forth[pos]), *node.slist_forth)


def merge_data(data: ClusterData) -> ClusterData:
    """``mergeData``: tags, aliases, location scores, node accounting, policies.

    The nodes are copied once and then completed in place; ``data`` is left
    as it was.
    """
    ctags = data.tags
    ex_tags = _chomp(EX_TAGS_PREFIX, ctags)
    dsrd = _chomp(DESIRED_LOCATION_PREFIX, ctags)
    suffix = common_suffix(data.nodes, data.instances)
    nodes = [_loading_node(n, ctags, suffix) for n in data.nodes]
    instances = [_fixed_instance(i, ex_tags, dsrd, suffix, nodes) for i in data.instances]
    fix_nodes(nodes, instances)
    for node in nodes:
        hnode.record_peers(node, instances)
        hnode.apply_policy(node, data.groups[node.group].ipolicy)
    return ClusterData(data.groups, nodes, instances, data.tags, data.ipolicy, data.node_index_base)


def update_missing(nodes: list[Node], instances: list[Instance]) -> tuple[list[str], list[Node]]:
    """``updateMissing``: fill in instance and unaccounted memory; warn when off."""
    messages: list[str] = []
    result = []
    for node in nodes:
        i_mem = sum(instances[i].mem for i in node.plist if instances[i].uses_memory)
        fixed = hnode.copy_node(node)
        fixed.i_mem = i_mem
        fixed.x_mem = fixed.missing_mem
        fixed.p_mem = hnode.div(fixed.unallocated_mem, fixed.t_mem)
        delta_mem = fixed.x_mem
        delta_dsk = (
            math.trunc(node.t_dsk)
            - node.f_dsk
            - sum(instances[i].dsk for i in node.plist + node.slist)
        )
        if delta_mem > 512 or delta_dsk > 1024:
            messages.insert(
                0, f"node {node.name} is missing {delta_mem} MB ram and {delta_dsk // 1024} GB disk"
            )
        result.append(fixed)
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
