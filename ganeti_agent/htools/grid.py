"""Every (primary, secondary) pair of one DRBD allocation as one matrix.

``pairs.evaluate_pairs`` walks the primaries in Python; this module keeps
the nodes' fields as NumPy arrays between allocations (only the rows of
nodes that changed are refreshed) and evaluates all pairs with a few
array operations. Each matrix element follows the scalar formula's order
of operations, so every failure code and score is the one Ganeti
computes; sums over nodes are sequential (``add.accumulate``), as
Haskell's left folds are. Instances it cannot handle (forthcoming, with
exclusion or desired-location tags, not DRBD) go to ``pairs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from ganeti_agent.htools import instance as hinst
from ganeti_agent.htools import metrics
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.pairs import PairResult
from ganeti_agent.htools.types import FailMode, IPolicy

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]
NONE = -1
_MEM, _DSK, _CPU, _SPN = (
    int(FailMode.FailMem),
    int(FailMode.FailDisk),
    int(FailMode.FailCPU),
    int(FailMode.FailSpindles),
)
_LOCATION = 17
_N_COMPONENTS = len(metrics.CV_INFO)


def vdiv(num: F64, den: F64) -> F64:
    """Haskell's Double division element by element (x/0 by the sign of x, 0/0 NaN).

    Callers run under ``np.errstate(all="ignore")``: IEEE results are wanted.
    """
    plain = num / den
    zero = den == 0
    if not zero.any():
        return plain
    special = np.where((num == 0) | np.isnan(num), np.nan, np.where(num > 0, np.inf, -np.inf))
    return np.where(zero, special, plain)


def _pdsk(free: F64, total: F64) -> F64:
    """``computePDsk`` element by element."""
    return np.where(total == 0, 1.0, free / total)


class NodeArrays:
    """The fields allocation reads, one array per field, synced to a node list."""

    FIELDS_INT = (
        "tmem_trunc", "n_mem", "i_mem", "x_pos", "f_mem", "r_mem", "f_dsk", "lo_dsk",
        "f_spindles", "u_cpu", "f_mem_forth", "f_dsk_forth", "f_spindles_forth", "u_cpu_forth",
        "n1_count",
    )  # fmt: skip
    FIELDS_FLOAT = (
        "t_mem", "t_dsk", "t_cpu", "t_spindles", "hi_spindles", "inst_spindles",
        "inst_spindles_forth", "vcpu_ratio", "cpu_speed", "load0", "load1", "load2", "load3",
        "pool0", "pool1", "pool2", "pool3",
    )  # fmt: skip
    FIELDS_BOOL = ("excl", "fail_n1", "offline")

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.policies: list[tuple[IPolicy, bool]] = []
        self._policy_slot: dict[tuple[IPolicy, bool], int] = {}
        self.i: dict[str, I64] = {}
        self.f: dict[str, F64] = {}
        self.b: dict[str, B] = {}
        self.location: list[frozenset[str]] = []
        self.common: F64 | None = None
        self.slot: I64 = np.zeros(0, dtype=np.int64)
        self.rows: F64 = np.zeros((_N_COMPONENTS, 0))
        self.peers_t: I64 = np.zeros((0, 0), dtype=np.int64)
        self.maps_used = False

    def sync(self, nodes: list[Node]) -> None:
        """Refresh the rows of nodes that are not the very objects seen last time."""
        if len(nodes) != len(self.nodes):
            self._allocate(len(nodes))
            self.nodes = [None] * len(nodes)  # type: ignore[list-item]
        seen = self.nodes
        for k, node in enumerate(nodes):
            if node is not seen[k]:
                self._refresh(k, node)
        self.nodes = list(nodes)

    def _allocate(self, count: int) -> None:
        self.i = {name: np.zeros(count, dtype=np.int64) for name in self.FIELDS_INT}
        self.f = {name: np.zeros(count, dtype=np.float64) for name in self.FIELDS_FLOAT}
        self.b = {name: np.zeros(count, dtype=bool) for name in self.FIELDS_BOOL}
        self.location = [frozenset()] * count
        self.common = None
        self.slot = np.zeros(count, dtype=np.int64)
        self.rows = np.zeros((_N_COMPONENTS, count), dtype=np.float64)
        self.peers_t = np.zeros((count, count), dtype=np.int64)
        self.maps_used = False

    def _refresh(self, k: int, n: Node) -> None:
        ints = (
            math.trunc(n.t_mem), n.n_mem, n.i_mem, max(0, n.x_mem), n.f_mem, n.r_mem, n.f_dsk,
            n.lo_dsk, n.f_spindles, n.u_cpu, n.f_mem_forth, n.f_dsk_forth, n.f_spindles_forth,
            n.u_cpu_forth, len(n.slist) + 1 + len(n.plist),
        )  # fmt: skip
        floats = (
            n.t_mem, n.t_dsk, n.t_cpu, float(n.t_spindles), n.hi_spindles, n.inst_spindles,
            n.inst_spindles_forth, n.ipolicy.vcpu_ratio, n.t_cpu_speed, *n.util_load,
            *n.util_pool,
        )  # fmt: skip
        for name, ivalue in zip(self.FIELDS_INT, ints, strict=True):
            self.i[name][k] = ivalue
        for name, fvalue in zip(self.FIELDS_FLOAT, floats, strict=True):
            self.f[name][k] = fvalue
        for name, bvalue in zip(self.FIELDS_BOOL, (n.excl_stor, n.fail_n1, n.offline), strict=True):
            self.b[name][k] = bvalue
        key = (n.ipolicy, n.excl_stor)
        if key not in self._policy_slot:
            self._policy_slot[key] = len(self.policies)
            self.policies.append(key)
        self.slot[k] = self._policy_slot[key]
        comps = metrics.node_components(n)
        if comps[metrics.MAP_COMPONENT]:
            self.maps_used = True
        comps[metrics.MAP_COMPONENT] = 0.0
        self.rows[:, k] = comps
        self.peers_t[:, k] = 0
        for pdx, mem in n.peers.items():
            if 0 <= pdx < len(self.peers_t):
                self.peers_t[pdx, k] = mem
        if n.location_tags != self.location[k]:
            self.location[k] = n.location_tags
            self.common = None

    def common_locations(self) -> F64 | None:
        """Location tags each pair of nodes shares (None when no node has any)."""
        if self.common is None and any(self.location):
            tags = self.location
            self.common = np.array(
                [[float(len(p & s)) for s in tags] for p in tags], dtype=np.float64
            ).reshape(len(tags), len(tags))
        return self.common

    def statistics(self) -> list[metrics.Stat]:
        """``compClusterStatistics`` from the arrays: the same doubles as ``metrics``.

        Each sum is a left fold in node order (``add.accumulate`` from 0.0),
        all statistics at once.
        """
        if self.maps_used:
            return metrics.cluster_statistics(self.nodes)
        offline = self.b["offline"]
        on_count, on_sum, on_var = _fold_stats(self.rows[:, ~offline])
        off_count, off_sum, off_var = _fold_stats(self.rows[:, offline])
        stats: list[metrics.Stat] = []
        for k, (_, _, kind, for_online) in enumerate(metrics.CV_INFO):
            count, total, var = (
                (on_count, on_sum, on_var) if for_online else (off_count, off_sum, off_var)
            )
            if kind == "map":
                stats.append(("map", {}))
            elif kind == "sum":
                stats.append(("sum", float(total[k])))
            else:
                stats.append(("std", count, float(total[k]), float(var[k])))
        return stats


def _fold_stats(columns: F64) -> tuple[float, F64, F64]:
    """Count, left-fold sum and population variance of every row (``getStdDevStatistics``)."""
    zeros = np.zeros((columns.shape[0], 1))
    count = float(columns.shape[1])
    total = np.add.accumulate(np.hstack((zeros, columns)), axis=1)[:, -1]
    mean = vdiv(total, np.full_like(total, count))
    delta = columns - mean[:, None]
    nvar = np.add.accumulate(np.hstack((zeros, delta * delta)), axis=1)[:, -1]
    return count, total, vdiv(nvar, np.full_like(nvar, count))


@dataclass(slots=True)
class _Grid:
    """The pair layout of one ``pairs`` list: primaries by row, secondaries by column."""

    prim: I64
    mask: B


def supports(inst: Instance) -> bool:
    """Whether the matrix path models this instance exactly."""
    return (
        inst.disk_template == "drbd"
        and not inst.forthcoming
        and not inst.excl_tags
        and not inst.dsrd_loc_tags
        and inst.uses_memory
        and not inst.is_offline
    )


class PairGrid:
    """Evaluates allocations on pairs; keeps its arrays between calls."""

    def __init__(self) -> None:
        self.arrays = NodeArrays()
        self._layout: tuple[object, _Grid | None] | None = None
        self._stats: tuple[list[Node], list[metrics.Stat]] | None = None

    def layout(self, pairs: list[tuple[int, list[int]]], count: int) -> _Grid | None:
        """The matrix layout, or None when secondaries are not tried in index order."""
        if self._layout is not None and self._layout[0] is pairs:
            return self._layout[1]
        grid: _Grid | None = None
        rows = [(p, ss) for p, ss in pairs if ss]
        if all(ss == sorted(set(ss)) for _, ss in rows):
            mask = np.zeros((len(rows), count), dtype=bool)
            for r, (_, ss) in enumerate(rows):
                mask[r, ss] = True
            grid = _Grid(np.array([p for p, _ in rows], dtype=np.int64), mask)
        self._layout = (pairs, grid)
        return grid

    def statistics(self, nodes: list[Node]) -> list[metrics.Stat]:
        if self._stats is not None and self._stats[0] is nodes:
            return self._stats[1]
        self.arrays.sync(nodes)
        with np.errstate(all="ignore"):
            stats = self.arrays.statistics()
        self._stats = (nodes, stats)
        return stats

    def evaluate(
        self,
        nodes: list[Node],
        inst: Instance,
        pairs: list[tuple[int, list[int]]],
        want_all: bool = False,
    ) -> PairResult | None:
        """``tryAlloc``'s pair loop without global N+1; None when this path does not apply."""
        if not supports(inst):
            return None
        grid = self.layout(pairs, len(nodes))
        if grid is None:
            return None
        stats = self.statistics(nodes)
        self.arrays.sync(nodes)  # a no-op unless another state was synced in between
        with np.errstate(all="ignore"):
            return _evaluate(self.arrays, stats, inst, grid, want_all)


