"""The cluster score (Ganeti's ``Cluster/Metrics.hs`` and ``Utils/Statistics.hs``).

The score is a weighted sum of statistics over nodes. Standard deviations
keep (count, sum, variance) so that one node can be swapped for another
(``update_std``) exactly as Ganeti's ``updateStatistics`` does; the same
functions work on NumPy arrays element by element, which is how the
allocator scores every candidate pair at once with the same doubles.
"""

from __future__ import annotations

import math
from typing import Any

from ganeti_agent.htools.hsformat import fixed
from ganeti_agent.htools.node import Node

# (weight, name, is standard deviation, is for online nodes); Ganeti's order.
CV_INFO: tuple[tuple[float, str, str, bool], ...] = (
    (0.5, "free_mem_cv", "std", True),
    (0.5, "free_disk_cv", "std", True),
    (1.0, "n1_cnt", "sum", True),
    (1.0, "reserved_mem_cv", "std", True),
    (4.0, "offline_all_cnt", "sum", False),
    (16.0, "offline_pri_cnt", "sum", False),
    (0.5, "vcpu_ratio_cv", "std", True),
    (1.0, "cpu_load_cv", "std", True),
    (1.0, "mem_load_cv", "std", True),
    (1.0, "disk_load_cv", "std", True),
    (1.0, "net_load_cv", "std", True),
    (2.0, "pri_tags_score", "sum", True),
    (0.5, "spindles_cv", "std", True),
    (0.5, "free_mem_cv_forth", "std", True),
    (0.5, "free_disk_cv_forth", "std", True),
    (0.5, "vcpu_ratio_cv_forth", "std", True),
    (0.5, "spindles_cv_forth", "std", True),
    (1.0, "location_score", "sum", True),
    (1.0, "location_exclusion_score", "map", True),
    (0.25, "reserved_mem_rtotal", "sum", True),
)
WEIGHTS = tuple(info[0] for info in CV_INFO)
MAP_COMPONENT = 18

# A statistic: ("sum", s) | ("std", n, s, var) | ("map", {pair: count}).
Stat = tuple[Any, ...]


def node_components(node: Node) -> list[Any]:
    """``compDetailedCVNode``: the node's value for each statistic."""
    n1 = float(len(node.slist) + len(node.plist)) if node.fail_n1 else 0.0
    ipri = float(len(node.plist))
    load = node.util_load
    pool = node.util_pool
    return [
        node.p_mem,
        node.p_dsk,
        n1,
        node.p_rem,
        ipri + float(len(node.slist)),
        ipri,
        node.p_cpu_eff,
        _fdiv(load[0], pool[0]),
        _fdiv(load[1], pool[1]),
        _fdiv(load[2], pool[2]),
        _fdiv(load[3], pool[3]),
        float(node.conflicting_primaries),
        _fdiv(node.inst_spindles, node.hi_spindles),
        node.p_mem_forth,
        node.p_dsk_forth,
        node.p_cpu_eff_forth,
        _fdiv(node.inst_spindles_forth, node.hi_spindles),
        float(node.location_score),
        node.instance_map,
        node.p_rem,
    ]


def _fdiv(a: float, b: float) -> float:
    if b:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.inf if a > 0 else -math.inf


def _sum_stat(values: list[float]) -> Stat:
    total = 0.0
    for value in values:
        total = total + value
    return ("sum", total)


def _std_stat(values: list[float]) -> Stat:
    count = 0.0
    total = 0.0
    for value in values:
        count = count + 1
        total = total + value
    mean = _fdiv(total, count)
    nvar = 0.0
    for value in values:
        delta = value - mean
        nvar = nvar + delta * delta
    return ("std", count, total, _fdiv(nvar, count))


def _map_stat(values: list[dict[tuple[str, str], int]]) -> Stat:
    merged: dict[tuple[str, str], int] = {}
    for value in values:
        for key, count in value.items():
            merged[key] = merged.get(key, 0) + count
    return ("map", merged)


def cluster_statistics(nodes: list[Node]) -> list[Stat]:
    """``compClusterStatistics`` over all nodes (offline ones feed two statistics).

    With no online node the list is empty, as in Ganeti (the transpose of no
    rows has no columns to zip with), so the score of such a cluster is the
    empty sum 0, not a NaN from a standard deviation over nothing.
    """
    return statistics_of_rows(nodes, [node_components(n) for n in nodes])


