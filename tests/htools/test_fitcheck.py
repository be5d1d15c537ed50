"""The checks alone give the failures the full allocation path gives.

``fitcheck`` answers "where does this instance fit?" without building
candidate nodes, one size at a time or for a whole shrink chain with
arrays. The reference here is the full path: ``allocate_on_single`` per
node and ``evaluate_pairs`` per primary, on random clusters.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from ganeti_agent.htools import fitcheck, globaln1, metrics, text
from ganeti_agent.htools import instance as hinst
from ganeti_agent.htools.cluster import gen_alloc_nodes
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.hspace import inst_from_spec
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.loader import merge_data, update_missing
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.pairs import evaluate_pairs
from ganeti_agent.htools.primitives import allocate_on_single
from ganeti_agent.htools.types import FailMode, RSpec
from tests.htools.random_clusters import random_cluster

WALKED = (FailMode.FailMem, FailMode.FailDisk, FailMode.FailCPU, FailMode.FailSpindles)


def _full_path(
    nodes: list[Node], inst: Instance, targets: fitcheck.Targets
) -> dict[FailMode, int] | None:
    """The failures of every target by the full path; None when some target passes."""
    pairs = [t for t in targets if isinstance(t, tuple)]
    if pairs:
        stats = metrics.cluster_statistics(nodes)
        result = evaluate_pairs(nodes, stats, inst, pairs, False)
        return None if result.allocs else result.failures
    found: dict[FailMode, int] = {}
    for pdx in targets:
        assert isinstance(pdx, int)
        res = allocate_on_single(nodes, inst, pdx, False)
        if not isinstance(res, FailMode):
            return None
        found[res] = found.get(res, 0) + 1
    return found


def _walk_by_full_path(
    nodes: list[Node], inst: Instance, mode: FailMode, targets: fitcheck.Targets
) -> tuple[int, bool] | None:
    """Where ``sufficesShrinking`` stops, one full allocation per size."""
    current, k = inst, 0
    while (smaller := hinst.shrink_by_type(current, mode)) is not None:
        found = _full_path(nodes, current, targets)
        if found is None or found.get(mode, 0) <= 0:
            return k, found is None
        current, k = smaller, k + 1
    return None


def _cluster(seed: int) -> tuple[list[Node], dict[int, Group], random.Random]:
    rng = random.Random(seed)
    merged = merge_data(text.parse_data(random_cluster(rng, max_nodes=5, max_instances=8)))
    _, nodes = update_missing(merged.nodes, merged.instances)
    return nodes, merged.groups, rng


def _instance(rng: random.Random, template: str, big: bool) -> Instance:
    spec = RSpec(
        cpu=rng.choice([1, 2, 8]),
        mem=rng.choice([128, 1024, 4096, 8192] if big else [128, 512, 1024]),
        dsk=rng.choice([1024, 8192, 20480] if big else [1024, 4096]),
        spn=rng.choice([1, 2, 12]),
    )
    inst = inst_from_spec(spec, template, rng.choice([1, 2]))
    if rng.random() < 0.2:
        inst = dataclasses.replace(inst, run_st=rng.choice(["ADMIN_down", "ADMIN_offline"]))
    if rng.random() < 0.2:
        inst = dataclasses.replace(inst, auto_balance=False)
    if rng.random() < 0.2:
        inst = dataclasses.replace(inst, excl_tags=("service:dns",))
    return inst


def _targets(groups: dict[int, Group], nodes: list[Node], template: str) -> fitcheck.Targets:
    return gen_alloc_nodes(groups, nodes, 2 if template == "drbd" else 1, True)[1]


def test_failures_equal_the_full_path_on_random_clusters() -> None:
    seen = {"passes": 0, "fails": 0}
    for seed in range(120):
        nodes, groups, rng = _cluster(seed)
        for template in ("drbd", "plain", "file", "diskless", "sharedfile"):
            targets = _targets(groups, nodes, template)
            for _ in range(4):
                inst = _instance(rng, template, big=False)
                expected = _full_path(nodes, inst, targets)
                assert fitcheck.failures(nodes, inst, targets) == expected, (seed, template, inst)
                seen["passes" if expected is None else "fails"] += 1
    assert min(seen.values()) > 100, seen


def test_shrink_chain_is_ganetis_iterate_ok() -> None:
    """``nth_shrink`` and ``chain_length`` follow ``shrinkByType``; the last size is left out."""
    rng = random.Random(3)
    for _ in range(50):
        inst = _instance(rng, rng.choice(["drbd", "plain"]), big=True)
        for mode in WALKED:
            chain = []
            current = inst
            while (smaller := hinst.shrink_by_type(current, mode)) is not None:
                chain.append(current)
                current = smaller
            assert fitcheck.chain_length(inst, mode) == len(chain)
            assert [fitcheck.nth_shrink(inst, mode, k) for k in range(len(chain))] == chain


@pytest.mark.parametrize("cells", [fitcheck.ARRAY_CELLS, 8])
def test_walks_stop_where_the_full_path_stops(cells: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Long walks go through the array path; every stop matches the one-by-one walk.

    With 8 cells per array, the chains go in blocks of a few sizes: the
    bound on array memory does not change where a walk stops.
    """
    monkeypatch.setattr(fitcheck, "ARRAY_CELLS", cells)
    long_walks = {True: 0, False: 0}
    for seed in range(60):
        nodes, groups, rng = _cluster(1000 + seed)
        for template in ("drbd", "plain", "file"):
            targets = _targets(groups, nodes, template)
            for _ in range(3):
                inst = _instance(rng, template, big=True)
                for mode in WALKED:
                    expected = _walk_by_full_path(nodes, inst, mode, targets)
                    stop = fitcheck.walk_stop(nodes, inst, mode, targets)
                    assert stop == expected, (seed, template, mode, inst)
                    if stop is not None and stop[0] >= fitcheck._SCALAR_STEPS:
                        long_walks[stop[1]] += 1
    assert min(long_walks.values()) > 5, long_walks


