"""Scoring every (primary, secondary) pair of one DRBD allocation at once.

This is ``allocateOnPair`` over all pairs with NumPy: each array element
follows the scalar formula's order of operations (the p node's update of
the statistics first, then the s node's), so every score is the very
double Ganeti computes; only the final choice scans the array. Failure
checks keep Ganeti's order per pair.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ganeti_agent.htools import instance as hinst
from ganeti_agent.htools import metrics
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.types import FailMode

F64 = NDArray[np.float64]
NONE = -1

# Components a secondary's update changes, besides the pair-dependent ones.
_N1, _REM, _REM_TOTAL, _LOCATION = 2, 3, 19, 17


@dataclass(slots=True)
class PairResult:
    failures: dict[FailMode, int]
    allocs: int
    best: tuple[int, int, float] | None
    # (primary, secondary, score) of every valid pair, in try order; only when asked
    valid: list[tuple[int, int, float]] | None = None


def _sec_arrays(nodes: list[Node], inst: Instance) -> dict[str, NDArray[np.generic]]:
    """Per-node quantities of ``addSec`` that do not depend on the primary."""
    sec_mem = inst.mem if inst.uses_sec_mem else 0
    codes_pre = np.full(len(nodes), NONE, dtype=np.int64)
    codes_post = np.full(len(nodes), NONE, dtype=np.int64)
    spin = inst.total_spindles()
    for k, s in enumerate(nodes):
        new_dsk = s.f_dsk - inst.dsk
        new_free_sp = (s.f_spindles - spin if spin is not None else -1) if s.excl_stor else 0
        new_inst_sp = 0.0 if s.excl_stor else s.inst_spindles + inst.spindle_use
        if not inst.has_secondary or new_dsk <= 0 or new_dsk < s.lo_dsk:
            codes_pre[k] = FailMode.FailDisk
        elif s.excl_stor and new_free_sp < 0:
            codes_pre[k] = FailMode.FailSpindles
        elif new_inst_sp > s.hi_spindles:
            codes_pre[k] = FailMode.FailDisk
        elif sec_mem >= s.unallocated_mem:
            codes_pre[k] = FailMode.FailMem
        new_dsk_f = s.f_dsk_forth - inst.dsk
        new_free_sp_f = (
            (s.f_spindles_forth - spin if spin is not None else -1) if s.excl_stor else 0
        )
        new_inst_sp_f = 0.0 if s.excl_stor else s.inst_spindles_forth + inst.spindle_use
        if new_dsk_f <= 0 or new_dsk_f < s.lo_dsk:
            codes_post[k] = FailMode.FailDisk
        elif s.excl_stor and new_free_sp_f < 0:
            codes_post[k] = FailMode.FailSpindles
        elif new_inst_sp_f > s.hi_spindles:
            codes_post[k] = FailMode.FailDisk
        elif sec_mem >= s.f_mem_forth:
            codes_post[k] = FailMode.FailMem
    return {"pre": codes_pre, "post": codes_post}


def _component_matrix(nodes: list[Node]) -> F64:
    """Numeric components of every node, one row per component (maps as 0)."""
    rows = []
    for n in nodes:
        comps = metrics.node_components(n)
        comps[metrics.MAP_COMPONENT] = 0.0
        rows.append(comps)
    return np.array(rows, dtype=np.float64).reshape(len(nodes), len(metrics.CV_INFO)).T.copy()


def _secondary_components(nodes: list[Node], inst: Instance, old_rows: F64) -> F64:
    """Components of every node after ``addSec``, except the pair-dependent ones.

    Only free disk, disk load and spindles change; the rest is copied.
    """
    new_rows = old_rows.copy()
    spin = inst.total_spindles()
    for k, s in enumerate(nodes):
        new_dsk = s.f_dsk - inst.dsk
        new_free_sp = (s.f_spindles - spin if spin is not None else -1) if s.excl_stor else 0
        new_inst_sp = 0.0 if s.excl_stor else s.inst_spindles + inst.spindle_use
        new_dsk_f = s.f_dsk_forth - inst.dsk
        new_free_sp_f = (
            (s.f_spindles_forth - spin if spin is not None else -1) if s.excl_stor else 0
        )
        new_inst_sp_f = 0.0 if s.excl_stor else s.inst_spindles_forth + inst.spindle_use
        new_rows[1, k] = hnode._new_pdsk(s, new_free_sp, new_dsk)
        new_rows[9, k] = metrics._fdiv(s.util_load[2] + 1.0, s.util_pool[2])
        new_rows[12, k] = metrics._fdiv(new_inst_sp, s.hi_spindles)
        new_rows[14, k] = hnode._new_pdsk(s, new_free_sp_f, new_dsk_f)
        new_rows[16, k] = metrics._fdiv(new_inst_sp_f, s.hi_spindles)
    return new_rows


def evaluate_pairs(
    nodes: list[Node],
    stats: list[metrics.Stat],
    inst: Instance,
    pairs: list[tuple[int, list[int]]],
    force: bool,
    want_all: bool = False,
) -> PairResult:
    """``tryAlloc`` over pairs without the global N+1 filter."""
    failures: dict[FailMode, int] = {}
    sec = _sec_arrays(nodes, inst)
    sec_mem = inst.mem if inst.uses_sec_mem else 0
    unalloc = np.array([n.unallocated_mem for n in nodes], dtype=np.int64)
    r_mem = np.array([n.r_mem for n in nodes], dtype=np.int64)
    fail_n1 = np.array([n.fail_n1 for n in nodes], dtype=bool)
    t_mem = np.array([n.t_mem for n in nodes], dtype=np.float64)
    n1_count = np.array([float(len(n.slist) + 1 + len(n.plist)) for n in nodes], dtype=np.float64)
    locations = [n.location_tags for n in nodes]
    any_location = any(locations)

    old_rows = _component_matrix(nodes)
    new_rows = _secondary_components(nodes, inst, old_rows)

    best: tuple[int, int, float] | None = None
    allocs = 0
    valid: list[tuple[int, int, float]] | None = [] if want_all else None
    for pdx, ss in pairs:
        if not ss:
            continue
        p = nodes[pdx]
        policy_err = hinst.matches_policy(inst, p.ipolicy, p.excl_stor)
        if policy_err is not None:
            failures[policy_err] = failures.get(policy_err, 0) + len(ss)
            continue
        placed = dataclasses.replace(inst, pnode=pdx, location_score=0)
        new_p = hnode.add_pri(p, placed, force)
        if isinstance(new_p, FailMode):
            failures[new_p] = failures.get(new_p, 0) + len(ss)
            continue
        s_idx = np.array(ss, dtype=np.int64)
        peers = np.array([nodes[s].peers.get(pdx, 0) for s in ss], dtype=np.int64)
        new_peem = peers + sec_mem
        new_rmem = np.maximum(r_mem[s_idx], new_peem)
        new_failn1 = unalloc[s_idx] <= new_rmem
        pre = sec["pre"][s_idx]
        post = sec["post"][s_idx]
        if force:
            codes = np.where((pre == FailMode.FailDisk) | (pre == FailMode.FailSpindles), pre, NONE)
        else:
            n1_fail = new_failn1 & ~fail_n1[s_idx]
            codes = np.where(pre != NONE, pre, np.where(n1_fail, int(FailMode.FailMem), post))
        ok = codes == NONE
        for code, num in zip(*np.unique(codes[~ok], return_counts=True), strict=True):
            mode = FailMode(int(code))
            failures[mode] = failures.get(mode, 0) + int(num)
        if not ok.any():
            continue
        if any_location:
            common = np.array(
                [float(len(p.location_tags & locations[s])) for s in ss], dtype=np.float64
            )
        else:
            common = np.zeros(len(ss), dtype=np.float64)
        scores = _pair_scores(
            stats,
            metrics.node_components(p),
            metrics.node_components(new_p),
            old_rows,
            new_rows,
            s_idx,
            new_failn1,
            n1_count,
            new_rmem,
            t_mem,
            common,
        )
        valid_idx = np.flatnonzero(ok)
        allocs += len(valid_idx)
        sub = scores[valid_idx]
        if want_all and valid is not None:
            valid.extend((pdx, ss[k], float(scores[k])) for k in valid_idx)
        low = sub.min()
        if np.isnan(low):
            continue
        last = valid_idx[np.flatnonzero(sub == low)[-1]]
        if best is None or not best[2] < low:
            best = (pdx, ss[last], float(scores[last]))
    return PairResult(failures, allocs, best, valid)


def _pair_scores(
    stats: list[metrics.Stat],
    p_old: list[object],
    p_new: list[object],
    old_rows: F64,
    new_rows: F64,
    s_idx: NDArray[np.int64],
    new_failn1: NDArray[np.bool_],
    n1_count: F64,
    new_rmem: NDArray[np.int64],
    t_mem: F64,
    common: F64,
) -> F64:
    """Score of every pair with primary p: the p update, then each s update."""
    total: F64 = np.zeros(len(s_idx), dtype=np.float64)
    rem_new = new_rmem.astype(np.float64) / t_mem[s_idx]
    for k, (weight, _, kind, for_online) in enumerate(metrics.CV_INFO):
        stat = stats[k]
        if not for_online:
            value: F64 | float = metrics.stat_value(stat)
        elif kind == "map":
            value = metrics.stat_value(stat)
        else:
            x_p = p_old[k]
            y_p: F64 | float = p_new[k]  # type: ignore[assignment]
            if k == _LOCATION:
                y_p = np.float64(y_p) + common
            x_s = old_rows[k][s_idx]
            if k == _N1:
                y_s: F64 = np.where(new_failn1, n1_count[s_idx], 0.0)
            elif k in (_REM, _REM_TOTAL):
                y_s = rem_new
            else:
                y_s = new_rows[k][s_idx]
            if kind == "sum":
                after_p = stat[1] + (y_p - x_p)  # type: ignore[operator]
                value = after_p + (y_s - x_s)
            else:
                n, s_sum, var = stat[1], stat[2], stat[3]
                s1, v1 = metrics.update_std(n, s_sum, var, x_p, y_p)
                _, v2 = metrics.update_std(n, s1, v1, x_s, y_s)
                value = np.sqrt(v2)
        total = total + weight * value
    return total