def statistics_of_rows(nodes: list[Node], rows: list[list[Any]]) -> list[Stat]:
    """``cluster_statistics`` from each node's ``node_components``, given in node order.

    A caller scoring many node lists that differ from one list in a node
    or two reuses that list's rows: the sums run over the same values in
    the same order, so the doubles are the same.
    """
    online = [row for node, row in zip(nodes, rows, strict=True) if not node.offline]
    if not online:
        return []
    offline = [row for node, row in zip(nodes, rows, strict=True) if node.offline]
    stats: list[Stat] = []
    for k, (_, _, kind, for_online) in enumerate(CV_INFO):
        column = [row[k] for row in (online if for_online else offline)]
        if kind == "sum":
            stats.append(_sum_stat(column))
        elif kind == "std":
            stats.append(_std_stat(column))
        else:
            stats.append(_map_stat(column))
    return stats


def stat_value(stat: Stat) -> float:
    if stat[0] == "sum":
        return float(stat[1])
    if stat[0] == "std":
        return math.sqrt(stat[3]) if stat[3] >= 0 else math.nan
    counts: dict[tuple[str, str], int] = stat[1]
    return float(sum(counts.values()) - len(counts))


def update_std(n: Any, s: Any, var: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """``updateStatistics`` for a standard deviation: replace x by y.

    Works on floats and NumPy arrays alike; returns (new sum, new variance).
    """
    ds = y - x
    dss = y * y - x * x
    dnnvar = (n * dss - 2 * s * ds) - ds * ds
    new_s = s + ds
    new_var = var + dnnvar / (n * n)
    return new_s, _max0(new_var)


def _max0(value: Any) -> Any:
    """Haskell's ``max 0 v`` (``if 0 <= v then v else 0``: NaN becomes 0)."""
    if isinstance(value, float):
        return value if value >= 0 else 0.0
    import numpy as np

    return np.where(value >= 0, value, 0.0)


def update_statistics(stats: list[Stat], old: Node, new: Node) -> list[Stat]:
    """``updateClusterStatistics``: swap one node's contribution."""
    online = not old.offline
    old_c = node_components(old)
    new_c = node_components(new)
    result: list[Stat] = []
    for k, stat in enumerate(stats):
        if CV_INFO[k][3] != online:
            result.append(stat)
        elif stat[0] == "sum":
            result.append(("sum", stat[1] + (new_c[k] - old_c[k])))
        elif stat[0] == "std":
            new_s, new_var = update_std(stat[1], stat[2], stat[3], old_c[k], new_c[k])
            result.append(("std", stat[1], new_s, new_var))
        else:
            merged = dict(stat[1])
            for key, count in old_c[k].items():
                merged[key] = merged.get(key, 0) - count
            for key, count in new_c[k].items():
                merged[key] = merged.get(key, 0) + count
            result.append(("map", merged))
    return result


def cv_from_stats(stats: list[Stat]) -> float:
    total = 0.0
    for weight, stat in zip(WEIGHTS, stats, strict=False):
        total = total + weight * stat_value(stat)
    return total


def comp_cv(nodes: list[Node]) -> float:
    """``compCV``: the score computed afresh."""
    return cv_from_stats(cluster_statistics(nodes))


def detailed_cv(nodes: list[Node]) -> list[float]:
    return [stat_value(s) for s in cluster_statistics(nodes)]


def print_stats(prefix: str, nodes: list[Node]) -> str:
    """``printStats``: the table of the score's parts (``-v -v -v``)."""
    rows = [["Field", "Value", "Weight"]]
    for (weight, name, _, _), value in zip(CV_INFO, detailed_cv(nodes), strict=False):
        rows.append([name, fixed(value, 8), "x" + fixed(weight, 2)])
    return print_table(prefix, rows, [False, True, True])


def format_table(rows: list[list[str]], numeric: list[bool]) -> list[list[str]]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))] if rows else []
    out = []
    for row in rows:
        cells = []
        for c, value in enumerate(row):
            is_num = numeric[c] if c < len(numeric) else numeric[-1]
            cells.append(value.rjust(widths[c]) if is_num else value.ljust(widths[c]))
        out.append(cells)
    return out


def print_table(prefix: str, rows: list[list[str]], numeric: list[bool]) -> str:
    return "".join(prefix + " " + " ".join(row) + "\n" for row in format_table(rows, numeric))
