"""Cluster-wide allocation (Ganeti's ``Cluster.hs``): tryAlloc, iterateAlloc, tieredAlloc."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from ganeti_agent.htools import fitcheck, globaln1, metrics
from ganeti_agent.htools import instance as hinst
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.grid import PairGrid
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.instance import NO_SECONDARY, Instance
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.pairs import PairResult, evaluate_pairs
from ganeti_agent.htools.primitives import (
    Candidate,
    Solution,
    add_instance,
    allocate_on_each,
    collection_to_solution,
    extract_nodes,
)
from ganeti_agent.htools.types import FailMode

AllocNodes = tuple[str, list[int] | list[tuple[int, list[int]]]]
FailStats = list[tuple[FailMode, int]]


class AllocError(Exception):
    """tryAlloc's own failure ("Not enough online nodes")."""


# Up to this many primaries, a failed DRBD allocation is recognised pair by
# pair in Python (fitcheck) before the matrices are built: cheaper for the
# small clusters where tiered allocation asks the most failing questions.
_SCALAR_PRIMARIES = 8

_NAMING_FIELDS = frozenset({"name", "alias", "idx"})
_PLACEMENT_FIELDS = tuple(
    f.name for f in dataclasses.fields(Instance) if f.name not in _NAMING_FIELDS
)


def _placement_key(inst: Instance) -> tuple[object, ...]:
    """What decides where an instance can go: everything but its name and index."""
    return tuple(getattr(inst, name) for name in _PLACEMENT_FIELDS)