def _first_failure(checks: list[tuple[B, I64 | int]], size: int) -> I64:
    """Per element, the failure of the first check that holds (``np.select`` made cheap)."""
    code: I64 = np.full(size, NONE, dtype=np.int64)
    for failed, mode in reversed(checks):
        if failed.any():
            code = np.where(failed, mode, code)
    return code


def _policy_codes(arrays: NodeArrays, inst: Instance) -> I64:
    codes = []
    for policy, excl in arrays.policies:
        err = hinst.matches_policy(inst, policy, excl)
        codes.append(NONE if err is None else int(err))
    return np.array(codes, dtype=np.int64)[arrays.slot]


class _NewFields(TypedDict):
    """Each node's fields once it took the instance, as the node-wise checks computed them."""

    free_mem: I64
    failn1: B
    dsk: I64
    dsk_f: I64
    sp: I64
    sp_f: I64
    isp: F64
    isp_f: F64
    pcpu: F64
    pcpu_f: F64
    mem_f: I64


@dataclass(slots=True)
class _NodeWise:
    """Per node, independent of the pair: failure codes and the new values behind them."""

    code: I64  # as the new primary
    sec_pre: I64  # as the new secondary, before its N+1 check
    sec_post: I64  # as the new secondary, the forthcoming checks after it
    unalloc: I64
    new: _NewFields  # the new fields, for the components


