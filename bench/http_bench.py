"""HTTP part: requests/s and p50/p99 of two routes, 1 and 16 connections, agent vs mond.

Like is compared with like: the real mond serves ``/1/report/all`` with 200 only when
its failing collectors (diskstats on kernels >= 4.18, drbd without DRBD, lv, Xen status)
are deactivated, which leaves ``cpu-avg-load`` and ``xen-cpu-avg-load``. The
"same set" agent serves the same collectors (those it has); the "default" agent serves
everything available on this node, as it would in production.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.processes import http_get
from bench.results import NOT_INSTALLED, Table, fmt
from bench.wrk import HttpFigures, load

ROUTES = ("/1/report/all", "/1/report/default/cpu-avg-load")
CONNECTIONS = (1, 16)

SAME_SET_CONFIG = """\
# The collectors the real mond serves with a 200 on this node (see bench/README.md).
[collectors]
enabled = no
[collector:cpu-avg-load]
enabled = yes
[collector:xen-cpu-avg-load]
enabled = yes
[confd]
enabled = no
"""

Counter = Callable[[str, int], None]


@dataclass(frozen=True)
class Target:
    """A server to load: its name in the table and its TCP port (None: not available)."""

    label: str
    port: int | None
    missing: str = NOT_INSTALLED


def served(port: int) -> str:
    """Names of the collectors a server lists, for the notes."""
    status, body = http_get(port, "/1/list/collectors")
    if status != 200:
        return f"(listing failed: {status})"
    return ", ".join(entry[0] for entry in json.loads(body))


def _cell(figures: HttpFigures | None, metric: str, missing: str) -> str:
    if figures is None:
        return missing
    value = {"rps": figures.rps, "p50": figures.p50_ms, "p99": figures.p99_ms}[metric]
    text = fmt(value, "ms" if metric != "rps" else "")
    if figures.non2xx:
        text += f" ({figures.non2xx:,} non-2xx)"
    return text


def _ratio(agent: HttpFigures | None, real: HttpFigures | None, metric: str) -> str:
    if agent is None or real is None:
        return "-"
    values = {"rps": (agent.rps, real.rps), "p50": (agent.p50_ms, real.p50_ms)}
    values["p99"] = (agent.p99_ms, real.p99_ms)
    mine, theirs = values[metric]
    return f"{mine / theirs:.2f}" if theirs else "-"


def run(targets: list[Target], seconds: float, count: Counter, compare: tuple[str, str]) -> Table:
    """Every route x connections x target; ``compare`` is the (agent, real) pair of the ratio."""
    columns = ["route", "conns", "metric", *(t.label for t in targets)]
    columns.append(f"{compare[0]} / {compare[1]}")
    table = Table("HTTP: throughput and latency (keep-alive, wrk -t1)", columns)
    for route in ROUTES:
        for connections in CONNECTIONS:
            results: dict[str, HttpFigures | None] = {}
            for target in targets:
                figures = None
                if target.port is not None:
                    figures = load(target.port, route, connections, seconds)
                    count(target.label, figures.requests)
                results[target.label] = figures
            _add_rows(table, route, connections, targets, results, compare)
    return table


def _add_rows(
    table: Table,
    route: str,
    connections: int,
    targets: list[Target],
    results: Mapping[str, HttpFigures | None],
    compare: tuple[str, str],
) -> None:
    for metric, label in (("rps", "req/s"), ("p50", "p50"), ("p99", "p99")):
        row = [route, str(connections), label]
        row += [_cell(results[t.label], metric, t.missing) for t in targets]
        row.append(_ratio(results.get(compare[0]), results.get(compare[1]), metric))
        table.rows.append(row)
    for target in targets:
        figures = results[target.label]
        record = {"route": route, "connections": connections, "target": target.label}
        if figures is not None:
            record.update(
                rps=figures.rps, p50_ms=figures.p50_ms, p99_ms=figures.p99_ms,
                requests=figures.requests, seconds=figures.seconds, non2xx=figures.non2xx,
                socket_errors=figures.socket_errors,
                bytes_per_response=figures.bytes_per_response, tool=figures.tool,
            )  # fmt: skip
        table.records.append(record)
