"""Global N+1 redundancy (Ganeti's ``GlobalN1.hs``): can every node be evacuated?

A node can be evacuated when its DRBD primaries fail over to their
secondaries, its shared-storage instances fail over to another node of the
group, and its other instances can be recreated elsewhere in the group, all
with soft errors ignored.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Protocol

from ganeti_agent.htools import metrics
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.primitives import (
    Candidate,
    add_instance,
    allocate_on_each,
    allocate_on_single,
    collection_to_solution,
    extract_nodes,
)
from ganeti_agent.htools.types import SHARED_MOVABLE, FailMode


class N1Options(Protocol):
    @property
    def accept_existing(self) -> bool: ...

    @property
    def ignore_groups(self) -> tuple[int, ...]: ...


def _failover(nodes: list[Node], instances: list[Instance], idx: int) -> bool:
    inst = instances[idx]
    pdx, sdx = inst.pnode, inst.snode
    old_p, old_s = nodes[pdx], nodes[sdx]
    if not hnode.migration_allowed(old_p, old_s):
        return False
    int_p = hnode.remove_pri(old_p, inst)
    int_s = hnode.remove_sec(old_s, inst)
    new_p = hnode.add_pri(int_s, inst, True)
    if isinstance(new_p, FailMode):
        return False
    new_s = hnode.add_sec(int_p, inst, sdx, True, ignore_disks=old_p.offline)
    if isinstance(new_s, FailMode):
        return False
    nodes[pdx] = new_s
    nodes[sdx] = new_p
    instances[idx] = dataclasses.replace(inst, pnode=sdx, snode=pdx)
    return True


def _failover_to_any(
    nodes: list[Node],
    instances: list[Instance],
    idx: int,
    gdx: int,
    targets: list[int],
    last: bool = False,
) -> bool:
    """Move a shared-storage instance to the target that leaves its group the best score.

    Scores are needed only to choose: not when one target takes the
    instance, nor for the ``last`` move of an evacuation, whose result is
    never looked at. The source without the instance, and the score rows
    of the group's other nodes, are the same for every target.
    """
    inst = instances[idx]
    fits: list[tuple[int, Node]] = []
    for ndx in targets:
        if not hnode.migration_allowed(nodes[inst.pnode], nodes[ndx]):
            continue
        new_target = hnode.add_pri(nodes[ndx], inst, True)
        if not isinstance(new_target, FailMode):
            fits.append((ndx, new_target))
    if not fits or last:
        return bool(fits)
    source = hnode.remove_pri(nodes[inst.pnode], inst)
    nodes[inst.pnode] = source
    chosen = fits[0] if len(fits) == 1 else _best_scored(nodes, gdx, fits)
    nodes[chosen[0]] = chosen[1]
    instances[idx] = dataclasses.replace(inst, pnode=chosen[0])
    return True


def _best_scored(nodes: list[Node], gdx: int, fits: list[tuple[int, Node]]) -> tuple[int, Node]:
    """The fit whose group scores best; the later one on a tie, as Ganeti's fold keeps it."""
    group = [n.idx for n in nodes if n.group == gdx]
    rows = {ndx: metrics.node_components(nodes[ndx]) for ndx in group}
    best: tuple[int, Node, float] | None = None
    for ndx, new_target in fits:
        members = [new_target if i == ndx else nodes[i] for i in group]
        member_rows = [metrics.node_components(new_target) if i == ndx else rows[i] for i in group]
        score = metrics.cv_from_stats(metrics.statistics_of_rows(members, member_rows))
        if best is None or not best[2] < score:
            best = (ndx, new_target, score)
    assert best is not None
    return best[0], best[1]


def _drbd_failovers_fit(nodes: list[Node], instances: list[Instance], node: Node) -> bool:
    """``canEvacuateNode`` for a node whose primaries are all DRBD, without copies.

    Failing an instance over (soft errors ignored) can only fail on hard
    limits: the secondary's memory once it also runs the instances failed
    over to it before, no free disk, or exclusive-storage spindles. Disk and
    spindles come back exactly as they went, so only memory accumulates.
    """
    added: dict[int, int] = {}
    for idx in node.plist:
        inst = instances[idx]
        sec = nodes[inst.snode]
        if not hnode.migration_allowed(node, sec):
            return False
        if inst.forthcoming:
            continue
        extra = added.get(sec.idx, 0) + (inst.mem if inst.uses_memory else 0)
        free = math.trunc(sec.t_mem) - sec.n_mem - (sec.i_mem + extra) - max(0, sec.x_mem)
        if free <= 0 or sec.f_dsk <= 0:
            return False
        spindles = inst.total_spindles()
        if sec.excl_stor and (spindles is None or sec.f_spindles < 0):
            return False
        if not node.offline and node.f_dsk <= 0:
            return False
        if node.excl_stor and (spindles is None or node.f_spindles < 0):
            return False
        added[sec.idx] = extra
    return True