def _node_wise(arrays: NodeArrays, inst: Instance) -> _NodeWise:
    """The node-wise checks of ``addPriEx`` and ``addSecExEx``, in their order."""
    i, f, b = arrays.i, arrays.f, arrays.b
    excl = b["excl"]
    spin = inst.total_spindles()
    use = inst.spindle_use
    hi_sp = f["hi_spindles"]
    l_cpu = f["vcpu_ratio"]
    unalloc = i["tmem_trunc"] - i["n_mem"] - i["i_mem"] - i["x_pos"]
    new_free_mem = unalloc - inst.mem
    new_failn1 = new_free_mem <= i["r_mem"]
    new_dsk = i["f_dsk"] - inst.dsk
    new_dsk_f = i["f_dsk_forth"] - inst.dsk
    if spin is None:
        new_sp = np.where(excl, -1, 0)
        new_sp_f = new_sp
    else:
        new_sp = np.where(excl, i["f_spindles"] - spin, 0)
        new_sp_f = np.where(excl, i["f_spindles_forth"] - spin, 0)
    new_isp = np.where(excl, 0.0, f["inst_spindles"] + use)
    new_isp_f = np.where(excl, 0.0, f["inst_spindles_forth"] + use)
    new_pcpu = vdiv((i["u_cpu"] + inst.vcpus).astype(np.float64), f["t_cpu"])
    new_pcpu_f = vdiv((i["u_cpu_forth"] + inst.vcpus).astype(np.float64), f["t_cpu"])
    new_mem_f = i["f_mem_forth"] - inst.mem
    lo = i["lo_dsk"]
    dsk_bad = (new_dsk <= 0) | (new_dsk < lo)
    dsk_f_bad = (new_dsk_f <= 0) | (new_dsk_f < lo)
    sp_bad = excl & (new_sp < 0)
    sp_f_bad = excl & (new_sp_f < 0)
    isp_bad = new_isp > hi_sp
    isp_f_bad = new_isp_f > hi_sp
    policy = _policy_codes(arrays, inst)
    size = len(unalloc)
    cpu_ok = l_cpu >= 0
    code = _first_failure(
        [
            (policy != NONE, policy),
            (new_free_mem <= 0, _MEM),
            (dsk_bad, _DSK),
            (sp_bad, _SPN),
            (isp_bad, _DSK),
            (new_failn1 & ~b["fail_n1"], _MEM),
            (cpu_ok & (l_cpu < new_pcpu), _CPU),
            (new_mem_f <= 0, _MEM),
            (dsk_f_bad, _DSK),
            (sp_f_bad, _SPN),
            (isp_f_bad, _DSK),
            (cpu_ok & (l_cpu < new_pcpu_f), _CPU),
        ],
        size,
    )
    sec_mem = inst.mem if inst.uses_sec_mem else 0
    pre = _first_failure(
        [(dsk_bad, _DSK), (sp_bad, _SPN), (isp_bad, _DSK), (sec_mem >= unalloc, _MEM)], size
    )
    post = _first_failure(
        [
            (dsk_f_bad, _DSK),
            (sp_f_bad, _SPN),
            (isp_f_bad, _DSK),
            (sec_mem >= i["f_mem_forth"], _MEM),
        ],
        size,
    )
    new: _NewFields = {
        "free_mem": new_free_mem,
        "failn1": new_failn1,
        "dsk": new_dsk,
        "dsk_f": new_dsk_f,
        "sp": new_sp,
        "sp_f": new_sp_f,
        "isp": new_isp,
        "isp_f": new_isp_f,
        "pcpu": new_pcpu,
        "pcpu_f": new_pcpu_f,
        "mem_f": new_mem_f,
    }
    return _NodeWise(code, pre, post, unalloc, new)


