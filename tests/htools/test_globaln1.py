"""``never_redundant``: a cluster it condemns is not N+1 redundant, however it grows.

The reference is ``redundant`` itself (Ganeti's ``GlobalN1`` order), asked
of random clusters and of the clusters hspace would grow from them by
placing instances without the capacity check.
"""

from __future__ import annotations

import dataclasses
import random

from ganeti_agent.htools import cluster, globaln1, metrics, text
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.cluster import AllocOptions, gen_alloc_nodes
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.loader import merge_data, update_missing
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.primitives import add_instance, extract_nodes
from ganeti_agent.htools.types import SHARED_MOVABLE, FailMode
from tests.htools.random_clusters import random_cluster
from tests.htools.test_fitcheck import _instance

TEMPLATES = ("plain", "drbd", "file", "diskless", "sharedfile")


def _options(rng: random.Random, groups: int) -> AllocOptions:
    ignored = tuple(g for g in range(groups) if rng.random() < 0.15)
    return AllocOptions(accept_existing=rng.random() < 0.3, ignore_groups=ignored)


def _grow(
    rng: random.Random, groups: dict[int, Group], nodes: list[Node], instances: list[Instance]
) -> tuple[list[Node], list[Instance]] | None:
    """One instance more, placed as hspace places it when the capacity check is off."""
    template = rng.choice(TEMPLATES)
    targets = gen_alloc_nodes(groups, nodes, 2 if template == "drbd" else 1, True)
    if not targets[1]:
        return None
    inst = _instance(rng, template, big=rng.random() < 0.3)
    unchecked = AllocOptions(capacity=False)
    placed = cluster.try_alloc(unchecked, nodes, instances, inst, targets).best
    if placed is None:
        return None
    return extract_nodes(nodes, len(instances), placed), add_instance(instances, placed)


def test_condemned_clusters_stay_unredundant_as_they_grow() -> None:
    seen = {"condemned": 0, "grown": 0, "unredundant, not condemned": 0, "redundant": 0}
    for seed in range(150):
        rng = random.Random(7000 + seed)
        merged = merge_data(text.parse_data(random_cluster(rng, max_nodes=6, max_instances=10)))
        _, nodes = update_missing(merged.nodes, merged.instances)
        instances = list(merged.instances)
        opts = _options(rng, len(merged.groups))
        condemned = globaln1.never_redundant(opts, nodes, instances)
        for _ in range(6):
            is_redundant = globaln1.redundant(opts, nodes, instances)
            last_first = (len(nodes) - 1, rng.randrange(len(nodes)))
            assert globaln1.redundant(opts, nodes, instances, first=last_first) == is_redundant
            if condemned:
                assert not is_redundant, (seed, len(instances))
                assert globaln1.never_redundant(opts, nodes, instances), (seed, len(instances))
                seen["grown"] += 1
            elif is_redundant:
                seen["redundant"] += 1
            else:
                seen["unredundant, not condemned"] += 1
            grown = _grow(rng, merged.groups, nodes, instances)
            if grown is None:
                break
            nodes, instances = grown
        seen["condemned"] += condemned
    assert min(seen.values()) > 20, seen


def _move_by_full_score(
    nodes: list[Node], instances: list[Instance], idx: int, targets: list[int]
) -> tuple[list[Node], list[Instance]] | None:
    """The shared-storage move scored the plain way: a whole trial cluster per target."""
    inst = instances[idx]
    group = nodes[inst.pnode].group
    best: tuple[list[Node], float, int] | None = None
    for ndx in targets:
        moved = hnode.add_pri(nodes[ndx], inst, True)
        if not hnode.migration_allowed(nodes[inst.pnode], nodes[ndx]) or isinstance(
            moved, FailMode
        ):
            continue
        trial = list(nodes)
        trial[inst.pnode] = hnode.remove_pri(nodes[inst.pnode], inst)
        trial[ndx] = moved
        score = metrics.comp_cv([n for n in trial if n.group == group])
        if best is None or not best[1] < score:
            best = (trial, score, ndx)
    if best is None:
        return None
    changed = list(instances)
    changed[idx] = dataclasses.replace(inst, pnode=best[2])
    return best[0], changed


def test_shared_storage_moves_pick_the_best_scored_target() -> None:
    seen = {"moved": 0, "stuck": 0}
    for seed in range(200):
        rng = random.Random(9000 + seed)
        merged = merge_data(text.parse_data(random_cluster(rng, max_nodes=6, max_instances=10)))
        _, nodes = update_missing(merged.nodes, merged.instances)
        instances = list(merged.instances)
        for _ in range(4):
            grown = _grow(rng, merged.groups, nodes, instances)
            if grown is not None:
                nodes, instances = grown
        for idx, inst in enumerate(instances):
            if inst.disk_template not in SHARED_MOVABLE or inst.pnode < 0:
                continue
            pnode = nodes[inst.pnode]
            targets = [n.idx for n in nodes if n.group == pnode.group and n.idx != pnode.idx]
            expected = _move_by_full_score(nodes, instances, idx, targets)
            assert globaln1._failover_to_any(
                list(nodes), list(instances), idx, pnode.group, targets, last=True
            ) == (expected is not None)
            got_nodes, got_instances = list(nodes), list(instances)
            moved = globaln1._failover_to_any(got_nodes, got_instances, idx, pnode.group, targets)
            if expected is None:
                assert not moved and (got_nodes, got_instances) == (nodes, instances)
                seen["stuck"] += 1
            else:
                assert moved and (got_nodes, got_instances) == expected, (seed, idx)
                seen["moved"] += 1
    assert min(seen.values()) > 30, seen