class Answers(OrderedDict[object, object]):
    """One cluster state's remembered answers, the oldest forgotten first past ``limit``.

    A tiered run reuses what it learnt last (the walk from the next-larger
    size is a suffix of the one just made), so dropping the oldest keeps
    what pays while bounding memory; refusing new answers once full would
    make every later walk start again from nothing.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: object, value: object) -> None:
        self[key] = value
        if len(self) > self.limit:
            self.popitem(last=False)


class AllocMemo:
    """What one hspace run computes more than once, per cluster state.

    Tiered allocation asks the same state the same question again and again
    (each failure mode walks its shrink chain from the same state); answers
    are pure functions of (node list, instance), remembered for the few
    most recent node lists. The pair grid keeps the nodes' arrays between
    allocations.
    """

    KEEP_STATES = 8
    KEEP_ANSWERS = 50_000  # per state, the oldest forgotten first: memory stays bounded

    def __init__(self) -> None:
        self.grid = PairGrid()
        self._states: dict[int, tuple[list[Node], Answers]] = {}

    def answers(self, nodes: list[Node]) -> Answers:
        entry = self._states.get(id(nodes))
        if entry is None or entry[0] is not nodes:
            if len(self._states) >= self.KEEP_STATES:
                del self._states[next(iter(self._states))]
            entry = (nodes, Answers(self.KEEP_ANSWERS))
            self._states[id(nodes)] = entry
        return entry[1]

    def pairs(
        self,
        nodes: list[Node],
        inst: Instance,
        pairs: list[tuple[int, list[int]]],
        want_all: bool,
    ) -> PairResult:
        answers = self.answers(nodes)
        key = ("pairs", _placement_key(inst), id(pairs))
        found = answers.get(key)
        if isinstance(found, PairResult) and (found.valid is not None or not want_all):
            return found
        if isinstance(found, PairResult) and found.allocs == 0:
            found.valid = []  # no valid pair: the full list is known
            return found
        result = self.grid.evaluate(nodes, inst, pairs, want_all)
        if result is None:
            stats = self.grid.statistics(nodes)
            result = evaluate_pairs(nodes, stats, inst, pairs, False, want_all=want_all)
        answers.remember(key, result)
        return result

    def redundant(self, opts: AllocOptions, nodes: list[Node], instances: list[Instance]) -> bool:
        if self.never_redundant(opts, nodes, instances):
            return False
        return self._n1_answer("n1", globaln1.redundant, opts, nodes, instances)

    def never_redundant(
        self, opts: AllocOptions, nodes: list[Node], instances: list[Instance]
    ) -> bool:
        """``globaln1.never_redundant``, once per cluster state and N+1 scope."""
        return self._n1_answer("never-n1", globaln1.never_redundant, opts, nodes, instances)

    def _n1_answer(
        self,
        question: str,
        answer: Callable[[AllocOptions, list[Node], list[Instance]], bool],
        opts: AllocOptions,
        nodes: list[Node],
        instances: list[Instance],
    ) -> bool:
        answers = self.answers(nodes)
        key = (question, len(instances), opts.accept_existing, opts.ignore_groups)
        found = answers.get(key)
        if isinstance(found, bool):
            return found
        result = answer(opts, nodes, instances)
        answers.remember(key, result)
        return result


@dataclass(slots=True)
class AllocOptions:
    capacity: bool = True
    ignore_groups: tuple[int, ...] = ()
    accept_existing: bool = False
    memo: AllocMemo = field(default_factory=AllocMemo, compare=False, repr=False)


@dataclass(slots=True)
class CStats:
    fmem: int = 0
    fdsk: int = 0
    fspn: int = 0
    amem: int = 0
    adsk: int = 0
    acpu: int = 0
    mmem: int = 0
    mdsk: int = 0
    mcpu: int = 0
    imem: int = 0
    idsk: int = 0
    ispn: int = 0
    icpu: int = 0
    tmem: float = 0.0
    tdsk: float = 0.0
    tspn: float = 0.0
    tcpu: float = 0.0
    vcpu: int = 0
    ncpu: float = 0.0
    xmem: int = 0
    nmem: int = 0
    score: float = 0.0
    ninst: int = 0


def total_resources(nodes: list[Node]) -> CStats:
    cs = CStats()
    for n in nodes:
        cs.fmem += n.unallocated_mem
        cs.fdsk += n.f_dsk
        cs.fspn += n.f_spindles
        cs.amem += n.avail_mem
        cs.adsk += n.avail_disk
        cs.acpu += n.avail_cpu
        cs.mmem = max(cs.mmem, n.avail_mem)
        cs.mdsk = max(cs.mdsk, n.avail_disk)
        cs.mcpu = max(cs.mcpu, n.avail_cpu)
        cs.imem += n.i_mem
        cs.idsk += math.trunc(n.t_dsk) - n.f_dsk
        cs.ispn += n.t_spindles - n.f_spindles
        cs.icpu += n.u_cpu
        cs.tmem = cs.tmem + n.t_mem
        cs.tdsk = cs.tdsk + n.t_dsk
        cs.tspn = cs.tspn + float(n.t_spindles)
        cs.tcpu = cs.tcpu + n.t_cpu
        cs.vcpu += n.hi_cpu
        cs.ncpu = cs.ncpu + hnode.div(float(n.u_cpu), n.ipolicy.vcpu_ratio)
        cs.xmem += n.x_mem
        cs.nmem += n.n_mem
        cs.ninst += len(n.plist)
    cs.score = metrics.comp_cv(nodes)
    return cs


def gen_alloc_nodes(
    groups: dict[int, Group], nodes: list[Node], count: int, drop_unalloc: bool
) -> AllocNodes:
    usable = [n for n in nodes if not n.offline]
    if drop_unalloc:
        usable = [n for n in usable if groups[n.group].is_allocable]
    if count == 1:
        return ("single", [n.idx for n in usable])
    pairs = [
        (p.idx, [s.idx for s in usable if s.idx != p.idx and s.group == p.group]) for p in usable
    ]
    return ("pairs", [(p, ss) for p, ss in pairs if ss])


def _counts(failures: list[FailMode]) -> dict[FailMode, int]:
    out: dict[FailMode, int] = {}
    for mode in failures:
        out[mode] = out.get(mode, 0) + 1
    return out


@dataclass(slots=True)
class AllocResult:
    failures: dict[FailMode, int]
    best: Candidate | None


def _place_pair(nodes: list[Node], inst: Instance, pdx: int, sdx: int, score: float) -> Candidate:
    p, s = nodes[pdx], nodes[sdx]
    located = dataclasses.replace(
        inst, pnode=pdx, snode=sdx, location_score=len(p.location_tags & s.location_tags)
    )
    new_p = hnode.add_pri(p, located, False)
    new_s = hnode.add_sec(s, located, pdx, False)
    assert not isinstance(new_p, FailMode) and not isinstance(new_s, FailMode)
    new_nodes = list(nodes)
    new_nodes[pdx] = new_p
    new_nodes[sdx] = new_s
    return Candidate(new_nodes, located, [new_p, new_s], score)


def try_alloc(
    opts: AllocOptions,
    nodes: list[Node],
    instances: list[Instance],
    inst: Instance,
    alloc_nodes: AllocNodes,
) -> AllocResult:
    """``tryAlloc``: the best placement of ``inst`` and every failure met.

    Remembered per cluster state: tiered allocation asks the same question
    once per failure mode. A failed try does not depend on the instance's
    name, a successful one does (the placed instance carries it).
    """
    answers = opts.memo.answers(nodes)
    settings = (len(instances), opts.capacity, opts.ignore_groups, opts.accept_existing)
    failed_key = ("failed", _placement_key(inst), id(alloc_nodes[1]), *settings)
    placed_key = ("placed", inst, id(alloc_nodes[1]), *settings)
    for key in (failed_key, placed_key):
        found = answers.get(key)
        if isinstance(found, AllocResult):
            return found
    result = _try_alloc(opts, nodes, instances, inst, alloc_nodes)
    answers.remember(failed_key if result.best is None else placed_key, result)
    return result


def _try_alloc(
    opts: AllocOptions,
    nodes: list[Node],
    instances: list[Instance],
    inst: Instance,
    alloc_nodes: AllocNodes,
) -> AllocResult:
    kind, targets = alloc_nodes
    is_good: Callable[[Candidate], bool] | None = None
    never_good = opts.capacity and opts.memo.never_redundant(opts, nodes, instances)
    if never_good:

        def is_good(cand: Candidate) -> bool:
            return False

    elif opts.capacity:

        def is_good(cand: Candidate) -> bool:
            new_il = add_instance(instances, cand)
            new_nl = extract_nodes(nodes, len(instances), cand)
            changed = tuple(node.idx for node in cand.changed)
            return globaln1.redundant(opts, new_nl, new_il, first=changed)

    if kind == "pairs":
        if not targets:
            raise AllocError("Not enough online nodes")
        pairs: list[tuple[int, list[int]]] = targets  # type: ignore[assignment]
        if fitcheck.applies(inst) and len(pairs) <= _SCALAR_PRIMARIES:
            nowhere = fitcheck.failures(nodes, inst, pairs)
            if nowhere is not None:
                return AllocResult(nowhere, None)
        result = opts.memo.pairs(nodes, inst, pairs, is_good is not None)
        if is_good is None:
            best = None
            if result.best is not None:
                best = _place_pair(nodes, inst, *result.best)
            return AllocResult(result.failures, best)
        assert result.valid is not None
        if not result.valid:
            return AllocResult(result.failures, None)
        failures = dict(result.failures)
        if never_good:
            failures[FailMode.FailN1] = failures.get(FailMode.FailN1, 0) + len(result.valid)
            return AllocResult(failures, None)
        chosen: Candidate | None = None
        by_primary: dict[int, list[tuple[int, int, float]]] = {}
        for item in result.valid:
            by_primary.setdefault(item[0], []).append(item)
        for pdx, _ in pairs:
            items = by_primary.get(pdx, [])
            ordered = sorted(reversed(items), key=lambda t: t[2])
            for item in ordered:
                cand = _place_pair(nodes, inst, *item)
                if is_good(cand):
                    if chosen is None or not chosen.score < cand.score:
                        chosen = cand
                    break
                failures[FailMode.FailN1] = failures.get(FailMode.FailN1, 0) + 1
        return AllocResult(failures, chosen)
    singles: list[int] = targets  # type: ignore[assignment]
    if not singles:
        raise AllocError("No online nodes")
    if fitcheck.applies(inst):
        nowhere = fitcheck.failures(nodes, inst, singles)
        if nowhere is not None:
            return AllocResult(nowhere, None)
    if is_good is not None:
        in_scope = functools.partial(globaln1.in_scope, opts)

        def may_pass(cand: Candidate) -> bool:
            return fitcheck.can_leave(nodes, inst, cand.inst.pnode, in_scope)

        return _singles_checked(nodes, inst, singles, is_good, may_pass)
    errs, cands = allocate_on_each(nodes, inst, singles, False)
    sol: Solution = collection_to_solution(errs, cands, is_good)
    return AllocResult(_counts(sol.failures), sol.best)


def _singles_checked(
    nodes: list[Node],
    inst: Instance,
    singles: list[int],
    is_good: Callable[[Candidate], bool],
    may_pass: Callable[[Candidate], bool] = lambda cand: True,
) -> AllocResult:
    """Single-node placements under the capacity check, scored only when one may pass it.

    ``may_pass`` is a cheap necessary condition of ``is_good``
    (``fitcheck.can_leave``). When no candidate meets it (a shrink walk's
    N+1 failures, hundreds per walk) every candidate is dropped whatever
    its score, and the cluster scores, the dearest part of a placement,
    are never needed. Otherwise ``is_good`` runs in Ganeti's order, best
    score first, until one passes: a passing N+1 check is the dearest
    question of all.
    """
    errs, cands = allocate_on_each(nodes, inst, singles, False, scored=False)
    hopeful = {id(cand) for cand in cands if may_pass(cand)}
    if not hopeful:
        return AllocResult(_counts([FailMode.FailN1] * len(cands) + errs), None)
    for cand in cands:
        cand.score = metrics.comp_cv(cand.nodes)
    sol = collection_to_solution(errs, cands, lambda cand: id(cand) in hopeful and is_good(cand))
    return AllocResult(_counts(sol.failures), sol.best)


def collapse(failures: dict[FailMode, int]) -> FailStats:
    return [(mode, failures.get(mode, 0)) for mode in FailMode]


@dataclass(slots=True)
class State:
    nodes: list[Node]
    instances: list[Instance]
    placed: list[Instance]  # newest first, like Ganeti's ixes


def _small_steps(
    opts: AllocOptions, state: State, limit: int | None, newinst: Instance, alloc_nodes: AllocNodes
) -> tuple[FailStats, State]:
    nodes, instances, placed = state.nodes, state.instances, list(state.placed)
    step_opts = opts
    if newinst.disk_template == "drbd":
        step_opts = dataclasses.replace(opts, capacity=False)
    while True:
        new_idx = len(instances)
        candidate_inst = dataclasses.replace(
            newinst, name=f"new-{len(placed)}", alias=f"new-{len(placed)}", idx=new_idx
        )
        result = try_alloc(step_opts, nodes, instances, candidate_inst, alloc_nodes)
        if result.best is None or limit == 0:
            return collapse(result.failures), State(nodes, instances, placed)
        cand = result.best
        nodes = extract_nodes(nodes, len(instances), cand)
        xi = dataclasses.replace(cand.inst, idx=new_idx)
        instances = [*instances, xi]
        placed.insert(0, xi)
        if limit is not None:
            limit -= 1


def _bigstep_size(nodes: list[Node], inst: Instance) -> int:
    total = sum(n.avail_mem for n in nodes)
    guess = total // inst.mem - len(nodes)
    return 20 if guess < 20 else guess


def iterate_alloc(
    opts: AllocOptions,
    state: State,
    limit: int | None,
    newinst: Instance,
    alloc_nodes: AllocNodes,
    huge: bool = True,
) -> tuple[FailStats, State]:
    """``iterateAlloc'``: big unchecked steps kept while the cluster stays N+1 redundant."""
    if not opts.capacity or opts.memo.never_redundant(opts, state.nodes, state.instances):
        return _small_steps(opts, state, limit, newinst, alloc_nodes)
    while True:
        size = _bigstep_size(state.nodes, newinst) if huge else 10
        if limit is None:
            step_limit, new_limit = size, None
        else:
            step_limit, new_limit = min(size, limit), max(0, limit - size)
        unchecked = dataclasses.replace(opts, capacity=False)
        res, new_state = _small_steps(unchecked, state, step_limit, newinst, alloc_nodes)
        if opts.memo.redundant(opts, new_state.nodes, new_state.instances):
            if new_limit == 0 or len(new_state.placed) == len(state.placed):
                return res, new_state
            state, limit = new_state, new_limit
            continue
        if huge:
            huge = False
            continue
        return _small_steps(opts, state, limit, newinst, alloc_nodes)