def _components(arrays: NodeArrays, new: _NewFields) -> tuple[dict[int, F64], dict[int, F64]]:
    """The changed components of each node as the new primary, and as the new secondary.

    A new secondary changes only disk-related components, exactly as a new
    primary changes them, so the second map is part of the first.
    """
    i, f = arrays.i, arrays.f
    excl = arrays.b["excl"]
    hi_sp = f["hi_spindles"]
    t_sp, t_dsk, t_mem, speed = f["t_spindles"], f["t_dsk"], f["t_mem"], f["cpu_speed"]
    pdsk = np.where(
        excl,
        _pdsk(new["sp"].astype(np.float64), t_sp),
        _pdsk(new["dsk"].astype(np.float64), t_dsk),
    )
    pdsk_f = np.where(
        excl,
        _pdsk(new["sp_f"].astype(np.float64), t_sp),
        _pdsk(new["dsk_f"].astype(np.float64), t_dsk),
    )
    secondary = {
        1: pdsk,
        9: vdiv(f["load2"] + 1.0, f["pool2"]),
        12: vdiv(new["isp"], hi_sp),
        14: pdsk_f,
        16: vdiv(new["isp_f"], hi_sp),
    }
    primary = {
        0: vdiv(new["free_mem"].astype(np.float64), t_mem),
        2: np.where(new["failn1"], i["n1_count"].astype(np.float64), 0.0),
        6: new["pcpu"] / speed,
        7: vdiv(f["load0"] + 1.0, f["pool0"]),
        8: vdiv(f["load1"] + 1.0, f["pool1"]),
        10: vdiv(f["load3"] + 1.0, f["pool3"]),
        13: vdiv(new["mem_f"].astype(np.float64), t_mem),
        15: new["pcpu_f"] / speed,
        **secondary,
    }
    return primary, secondary


