"""Single-node placements under the capacity check score only when one passes it.

The reference is Ganeti's order: every candidate scored, sorted, the
first that passes ``is_good`` kept and the ones before it counted FailN1.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ganeti_agent.htools import cluster, fitcheck, globaln1, text
from ganeti_agent.htools.cluster import AllocOptions, AllocResult
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.loader import merge_data, update_missing
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.primitives import (
    Candidate,
    add_instance,
    allocate_on_each,
    collection_to_solution,
    extract_nodes,
)
from ganeti_agent.htools.types import FailMode
from tests.htools.random_clusters import random_cluster
from tests.htools.test_fitcheck import _instance, _targets

IsGood = Callable[[Candidate], bool]


def _scored_first(
    nodes: list[Node], inst: Instance, singles: list[int], good: IsGood
) -> AllocResult:
    errs, cands = allocate_on_each(nodes, inst, singles, False)
    sol = collection_to_solution(errs, cands, good)
    counts: dict[FailMode, int] = {}
    for mode in sol.failures:
        counts[mode] = counts.get(mode, 0) + 1
    return AllocResult(counts, sol.best)


def _capacity(nodes: list[Node], instances: list[Instance]) -> IsGood:
    opts = AllocOptions()

    def good(cand: Candidate) -> bool:
        new_nl = extract_nodes(nodes, len(instances), cand)
        return globaln1.redundant(opts, new_nl, add_instance(instances, cand))

    return good


def _can_leave(nodes: list[Node]) -> IsGood:
    """The prefilter hspace gives ``_singles_checked``: every node in N+1 scope."""

    def may_pass(cand: Candidate) -> bool:
        return fitcheck.can_leave(nodes, cand.inst, cand.inst.pnode, lambda node: True)

    return may_pass


def _candidates(nodes: list[Node], inst: Instance, singles: list[int]) -> list[Candidate]:
    return allocate_on_each(nodes, inst, singles, False)[1]


def _some_nodes(rng: random.Random) -> IsGood:
    passing = {pdx for pdx in range(8) if rng.random() < 0.4}
    return lambda cand: cand.inst.pnode in passing


def _same(left: AllocResult, right: AllocResult) -> bool:
    if left.failures != right.failures:
        return False
    if left.best is None or right.best is None:
        return left.best is right.best
    return (left.best.nodes, left.best.inst, left.best.score) == (
        right.best.nodes,
        right.best.inst,
        right.best.score,
    )


def test_lazy_scoring_keeps_ganetis_choice_and_counts() -> None:
    seen = {"placed": 0, "n1": 0, "left": 0}
    for seed in range(150):
        rng = random.Random(2000 + seed)
        merged = merge_data(text.parse_data(random_cluster(rng, max_nodes=5, max_instances=8)))
        _, nodes = update_missing(merged.nodes, merged.instances)
        groups, instances = merged.groups, list(merged.instances)
        for template in ("plain", "file", "diskless", "sharedfile"):
            targets = _targets(groups, nodes, template)
            singles = [pdx for pdx in targets if isinstance(pdx, int)]
            assert len(singles) == len(targets)
            for _ in range(3):
                inst = _instance(rng, template, big=False)
                capacity = _capacity(nodes, instances)
                for good in (capacity, _some_nodes(rng)):
                    want = _scored_first(nodes, inst, singles, good)
                    got = cluster._singles_checked(nodes, inst, singles, good)
                    assert _same(got, want), (seed, template, inst)
                prefiltered = cluster._singles_checked(
                    nodes, inst, singles, capacity, _can_leave(nodes)
                )
                want = _scored_first(nodes, inst, singles, capacity)
                assert _same(prefiltered, want), (seed, template, inst)
                seen["left"] += any(_can_leave(nodes)(c) for c in _candidates(nodes, inst, singles))
                seen["placed"] += want.best is not None
                seen["n1"] += want.failures.get(FailMode.FailN1, 0) > 0
    assert min(seen.values()) > 50, seen
