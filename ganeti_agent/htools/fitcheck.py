"""Why an instance fits nowhere, without building the nodes it would make.

Tiered allocation on a small cluster asks up to millions of questions whose
answer is "nowhere": one per shrink step and one per size of every
``sufficesShrinking`` walk. Ganeti answers each in a microsecond or two.
Building the candidate nodes (``addPriEx``, ``addSecExEx``) or the pair
matrices of ``grid`` costs far more than the answer. This module runs only
the strict checks of ``instMatchesPolicy``, ``addPriEx`` and ``addSecExEx``,
in their order, and stops at the first target that passes: the caller then
takes the full path, which finds the best placement.

The checks are written once over "sizes" that are either plain integers
(one instance) or NumPy arrays (every size of one shrink chain at once), so
a whole ``sufficesShrinking`` walk costs a few array operations.
Forthcoming instances take other checks and are left to the full path.

Under the capacity check a size that passes the node checks can still fail
global N+1; ``can_leave`` (one size) and ``_chain_leaves`` (a chain) tell,
from forced placements alone, when it must: the new instance could not
leave its node again.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ganeti_agent.htools import instance as hinst
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.instance import Disk, Instance
from ganeti_agent.htools.node import Node, div
from ganeti_agent.htools.types import (
    SHARED_MOVABLE,
    UNIT_CPU,
    UNIT_DSK,
    UNIT_MEM,
    UNIT_SPINDLE,
    FailMode,
    IPolicy,
    ISpec,
)

Failures = dict[FailMode, int]
Targets = list[int] | list[tuple[int, list[int]]]
Num = Any  # an int, or an int64 array over the sizes of a shrink chain
Check = tuple[Any, FailMode]  # (failed: bool or bool array, why)
NONE = -1
_SCALAR_STEPS = 1  # sizes tried one by one before a walk goes to arrays
ARRAY_CELLS = 1 << 18  # sizes x targets per array: a huge spec's chain goes in blocks


def applies(inst: Instance) -> bool:
    return not inst.forthcoming


@dataclass(frozen=True, slots=True)
class Sizes:
    """What the checks read of the instance that shrinks: memory, disk, vcpus, spindles."""

    mem: Num
    dsk: Num
    vcpus: Num
    spindles: Num | None  # None: a disk without a spindle count

    @classmethod
    def of(cls, inst: Instance) -> Sizes:
        return cls(inst.mem, inst.dsk, inst.vcpus, inst.total_spindles())


def _below(value: Num, bound: Num) -> Any:
    return value < bound


def _ratio(num: Num, den: float) -> Num:
    """``div`` of node.py, for an integer or an array numerator."""
    if isinstance(num, np.ndarray):
        if den:
            return num / den
        return np.where(num == 0, np.nan, np.where(num > 0, np.inf, -np.inf))
    return div(num, den)


def _disk_checks(node: Node, inst: Instance, s: Sizes, forth: bool) -> list[Check]:
    """The disk checks both roles share: free disk, free spindles, spindle ratio."""
    free = (node.f_dsk_forth if forth else node.f_dsk) - s.dsk
    checks: list[Check] = [((free <= 0) | _below(free, node.lo_dsk), FailMode.FailDisk)]
    if node.excl_stor:
        have = node.f_spindles_forth if forth else node.f_spindles
        left = -1 if s.spindles is None else have - s.spindles
        checks.append((_below(left, 0), FailMode.FailSpindles))
        used = 0.0
    else:
        used = (node.inst_spindles_forth if forth else node.inst_spindles) + inst.spindle_use
    checks.append((used > node.hi_spindles, FailMode.FailDisk))
    return checks


def _primary_checks(node: Node, inst: Instance, s: Sizes) -> list[Check]:
    """``addPriEx``'s strict checks for a present instance, in order."""
    uses_disk = inst.uses_local_storage
    base_mem = math.trunc(node.t_mem) - node.n_mem - node.i_mem - max(0, node.x_mem)
    free_mem = base_mem - s.mem if inst.uses_memory else base_mem
    vcpus = 0 if inst.is_offline else s.vcpus
    l_cpu = node.ipolicy.vcpu_ratio
    cpu_checked = l_cpu >= 0
    checks: list[Check] = [(free_mem <= 0, FailMode.FailMem)]
    if uses_disk:
        checks.extend(_disk_checks(node, inst, s, False))
    checks.append(((free_mem <= node.r_mem) & (not node.fail_n1), FailMode.FailMem))
    pcpu = _ratio(node.u_cpu + vcpus, node.t_cpu)
    checks.append((cpu_checked & _below(l_cpu, pcpu), FailMode.FailCPU))
    tags = any(tag in node.p_tags for tag in inst.excl_tags)
    checks.append((tags, FailMode.FailTags))
    checks.append((node.f_mem_forth - s.mem <= 0, FailMode.FailMem))
    if uses_disk:
        checks.extend(_disk_checks(node, inst, s, True))
    pcpu_forth = _ratio(node.u_cpu_forth + vcpus, node.t_cpu)
    checks.append((cpu_checked & _below(l_cpu, pcpu_forth), FailMode.FailCPU))
    return checks