def _evaluate(
    arrays: NodeArrays, stats: list[metrics.Stat], inst: Instance, grid: _Grid, want_all: bool
) -> PairResult:
    i, b = arrays.i, arrays.b
    prim = grid.prim
    wise = _node_wise(arrays, inst)
    sec_mem = inst.mem if inst.uses_sec_mem else 0
    new_rmem = np.maximum(i["r_mem"][None, :], arrays.peers_t[prim] + sec_mem)
    new_failn1 = wise.unalloc[None, :] <= new_rmem
    pair_code = np.where(
        wise.sec_pre != NONE,
        wise.sec_pre,
        np.where(new_failn1 & ~b["fail_n1"], _MEM, wise.sec_post),
    )
    pcode = wise.code[prim][:, None]
    code = np.where(pcode != NONE, pcode, pair_code)
    ok = grid.mask & (code == NONE)
    failures: dict[FailMode, int] = {}
    failed = code[grid.mask & ~ok]
    if failed.size:
        for mode, num in enumerate(np.bincount(failed).tolist()):
            if num:
                failures[FailMode(mode)] = num
    allocs = int(np.count_nonzero(ok))
    if allocs == 0:
        return PairResult(failures, 0, None, [] if want_all else None)
    scores = _scores(arrays, stats, wise, prim, new_failn1, new_rmem)
    valid: list[tuple[int, int, float]] | None = None
    if want_all:
        rows, cols = np.nonzero(ok)
        valid = [
            (int(prim[r]), c, float(scores[r, c]))
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        ]
    return PairResult(failures, allocs, _best(scores, ok, prim), valid)