def _leaves(nodes: list[Node], inst: Instance, pdx: int) -> bool:
    """``can_leave`` by ``globaln1``'s own escape check (every node in N+1 scope)."""
    escape = [n.idx for n in nodes if n.group == nodes[pdx].group and n.idx != pdx]
    return not globaln1.escapes_nowhere(nodes, nodes[pdx], inst, escape)


def test_can_leave_is_the_evacuation_check() -> None:
    seen = {True: 0, False: 0}
    for seed in range(80):
        nodes, groups, rng = _cluster(3000 + seed)
        for template in ("plain", "file", "diskless", "sharedfile"):
            for _ in range(4):
                inst = _instance(rng, template, big=rng.random() < 0.5)
                for pdx in _targets(groups, nodes, template):
                    assert isinstance(pdx, int)
                    expected = _leaves(nodes, inst, pdx)
                    assert fitcheck.can_leave(nodes, inst, pdx, lambda n: True) == expected
                    seen[expected] += 1
    assert min(seen.values()) > 100, seen


def _walk_with_leave_check(
    nodes: list[Node], inst: Instance, mode: FailMode, targets: list[int]
) -> tuple[int, bool] | None:
    """Where the walk stops when a passing target counts only if the instance can leave it."""
    current, k = inst, 0
    while (smaller := hinst.shrink_by_type(current, mode)) is not None:
        codes = [allocate_on_single(nodes, current, pdx, False) for pdx in targets]
        passes = any(
            not isinstance(code, FailMode) and _leaves(nodes, current, pdx)
            for code, pdx in zip(codes, targets, strict=True)
        )
        if passes or mode not in codes:
            return k, passes
        current, k = smaller, k + 1
    return None


def test_walks_with_the_leave_check_stop_where_one_by_one_stops() -> None:
    """The array path (``_chain_leaves``) against the leave check size by size."""
    long_walks = {True: 0, False: 0}
    for seed in range(60):
        nodes, groups, rng = _cluster(4000 + seed)
        for template in ("plain", "file", "diskless"):
            targets = [t for t in _targets(groups, nodes, template) if isinstance(t, int)]
            if not targets:
                continue
            for _ in range(3):
                inst = _instance(rng, template, big=True)
                for mode in WALKED:
                    expected = _walk_with_leave_check(nodes, inst, mode, targets)
                    try:
                        stop = fitcheck.walk_stop(nodes, inst, mode, targets, lambda n: True)
                    except ValueError:
                        continue
                    assert stop == expected, (seed, template, mode, inst)
                    if stop is not None and stop[0] >= fitcheck._SCALAR_STEPS:
                        long_walks[stop[1]] += 1
    assert min(long_walks.values()) > 5, long_walks


def test_chain_leave_checks_are_the_one_by_one_checks() -> None:
    """Every size and target of ``_chain_leaves`` against ``can_leave`` of that size."""
    outcomes = {True: 0, False: 0}
    for seed in range(40):
        nodes, groups, rng = _cluster(5000 + seed)
        for template in ("plain", "file", "diskless"):
            targets = [t for t in _targets(groups, nodes, template) if isinstance(t, int)]
            if not targets:
                continue
            inst = _instance(rng, template, big=True)
            for mode in WALKED:
                length = fitcheck.chain_length(inst, mode)
                if not length:
                    continue
                ks = np.arange(0, min(length, 60), dtype=np.int64)
                with np.errstate(all="ignore"):
                    matrix = fitcheck._chain_leaves(nodes, inst, mode, targets, ks, lambda n: True)
                for k in ks:
                    sized = fitcheck.nth_shrink(inst, mode, int(k))
                    row = [fitcheck.can_leave(nodes, sized, pdx, lambda n: True) for pdx in targets]
                    assert matrix[k].tolist() == row, (seed, template, mode, int(k))
                    outcomes[all(row)] += 1
    assert min(outcomes.values()) > 20, outcomes