def _try_alloc_or_empty(
    opts: AllocOptions, state: State, inst: Instance, alloc_nodes: AllocNodes
) -> AllocResult:
    try:
        return try_alloc(opts, state.nodes, state.instances, inst, alloc_nodes)
    except AllocError:
        return AllocResult({}, None)


def _suffices_shrinking(
    opts: AllocOptions, state: State, inst: Instance, mode: FailMode, alloc_nodes: AllocNodes
) -> Instance | None:
    """``sufficesShrinking``: the first shrunk size that fits, while ``mode`` keeps failing.

    Ganeti walks ``iterateOk``, which drops the last size of the chain (the
    one that cannot shrink further): a size is tried only if it could still
    shrink. The sizes that fit nowhere are skipped by the checks alone
    (``fitcheck.walk_stop``); a size some target passes is tried for real.
    Every size tried gets the walk's answer (the walk from it is a suffix
    of this one), remembered per cluster state.
    """
    if opts.capacity and opts.memo.never_redundant(opts, state.nodes, state.instances):
        return None
    answers = opts.memo.answers(state.nodes)
    tried: list[object] = []
    answer: Instance | None = None
    current: Instance | None = inst
    while current is not None:
        key: object = ("shrink", opts.capacity, len(state.instances), mode, current)
        if key in answers:
            answer = answers[key]  # type: ignore[assignment]
            break
        tried.append(key)
        answer, current = _walk_step(opts, state, current, mode, alloc_nodes)
    for key in tried:
        answers.remember(key, answer)
    return answer