def _secondary_checks(node: Node, inst: Instance, pdx: int, s: Sizes) -> list[Check]:
    """``addSecExEx``'s strict checks for a present instance whose primary is ``pdx``."""
    if not inst.has_secondary:
        return [(True, FailMode.FailDisk)]
    sec_mem = s.mem if inst.uses_sec_mem else 0
    old_mem = node.unallocated_mem
    peer_mem = node.peers.get(pdx, 0) + sec_mem
    new_rmem = np.maximum(node.r_mem, peer_mem) if isinstance(peer_mem, np.ndarray) else None
    r_mem = max(node.r_mem, peer_mem) if new_rmem is None else new_rmem
    return [
        *_disk_checks(node, inst, s, False),
        (sec_mem >= old_mem, FailMode.FailMem),
        ((old_mem <= r_mem) & (not node.fail_n1), FailMode.FailMem),
        *_disk_checks(node, inst, s, True),
        (sec_mem >= node.f_mem_forth, FailMode.FailMem),
    ]


def _first(checks: list[Check]) -> FailMode | None:
    for failed, mode in checks:
        if failed:
            return mode
    return None


def _first_codes(checks: list[Check], size: int) -> NDArray[np.int64]:
    """Per size, the first check that fails (``NONE``: none does).

    Many checks do not depend on the walked size and are plain booleans:
    a false one costs nothing, a true one settles every size still open.
    """
    codes = np.full(size, NONE, dtype=np.int64)
    still_open: Any = None  # None: every size
    for failed, mode in checks:
        if isinstance(failed, bool | np.bool_):
            if failed:
                codes[slice(None) if still_open is None else still_open] = int(mode)
                return codes
            continue
        codes[failed if still_open is None else failed & still_open] = int(mode)
        still_open = ~failed if still_open is None else still_open & ~failed
    return codes


class _Policies:
    """``instMatchesPolicy`` once per (policy, exclusive storage) of one question."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.seen: dict[tuple[int, bool], tuple[IPolicy, FailMode | None]] = {}

    def failure(self, node: Node) -> FailMode | None:
        key = (id(node.ipolicy), node.excl_stor)
        found = self.seen.get(key)
        if found is None or found[0] is not node.ipolicy:
            found = (node.ipolicy, hinst.matches_policy(self.inst, node.ipolicy, node.excl_stor))
            self.seen[key] = found
        return found[1]


def _count(failures: Failures, mode: FailMode, times: int = 1) -> None:
    failures[mode] = failures.get(mode, 0) + times


def failures(nodes: list[Node], inst: Instance, targets: Targets) -> Failures | None:
    """Every target's failure when ``inst`` fits on none; None when one passes.

    ``targets`` as ``genAllocNodes`` gives them: nodes, or (primary, secondaries).
    """
    policies = _Policies(inst)
    sizes = Sizes.of(inst)
    found: Failures = {}
    for target in targets:
        pdx, secondaries = target if isinstance(target, tuple) else (target, None)
        if secondaries == []:
            continue
        primary = nodes[pdx]
        err = policies.failure(primary)
        if err is None:
            err = _first(_primary_checks(primary, inst, sizes))
        if err is not None:
            _count(found, err, 1 if secondaries is None else len(secondaries))
            continue
        if secondaries is None:
            return None
        for sdx in secondaries:
            err = _first(_secondary_checks(nodes[sdx], inst, pdx, sizes))
            if err is None:
                return None
            _count(found, err)
    return found


def single_codes(nodes: list[Node], inst: Instance, targets: list[int]) -> list[FailMode | None]:
    """Each single-node target's first failed check, None where it passes."""
    policies = _Policies(inst)
    sizes = Sizes.of(inst)
    codes: list[FailMode | None] = []
    for pdx in targets:
        err = policies.failure(nodes[pdx])
        if err is None:
            err = _first(_primary_checks(nodes[pdx], inst, sizes))
        codes.append(err)
    return codes


