"""Emptying nodes for a reboot: the moves of Ganeti's ``Program/Hroller.hs``.

hroller does not use the cluster-wide evacuation of ``Cluster/Evacuate.hs``;
it tries each instance on the candidate nodes in order and keeps the first
placement the node accepts (forced, so only hard limits refuse). The
functions here are that first-fit search, over the shared node primitives.

One quirk is kept on purpose: when Ganeti replaces a secondary it stores,
under the *old secondary's* index, the *primary* node with the instance's
secondary removed (``replaceSecondary`` reads the wrong node). Later
steps and the printed moves see that copy, so we build it too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.types import FailMode


@dataclass(frozen=True, slots=True)
class Config:
    """Nodes and instances by index; every change returns a new Config."""

    nodes: list[Node]
    instances: list[Instance]

    def with_changes(self, nodes: list[tuple[int, Node]], inst: Instance) -> Config:
        """Store ``nodes`` in order (a later index wins) and ``inst`` at its index."""
        new_nodes = list(self.nodes)
        for ndx, node in nodes:
            if not 0 <= ndx < len(new_nodes):
                raise EvacuationError(f"instance {inst.name}: no node with index {ndx}")
            new_nodes[ndx] = node
        new_instances = list(self.instances)
        new_instances[inst.idx] = inst
        return Config(new_nodes, new_instances)


class EvacuationError(Exception):
    """A move needs a node that does not exist (a DRBD instance without secondary).

    Ganeti's hroller dies there with a Haskell ``IntMap.!`` error (exit 1).
    """


def _node(conf: Config, ndx: int, inst: Instance | None = None) -> Node:
    if not 0 <= ndx < len(conf.nodes):
        owner = "" if inst is None else f"instance {inst.name}: "
        raise EvacuationError(f"{owner}no node with index {ndx} (DRBD without a secondary node?)")
    return conf.nodes[ndx]


def non_redundant(conf: Config, ndx: int) -> list[int]:
    """Primary instances of the node without a secondary (they must move to reboot it)."""
    return [i for i in conf.nodes[ndx].plist if not conf.instances[i].has_secondary]


def primaries(conf: Config, ndx: int) -> list[int]:
    """Primary instances of the node that have a secondary (they can migrate)."""
    return [i for i in conf.nodes[ndx].plist if conf.instances[i].has_secondary]


def secondaries(conf: Config, ndx: int) -> list[int]:
    return list(conf.nodes[ndx].slist)


def move(idx: int, new_ndx: int, conf: Config) -> Config | None:
    """``move``: a non-redundant instance onto ``new_ndx``, or None if it does not fit."""
    inst = conf.instances[idx]
    old_ndx = inst.pnode
    new_node = hnode.add_pri(_node(conf, new_ndx), inst, True)
    if isinstance(new_node, FailMode):
        return None
    old_node = hnode.remove_pri(_node(conf, old_ndx), inst)
    moved = dataclasses.replace(inst, pnode=new_ndx)
    return conf.with_changes([(new_ndx, new_node), (old_ndx, old_node)], moved)


def migrate(idx: int, conf: Config) -> Config | None:
    """``migrate``: swap a DRBD instance's primary and secondary, or None if refused."""
    inst = conf.instances[idx]
    pdx, sdx = inst.pnode, inst.snode
    old_primary = hnode.remove_pri(_node(conf, pdx), inst)
    old_secondary = hnode.remove_sec(_node(conf, sdx, inst), inst)
    new_primary = hnode.add_pri(old_secondary, inst, True)
    if isinstance(new_primary, FailMode):
        return None
    new_secondary = hnode.add_sec(old_primary, inst, sdx, True)
    if isinstance(new_secondary, FailMode):
        return None
    swapped = dataclasses.replace(inst, pnode=sdx, snode=pdx)
    return conf.with_changes([(sdx, new_primary), (pdx, new_secondary)], swapped)


def replace_secondary(idx: int, new_ndx: int, conf: Config) -> Config | None:
    """``replaceSecondary``, with Ganeti's wrong-node quirk (see the module docstring)."""
    inst = conf.instances[idx]
    old_ndx = inst.snode
    pdx = inst.pnode
    if pdx == new_ndx:
        return None
    new_secondary = hnode.add_sec(_node(conf, new_ndx), inst, pdx, True)
    if isinstance(new_secondary, FailMode):
        return None
    stored_as_old = hnode.remove_sec(_node(conf, pdx), inst)
    replaced = dataclasses.replace(inst, snode=new_ndx)
    return conf.with_changes([(new_ndx, new_secondary), (old_ndx, stored_as_old)], replaced)


