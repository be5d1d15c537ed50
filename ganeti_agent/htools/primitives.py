"""Allocation primitives (``AllocatePrimitives.hs``, ``AllocationSolution.hs``).

A candidate is (node list, placed instance, changed nodes, score). Ties are
broken as Ganeti does: collections are kept newest first and sorted stably,
so among equal scores the last candidate tried wins.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ganeti_agent.htools import instance as hinst
from ganeti_agent.htools import metrics
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.instance import NO_SECONDARY, Instance
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.types import FailMode


@dataclass(slots=True)
class Candidate:
    nodes: list[Node]
    inst: Instance
    changed: list[Node]
    score: float


@dataclass(slots=True)
class Solution:
    """``AllocSolution``: failures, success count and the best candidate."""

    failures: list[FailMode] = field(default_factory=list)
    allocs: int = 0
    best: Candidate | None = None


def allocate_on_single(
    nodes: list[Node], inst: Instance, pdx: int, force: bool, scored: bool = True
) -> Candidate | FailMode:
    """``allocateOnSingle``: place ``inst`` on node ``pdx`` alone; score afresh.

    ``scored=False`` leaves the score NaN for a caller that may never need it.
    """
    target = nodes[pdx]
    err = hinst.matches_policy(inst, target.ipolicy, target.excl_stor)
    if err is not None:
        return err
    new_p = hnode.add_pri(target, inst, force)
    if isinstance(new_p, FailMode):
        return new_p
    new_inst = dataclasses.replace(inst, pnode=pdx, snode=NO_SECONDARY)
    new_nodes = list(nodes)
    new_nodes[pdx] = new_p
    score = metrics.comp_cv(new_nodes) if scored else math.nan
    return Candidate(new_nodes, new_inst, [new_p], score)


def allocate_on_each(
    nodes: list[Node], inst: Instance, targets: list[int], force: bool, scored: bool = True
) -> tuple[list[FailMode], list[Candidate]]:
    """``allocateOnSingle`` on every target, in order: the failures and the candidates."""
    errs: list[FailMode] = []
    cands: list[Candidate] = []
    for pdx in targets:
        res = allocate_on_single(nodes, inst, pdx, force, scored)
        if isinstance(res, FailMode):
            errs.append(res)
        else:
            cands.append(res)
    return errs, cands


def collection_to_solution(
    failures: list[FailMode],
    candidates: list[Candidate],
    is_good: Callable[[Candidate], bool] | None,
) -> Solution:
    """``collectionToSolution``: the best candidate that passes ``is_good``.

    ``candidates`` are in the order tried; candidates dropped by ``is_good``
    count as FailN1.
    """
    ordered = sorted(reversed(candidates), key=lambda c: c.score)
    dropped = 0
    best = None
    for cand in ordered:
        if is_good is None or is_good(cand):
            best = cand
            break
        dropped += 1
    return Solution([FailMode.FailN1] * dropped + failures, len(candidates) - dropped, best)


def extract_nodes(nodes: list[Node], n_instances: int, cand: Candidate) -> list[Node]:
    """``extractNl``: the candidate's node list, new instance index filled in."""
    result = cand.nodes
    changed = False
    for node in cand.changed:
        current = result[node.idx]
        if -1 in current.plist or -1 in current.slist:
            if not changed:
                result = list(result)
                changed = True
            result[node.idx] = dataclasses.replace(
                current,
                plist=tuple(n_instances if i < 0 else i for i in current.plist),
                slist=tuple(n_instances if i < 0 else i for i in current.slist),
            )
    return result


def add_instance(instances: list[Instance], cand: Candidate) -> list[Instance]:
    """``updateIl``: the candidate's instance appended at the next index."""
    return [*instances, dataclasses.replace(cand.inst, idx=len(instances))]