# ------------------------------------------------- N+1: can the new instance leave?

InScope = Callable[[Node], bool]


def _forced_checks(node: Node, inst: Instance, s: Sizes) -> list[Check]:
    """``addPriEx`` with soft errors ignored: only the hard limits can fail."""
    base_mem = math.trunc(node.t_mem) - node.n_mem - node.i_mem - max(0, node.x_mem)
    free_mem = base_mem - s.mem if inst.uses_memory else base_mem
    checks: list[Check] = [(free_mem <= 0, FailMode.FailMem)]
    if inst.uses_local_storage:
        checks.append((node.f_dsk - s.dsk <= 0, FailMode.FailDisk))
        if node.excl_stor:
            left = -1 if s.spindles is None else node.f_spindles - s.spindles
            checks.append((_below(left, 0), FailMode.FailSpindles))
    return checks


def _escape_nodes(nodes: list[Node], inst: Instance, pdx: int) -> list[Node]:
    """Where evacuating ``pdx`` could put ``inst``: its group, by migration for shared storage."""
    node = nodes[pdx]
    shared = inst.disk_template in SHARED_MOVABLE
    return [
        other
        for other in nodes
        if other.group == node.group
        and other.idx != pdx
        and (not shared or hnode.migration_allowed(node, other))
    ]


def _takes(node: Node, inst: Instance, s: Sizes, policies: _Policies) -> bool:
    """Whether ``node`` takes ``inst`` by force now, as evacuation would place it."""
    if inst.disk_template not in SHARED_MOVABLE and policies.failure(node) is not None:
        return False
    return _first(_forced_checks(node, inst, s)) is None


def can_leave(nodes: list[Node], inst: Instance, pdx: int, in_scope: InScope) -> bool:
    """Whether ``inst`` placed alone on ``pdx`` could leave it again, should it fail.

    A necessary condition of global N+1 (``globaln1``) for a single-node
    placement: evacuating ``pdx`` recreates (or, on shared storage,
    migrates) the new instance on another node of its group, and the
    other nodes only lose room on the way (see ``never_redundant``). So a
    placement that fails this fails N+1, with no cluster built.
    """
    if not in_scope(nodes[pdx]):
        return True
    policies = _Policies(inst)
    sizes = Sizes.of(inst)
    return any(_takes(other, inst, sizes, policies) for other in _escape_nodes(nodes, inst, pdx))


# ---------------------------------------------------------------- shrink chains


def _walked(inst: Instance, mode: FailMode) -> tuple[int, int, int] | None:
    """The walked size, its step and its floor; None when no walk is modelled."""
    if len(inst.disks) != 1:
        return None
    if mode == FailMode.FailMem:
        return inst.mem, UNIT_MEM, UNIT_MEM
    if mode == FailMode.FailDisk:
        return inst.disks[0].size, UNIT_DSK, UNIT_DSK
    if mode == FailMode.FailCPU:
        return inst.vcpus, UNIT_CPU, UNIT_CPU
    if mode == FailMode.FailSpindles and inst.disks[0].spindles is not None:
        return inst.disks[0].spindles, UNIT_SPINDLE, UNIT_SPINDLE
    return None