def can_evacuate(nodes: list[Node], instances: list[Instance], node: Node) -> bool:
    if all(instances[i].disk_template == "drbd" for i in node.plist):
        return _drbd_failovers_fit(nodes, instances, node)
    nl = list(nodes)
    il = list(instances)
    drbd = [i for i in node.plist if il[i].disk_template == "drbd"]
    others = [i for i in node.plist if il[i].disk_template != "drbd"]
    for idx in drbd:
        if not _failover(nl, il, idx):
            return False
    escape = [n.idx for n in nl if n.group == node.group and n.idx != node.idx]
    shared = [i for i in others if il[i].disk_template in SHARED_MOVABLE]
    stuck = [il[i] for i in others if il[i].disk_template not in SHARED_MOVABLE]
    for count, idx in enumerate(shared, 1):
        last = count == len(shared) and not stuck
        if not _failover_to_any(nl, il, idx, node.group, escape, last):
            return False
    stuck.sort(key=lambda inst: -inst.mem)
    for count, inst in enumerate(stuck, 1):
        errs, cands = allocate_on_each(nl, inst, escape, True, scored=False)
        if not cands:
            return False
        if count == len(stuck):
            return True
        _score(nl, cands)
        sol = collection_to_solution(errs, cands, None)
        assert sol.best is not None
        new_nl = extract_nodes(nl, len(il), sol.best)
        il = add_instance(il, sol.best)
        nl = list(new_nl)
    return True


def _score(nodes: list[Node], cands: list[Candidate]) -> None:
    """The cluster score of each recreation that ``recreate`` must choose between.

    Only a choice needs scores: one candidate is chosen whatever its score,
    and the last instance's placement is never looked at again. Each
    candidate changes one node, so the other nodes' rows are shared.
    """
    if len(cands) == 1:
        return
    rows = [metrics.node_components(n) for n in nodes]
    for cand in cands:
        (placed,) = cand.changed
        changed_rows = list(rows)
        changed_rows[placed.idx] = metrics.node_components(placed)
        cand.score = metrics.cv_from_stats(metrics.statistics_of_rows(cand.nodes, changed_rows))


def in_scope(opts: N1Options, node: Node) -> bool:
    if opts.accept_existing and node.offline:
        return False
    return node.group not in opts.ignore_groups


def escapes_nowhere(nodes: list[Node], node: Node, inst: Instance, escape: list[int]) -> bool:
    """No escape node can take ``inst`` now: it is shared storage or recreated."""
    if inst.disk_template in SHARED_MOVABLE:
        return not any(
            hnode.migration_allowed(node, nodes[ndx])
            and not isinstance(hnode.add_pri(nodes[ndx], inst, True), FailMode)
            for ndx in escape
        )
    return all(
        isinstance(allocate_on_single(nodes, inst, ndx, True, scored=False), FailMode)
        for ndx in escape
    )


def never_redundant(opts: N1Options, nodes: list[Node], instances: list[Instance]) -> bool:
    """Whether no cluster grown from this one by adding instances can be N+1 redundant.

    True when some node in scope holds a non-DRBD instance that no other node
    of its group can take now. Evacuating a node only ever adds instances to
    the escape nodes (a DRBD failover gives its secondary the instance's
    memory and hands back as much disk as it takes), and so does adding an
    instance to the cluster; the policy and migration checks depend on the
    node alone. Free memory, disk and spindles of an escape node therefore
    never grow, and the forced placements that fail now fail in every grown
    cluster: that node stays impossible to evacuate. Tiered allocation on
    such a cluster asks the N+1 question for every size of every shrink
    walk, and this answers all of them at once.
    """
    for node in nodes:
        if not in_scope(opts, node):
            continue
        stuck = [instances[i] for i in node.plist if instances[i].disk_template != "drbd"]
        if not stuck:
            continue
        escape = [n.idx for n in nodes if n.group == node.group and n.idx != node.idx]
        if any(escapes_nowhere(nodes, node, inst, escape) for inst in stuck):
            return True
    return False


def redundant(
    opts: N1Options, nodes: list[Node], instances: list[Instance], first: tuple[int, ...] = ()
) -> bool:
    """Whether every (relevant) node of the cluster can be evacuated.

    Each node's answer is pure, so the order they are asked in changes
    nothing but the cost: ``first`` (the nodes a placement just changed,
    the likeliest to fail) are asked before the others.
    """
    order = [nodes[ndx] for ndx in first]
    order.extend(node for node in nodes if node.idx not in first)
    return all(can_evacuate(nodes, instances, node) for node in order if in_scope(opts, node))


def redundant_group(
    opts: N1Options, nodes: list[Node], instances: list[Instance], gdx: int
) -> bool:
    for node in nodes:
        if node.group != gdx:
            continue
        if opts.accept_existing and node.offline:
            continue
        if gdx in opts.ignore_groups:
            continue
        if not can_evacuate([n for n in nodes], instances, node):
            return False
    return True