Relocate = Callable[[list[int], list[int], Config], "Config | None"]


def _first_fit(step: Callable[[int, int, Config], Config | None]) -> Relocate:
    """Place each instance, in turn, on the first node that takes it."""

    def relocate(idxs: list[int], ndxs: list[int], conf: Config) -> Config | None:
        for idx in idxs:
            for ndx in ndxs:
                placed = step(idx, ndx, conf)
                if placed is not None:
                    conf = placed
                    break
            else:
                return None
        return conf

    return relocate


locate_instances = _first_fit(move)
find_secondaries = _first_fit(replace_secondary)


def greedy_clear_nodes(
    get_instances: Callable[[Config, int], list[int]],
    relocate: Relocate,
    ndxs: list[int],
    targets: list[int],
    conf: Config,
) -> tuple[list[int], Config]:
    """``greedyClearNodes``: the nodes, in order, that can be emptied together.

    A node is taken when its instances fit on the remaining targets of its
    own group; taken nodes stop being targets. Ganeti writes this as a
    backtracking search, but taking a node never makes the rest fail, so
    one pass gives the same answer. The remaining targets are an ordered
    set, and a node's group is only listed when it has instances to move,
    so the common case costs no scan of all nodes per node.
    """
    cleared: list[int] = []
    remaining = dict.fromkeys(targets)
    for ndx in ndxs:
        group = _node(conf, ndx).group
        moving = get_instances(conf, ndx)
        if moving:
            same_group = [t for t in remaining if t != ndx and conf.nodes[t].group == group]
            after = relocate(moving, same_group, conf)
            if after is None:
                continue
            conf = after
        cleared.append(ndx)
        remaining.pop(ndx, None)
    return cleared, conf


Clear = Callable[[list[int], list[int], Config], tuple[list[int], Config]]


def partition_nodes(
    clear: Clear, ndxs: list[int], targets: list[int], conf: Config
) -> list[tuple[list[int], Config]] | None:
    """``partitionNodes``: split ``ndxs`` into groups, each cleared from ``conf`` alone.

    None when some node cannot be cleared even on its own.
    """
    parts: list[tuple[list[int], Config]] = []
    remaining = ndxs
    while remaining:
        group, after = clear(remaining, targets, conf)
        if not group:
            return None
        taken = set(group)
        remaining = [n for n in remaining if n not in taken]
        parts.append((group, after))
    return parts


def clear_nodes(ndxs: list[int], targets: list[int], conf: Config) -> tuple[list[int], Config]:
    return greedy_clear_nodes(non_redundant, locate_instances, ndxs, targets, conf)


def clear_secondaries(
    ndxs: list[int], targets: list[int], conf: Config
) -> tuple[list[int], Config]:
    return greedy_clear_nodes(secondaries, find_secondaries, ndxs, targets, conf)


def partition_non_redundant(
    ndxs: list[int], targets: list[int], conf: Config
) -> list[tuple[list[int], Config]] | None:
    return partition_nodes(clear_nodes, ndxs, targets, conf)


def partition_secondaries(
    ndxs: list[int], targets: list[int], conf: Config
) -> list[tuple[list[int], Config]] | None:
    return partition_nodes(clear_secondaries, ndxs, targets, conf)


def migrate_off_nodes(ndxs: list[int], conf: Config) -> Config | None:
    """``migrateOffNodes``: fail every DRBD primary of the nodes over to its secondary."""
    for idx in [i for ndx in ndxs for i in primaries(conf, ndx)]:
        after = migrate(idx, conf)
        if after is None:
            return None
        conf = after
    return conf


def moves(original: Config, final: Config) -> list[tuple[Instance, Node, Node | None]]:
    """``getMoves``: instances whose nodes changed, a plain primary-secondary swap excepted."""
    result: list[tuple[Instance, Node, Node | None]] = []
    for before, after in zip(original.instances, final.instances, strict=True):
        has_sec = before.has_secondary
        if after.pnode == before.pnode and not (has_sec and after.snode != before.snode):
            continue
        if after.pnode == before.snode and after.snode == before.pnode:
            continue
        snode = _node(final, after.snode, after) if has_sec else None
        result.append((after, _node(final, after.pnode), snode))
    return result