def chain_length(inst: Instance, mode: FailMode) -> int | None:
    """How many sizes ``iterateOk (shrinkByType mode)`` yields (the last one never)."""
    walked = _walked(inst, mode)
    if walked is None:
        return None
    value, step, floor = walked
    return max(0, (value - floor) // step)


def nth_shrink(inst: Instance, mode: FailMode, k: int) -> Instance:
    """``shrinkByType`` applied ``k`` times (each step valid: ``k`` < chain length)."""
    if k == 0:
        return inst
    disk = inst.disks[0]
    if mode == FailMode.FailMem:
        return dataclasses.replace(inst, mem=inst.mem - k * UNIT_MEM)
    if mode == FailMode.FailDisk:
        cut = k * UNIT_DSK
        return dataclasses.replace(
            inst, dsk=inst.dsk - cut, disks=(Disk(disk.size - cut, disk.spindles),)
        )
    if mode == FailMode.FailCPU:
        return dataclasses.replace(inst, vcpus=inst.vcpus - k * UNIT_CPU)
    assert disk.spindles is not None
    return dataclasses.replace(inst, disks=(Disk(disk.size, disk.spindles - k * UNIT_SPINDLE),))


def _chain_sizes(inst: Instance, mode: FailMode, ks: NDArray[np.int64]) -> Sizes:
    s = Sizes.of(inst)
    if mode == FailMode.FailMem:
        return Sizes(s.mem - ks * UNIT_MEM, s.dsk, s.vcpus, s.spindles)
    if mode == FailMode.FailDisk:
        return Sizes(s.mem, s.dsk - ks * UNIT_DSK, s.vcpus, s.spindles)
    if mode == FailMode.FailCPU:
        return Sizes(s.mem, s.dsk, s.vcpus - ks * UNIT_CPU, s.spindles)
    assert s.spindles is not None  # a spindles walk has a spindle count
    return Sizes(s.mem, s.dsk, s.vcpus, s.spindles - ks * UNIT_SPINDLE)


def _spec_value(spec: ISpec, mode: FailMode) -> int:
    if mode == FailMode.FailMem:
        return spec.mem
    if mode == FailMode.FailDisk:
        return spec.disk_size
    if mode == FailMode.FailCPU:
        return spec.cpu
    return spec.spindle_use


def _policy_thresholds(policy: IPolicy, mode: FailMode) -> list[int]:
    """The spec values the walked size is compared with: the policy is constant between them."""
    specs = [spec for mm in policy.minmax for spec in (mm.min_spec, mm.max_spec)]
    return sorted({_spec_value(spec, mode) for spec in specs})


def _chain_policy(
    node: Node, inst: Instance, mode: FailMode, first: int, last: int
) -> NDArray[np.int64]:
    """``instMatchesPolicy`` for chain indexes ``first`` to ``last`` (excluded).

    The walked size falls by one step per index; the policy compares it
    with a few spec values only, so it is evaluated once per stretch of
    indexes between two of them (the size above, at, or below each).
    """
    walked = _walked(inst, mode)
    assert walked is not None
    value, step, _ = walked
    cuts = {first, last}
    for bound in _policy_thresholds(node.ipolicy, mode):
        at_or_below = -((bound - value) // step)  # first index whose size <= bound
        below = (value - bound) // step + 1  # first index whose size < bound
        cuts.update(k for k in (at_or_below, below) if first < k < last)
    ordered = sorted(cuts)
    codes = np.empty(last - first, dtype=np.int64)
    for start, end in itertools.pairwise(ordered):
        err = hinst.matches_policy(nth_shrink(inst, mode, start), node.ipolicy, node.excl_stor)
        codes[start - first : end - first] = NONE if err is None else int(err)
    return codes


class _ChainPolicies:
    """``_chain_policy`` once per (policy, exclusive storage) of one chain block.

    Nodes of a group share their policy, so a cluster has a few at most.
    """

    def __init__(self, inst: Instance, mode: FailMode, first: int, last: int) -> None:
        self.inst, self.mode, self.first, self.last = inst, mode, first, last
        self.seen: dict[tuple[int, bool], tuple[IPolicy, NDArray[np.int64]]] = {}

    def codes(self, node: Node) -> NDArray[np.int64]:
        key = (id(node.ipolicy), node.excl_stor)
        found = self.seen.get(key)
        if found is None or found[0] is not node.ipolicy:
            codes = _chain_policy(node, self.inst, self.mode, self.first, self.last)
            found = (node.ipolicy, codes)
            self.seen[key] = found
        return found[1]


def _chain_codes(
    nodes: list[Node], inst: Instance, mode: FailMode, targets: Targets, ks: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Per size of the chain (rows), every target's failure code (columns; NONE: passes)."""
    sizes = _chain_sizes(inst, mode, ks)
    policies = _ChainPolicies(inst, mode, int(ks[0]), int(ks[-1]) + 1)
    columns = []
    for target in targets:
        pdx, secondaries = target if isinstance(target, tuple) else (target, None)
        primary = nodes[pdx]
        code = policies.codes(primary)
        pri = _first_codes(_primary_checks(primary, inst, sizes), len(ks))
        code = np.where(code == NONE, pri, code)
        if secondaries is None:
            columns.append(code)
            continue
        for sdx in secondaries:
            sec = _first_codes(_secondary_checks(nodes[sdx], inst, pdx, sizes), len(ks))
            columns.append(np.where(code == NONE, sec, code))
    return np.stack(columns, axis=1)


def _chain_leaves(
    nodes: list[Node],
    inst: Instance,
    mode: FailMode,
    targets: list[int],
    ks: NDArray[np.int64],
    in_scope: InScope,
) -> NDArray[np.bool_]:
    """``can_leave`` per size of the chain (rows) and single target (columns)."""
    sizes = _chain_sizes(inst, mode, ks)
    policies = _ChainPolicies(inst, mode, int(ks[0]), int(ks[-1]) + 1)
    shared = inst.disk_template in SHARED_MOVABLE
    takes: dict[int, NDArray[np.bool_]] = {}

    def taken_by(node: Node) -> NDArray[np.bool_]:
        found = takes.get(node.idx)
        if found is None:
            forced = _first_codes(_forced_checks(node, inst, sizes), len(ks)) == NONE
            if not shared:
                forced &= policies.codes(node) == NONE
            takes[node.idx] = found = forced
        return found

    columns = []
    for pdx in targets:
        column = np.zeros(len(ks), dtype=np.bool_)
        if not in_scope(nodes[pdx]):
            column[:] = True
        for other in _escape_nodes(nodes, inst, pdx):
            column |= taken_by(other)
        columns.append(column)
    return np.stack(columns, axis=1)


def _singles(targets: Targets) -> list[int]:
    singles = [t for t in targets if isinstance(t, int)]
    if len(singles) != len(targets):
        raise ValueError("N+1 leave checks are for single-node targets")
    return singles


def _stops_at(
    nodes: list[Node], sized: Instance, mode: FailMode, targets: Targets, in_scope: InScope | None
) -> tuple[bool, bool]:
    """Whether the walk stops at this size, and whether because some target passes."""
    if in_scope is None:
        found = failures(nodes, sized, targets)
        if found is None:
            return True, True
        return found.get(mode, 0) <= 0, False
    singles = _singles(targets)
    codes = single_codes(nodes, sized, singles)
    passes = any(
        code is None and can_leave(nodes, sized, pdx, in_scope)
        for code, pdx in zip(codes, singles, strict=True)
    )
    return passes or mode not in codes, passes


def walk_stop(
    nodes: list[Node],
    inst: Instance,
    mode: FailMode,
    targets: Targets,
    in_scope: InScope | None = None,
) -> tuple[int, bool] | None:
    """Where ``sufficesShrinking``'s walk from ``inst`` stops, by the checks alone.

    The first chain index whose size some target passes (True: the caller
    tries it for real) or whose failures lack ``mode`` (False: the walk
    ends there without a size). None when the whole chain fails with
    ``mode``; raises ValueError when the chain is not modelled here.

    With ``in_scope`` (single-node targets under the capacity check), a
    target passes only if the instance could also leave it (``can_leave``):
    the sizes where every passing target fails N+1 that way are walked
    past, as Ganeti walks past them one full allocation at a time.
    """
    length = chain_length(inst, mode)
    if length is None or not applies(inst):
        raise ValueError("shrink chain not modelled")
    for k in range(min(length, _SCALAR_STEPS)):
        stops, passes = _stops_at(nodes, nth_shrink(inst, mode, k), mode, targets, in_scope)
        if stops:
            return k, passes
    columns = sum(len(t[1]) if isinstance(t, tuple) else 1 for t in targets)
    block = max(_SCALAR_STEPS, ARRAY_CELLS // max(1, columns))
    for start in range(_SCALAR_STEPS, length, block):
        ks = np.arange(start, min(length, start + block), dtype=np.int64)
        with np.errstate(all="ignore"):
            codes = _chain_codes(nodes, inst, mode, targets, ks)
            fits = codes == NONE
            if in_scope is not None:
                fits &= _chain_leaves(nodes, inst, mode, _singles(targets), ks, in_scope)
        passes = fits.any(axis=1)
        stops = passes | ~(codes == int(mode)).any(axis=1)
        hit = np.flatnonzero(stops)
        if hit.size:
            row = int(hit[0])
            return int(ks[row]), bool(passes[row])
    return None