def _best(scores: F64, ok: B, prim: I64) -> tuple[int, int, float] | None:
    """The last pair of the lowest score; a primary with a NaN among its scores drops out."""
    row_min = np.where(ok, scores, np.inf).min(axis=1)
    usable = ok.any(axis=1) & ~np.isnan(row_min)
    if not usable.any():
        return None
    low = row_min[usable].min()
    row = int(np.flatnonzero(usable & (row_min == low))[-1])
    col = int(np.flatnonzero(ok[row] & (scores[row] == low))[-1])
    return int(prim[row]), col, float(scores[row, col])


def _stat_vectors(stats: list[metrics.Stat]) -> tuple[F64, F64, F64]:
    """(count, sum, variance) of every statistic as columns; sums keep their total as sum."""
    count = [float(st[1]) if st[0] == "std" else 1.0 for st in stats]
    total = [
        float(st[2]) if st[0] == "std" else float(st[1]) if st[0] == "sum" else 0.0 for st in stats
    ]
    var = [float(st[3]) if st[0] == "std" else 0.0 for st in stats]
    return (
        np.array(count)[:, None],
        np.array(total)[:, None],
        np.array(var)[:, None],
    )


def _update_std(n: F64, s: F64, var: F64, x: F64, y: F64) -> tuple[F64, F64]:
    """``metrics.update_std`` on stacked statistics (each element the scalar formula)."""
    ds = y - x
    dss = y * y - x * x
    dnnvar = (n * dss - (2 * s) * ds) - ds * ds
    new_var = var + dnnvar / (n * n)
    return s + ds, np.where(new_var >= 0, new_var, 0.0)


def _scores(
    arrays: NodeArrays,
    stats: list[metrics.Stat],
    wise: _NodeWise,
    prim: I64,
    new_failn1: B,
    new_rmem: I64,
) -> F64:
    """Every pair's score: the primary's update of the statistics, then the secondary's.

    The primary's update is done for all statistics at once (stacked rows);
    the secondary's only where it changes a component; the weighted parts
    are added in Ganeti's order, a left fold from 0.0.
    """
    rows = arrays.rows
    primary, secondary = _components(arrays, wise.new)
    n, s, var = _stat_vectors(stats)
    x_p = rows[:, prim]
    y_p = x_p.copy()
    for k, comp in primary.items():
        y_p[k] = comp[prim]
    s1, v1 = _update_std(n, s, var, x_p, y_p)
    p_only = np.sqrt(v1)
    rem = vdiv(new_rmem.astype(np.float64), arrays.f["t_mem"][None, :])
    changed: dict[int, F64] = {
        2: np.where(new_failn1, arrays.i["n1_count"].astype(np.float64), 0.0),
        3: rem,
        19: rem,
        **secondary,
    }
    finite = np.asarray(np.isfinite(s1).all(axis=1) & np.isfinite(rows * rows).all(axis=1))
    common = arrays.common_locations()
    total: F64 = np.zeros((len(prim), 1), dtype=np.float64)
    for k, (weight, _, kind, for_online) in enumerate(metrics.CV_INFO):
        value: F64 | float
        if not for_online or kind == "map":
            value = metrics.stat_value(stats[k])
        elif kind == "std" and k not in changed and finite[k]:
            # A secondary that keeps this component leaves the primary's variance.
            value = p_only[k][:, None]
        elif kind == "std":
            x_s = rows[k]
            y_s = changed.get(k, x_s)
            count = float(n[k, 0])
            ds = y_s - x_s
            dnnvar = (count * (y_s * y_s - x_s * x_s) - (2 * s1[k])[:, None] * ds) - ds * ds
            new_var = v1[k][:, None] + dnnvar / (count * count)
            value = np.sqrt(np.where(new_var >= 0, new_var, 0.0))
        else:
            x_s = rows[k]
            if k == _LOCATION and common is not None:
                after_p = s[k, 0] + ((y_p[k][:, None] + common[prim]) - x_p[k][:, None])
            else:
                after_p = s1[k][:, None]
            value = after_p + (changed.get(k, x_s) - x_s)
        total = total + weight * value
    return np.broadcast_to(total, (len(prim), rows.shape[1]))