def _walk_step(
    opts: AllocOptions, state: State, inst: Instance, mode: FailMode, alloc_nodes: AllocNodes
) -> tuple[Instance | None, Instance | None]:
    """From ``inst``: (the walk's answer, None) once known, or (None, where it goes on)."""
    try:
        if alloc_nodes[0] == "pairs" and len(alloc_nodes[1]) > _SCALAR_PRIMARIES:
            raise ValueError("the pair matrices answer faster")
        in_scope = None
        if opts.capacity and alloc_nodes[0] == "single":
            in_scope = functools.partial(globaln1.in_scope, opts)
        stop = fitcheck.walk_stop(state.nodes, inst, mode, alloc_nodes[1], in_scope)
    except ValueError:
        smaller = hinst.shrink_by_type(inst, mode)
        if smaller is None:
            return None, None
        candidate = inst
    else:
        if stop is None or not stop[1]:
            return None, None
        candidate = fitcheck.nth_shrink(inst, mode, stop[0])
        smaller = fitcheck.nth_shrink(candidate, mode, 1)
    result = _try_alloc_or_empty(opts, state, candidate, alloc_nodes)
    if result.best is not None:
        return candidate, None
    if result.failures.get(mode, 0) <= 0:
        return None, None
    return None, smaller


def tiered_alloc(
    opts: AllocOptions, state: State, limit: int | None, newinst: Instance, alloc_nodes: AllocNodes
) -> tuple[FailStats, State]:
    """``tieredAlloc``: allocate, shrink by the most frequent failure, repeat."""
    errs, new_state = iterate_alloc(opts, state, limit, newinst, alloc_nodes)
    count = len(new_state.placed)
    if limit is not None:
        if limit <= count:
            return errs, new_state
        new_limit: int | None = limit - count
    else:
        new_limit = None
    sorted_errs = [mode for mode, _ in sorted(errs, key=lambda e: e[1])]
    shrunk = hinst.shrink_by_type(newinst, sorted_errs[-1])
    if shrunk is not None:
        deeper = tiered_alloc(opts, new_state, new_limit, shrunk, alloc_nodes)
        if len(deeper[1].instances) > len(new_state.instances):
            return deeper
    for mode in reversed(sorted_errs):
        big = _suffices_shrinking(opts, new_state, newinst, mode, alloc_nodes)
        if big is not None:
            return tiered_alloc(opts, new_state, new_limit, big, alloc_nodes)
    return errs, new_state


def bad_nodes(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if not n.offline and n.fail_n1]


_ = NO_SECONDARY
