"""The pair matrix gives exactly what the per-primary evaluation gives.

``pairs.evaluate_pairs`` follows Ganeti's ``allocateOnPair`` one primary at
a time and is checked against the real hspace by the goldens; the matrix
path must agree with it bit for bit (failure counts, every valid pair's
score, the chosen pair) on random clusters, before and after allocations.
"""

from __future__ import annotations

import math
import random

import pytest

from ganeti_agent.htools import metrics, simu, text
from ganeti_agent.htools.cluster import AllocMemo, AllocOptions, gen_alloc_nodes, try_alloc
from ganeti_agent.htools.grid import PairGrid, supports
from ganeti_agent.htools.hspace import inst_from_spec
from ganeti_agent.htools.loader import merge_data, update_missing
from ganeti_agent.htools.pairs import PairResult, evaluate_pairs
from ganeti_agent.htools.types import RSpec
from tests.htools.random_clusters import random_cluster

SPECS = (
    RSpec(cpu=1, mem=128, dsk=1024, spn=1),
    RSpec(cpu=2, mem=4096, dsk=102400, spn=2),
    RSpec(cpu=8, mem=1024, dsk=4096, spn=1),
)


def _same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _assert_same(fast: PairResult, slow: PairResult) -> None:
    assert fast.failures == slow.failures
    assert fast.allocs == slow.allocs
    assert (fast.best is None) == (slow.best is None)
    if fast.best is not None and slow.best is not None:
        assert fast.best[:2] == slow.best[:2]
        assert _same_float(fast.best[2], slow.best[2])
    assert fast.valid is not None and slow.valid is not None
    assert [v[:2] for v in fast.valid] == [v[:2] for v in slow.valid]
    for (_, _, a), (_, _, b) in zip(fast.valid, slow.valid, strict=True):
        assert _same_float(a, b)


def _same_stats(fast: list[metrics.Stat], slow: list[metrics.Stat]) -> bool:
    for a, b in zip(fast, slow, strict=True):
        if a[0] != b[0]:
            return False
        if a[0] != "map" and not all(_same_float(x, y) for x, y in zip(a[1:], b[1:], strict=True)):
            return False
    return True


@pytest.mark.parametrize("seed", range(40))
def test_matrix_equals_per_primary_evaluation(seed: int) -> None:
    rng = random.Random(seed)
    merged = merge_data(text.parse_data(random_cluster(rng, max_nodes=8, max_instances=10)))
    _, nodes = update_missing(merged.nodes, merged.instances)
    instances = list(merged.instances)
    alloc_nodes = gen_alloc_nodes(merged.groups, nodes, 2, True)
    pairs = alloc_nodes[1]
    if not pairs:
        pytest.skip("no node pair in this cluster")
    grid = PairGrid()
    opts = AllocOptions(capacity=False)
    for step in range(6):
        inst = inst_from_spec(rng.choice(SPECS), "drbd", rng.randint(1, 2))
        assert supports(inst)
        stats = metrics.cluster_statistics(nodes)
        assert _same_stats(grid.statistics(nodes), stats)
        fast = grid.evaluate(nodes, inst, pairs, want_all=True)  # type: ignore[arg-type]
        slow = evaluate_pairs(nodes, stats, inst, pairs, False, want_all=True)  # type: ignore[arg-type]
        assert fast is not None
        _assert_same(fast, slow)
        result = try_alloc(opts, nodes, instances, inst, alloc_nodes)
        if result.best is None:
            break
        nodes = result.best.nodes
        instances.append(result.best.inst)
        assert step >= 0


@pytest.mark.parametrize("spec", [["p,6,1T,64g,8"], ["p,4,2T,32g,4,8", "p,3,1T,64g,8"]])
def test_matrix_breaks_ties_as_the_per_primary_evaluation(spec: list[str]) -> None:
    """Identical simulated nodes tie on every score: the last pair tried must win."""
    merged = merge_data(simu.parse_data(spec))
    nodes, instances = merged.nodes, list(merged.instances)
    alloc_nodes = gen_alloc_nodes(merged.groups, nodes, 2, True)
    grid = PairGrid()
    inst = inst_from_spec(SPECS[1], "drbd", 1)
    for _ in range(8):
        stats = metrics.cluster_statistics(nodes)
        fast = grid.evaluate(nodes, inst, alloc_nodes[1], want_all=True)  # type: ignore[arg-type]
        slow = evaluate_pairs(nodes, stats, inst, alloc_nodes[1], False, want_all=True)  # type: ignore[arg-type]
        assert fast is not None
        _assert_same(fast, slow)
        result = try_alloc(AllocOptions(capacity=False), nodes, instances, inst, alloc_nodes)
        assert result.best is not None
        nodes = result.best.nodes
        instances.append(result.best.inst)


def test_remembered_answers_are_bounded_per_state() -> None:
    """A long shrink chain cannot grow the memo past ``KEEP_ANSWERS`` for one state.

    The newest answers are the ones kept: a full memo forgets its oldest,
    so the question just asked is answered from it again.
    """
    merged = merge_data(simu.parse_data(["p,3,1T,64g,8"]))
    alloc_nodes = gen_alloc_nodes(merged.groups, merged.nodes, 1, True)
    memo = AllocMemo()
    memo.KEEP_ANSWERS = 5
    opts = AllocOptions(capacity=False, memo=memo)
    fresh = AllocOptions(capacity=False)
    for mem in range(128, 128 + 64 * 20, 64):
        inst = inst_from_spec(RSpec(cpu=1, mem=mem, dsk=1024, spn=1), "plain", 1)
        first = try_alloc(opts, merged.nodes, [], inst, alloc_nodes)
        again = try_alloc(opts, merged.nodes, [], inst, alloc_nodes)
        expected = try_alloc(fresh, merged.nodes, [], inst, alloc_nodes)
        assert again is first
        assert first.failures == again.failures == expected.failures
        assert (first.best is None) == (expected.best is None)
    assert len(memo.answers(merged.nodes)) <= 5
