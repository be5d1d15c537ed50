"""The node graph of a rolling reboot and its colourings (Ganeti's ``Graph.hs``).

Two nodes are joined when they must not be rebooted together; a colouring
then gives groups of nodes that may go down at the same time. Ganeti builds
the graph with ``Data.Graph.buildG``, a multigraph over *every* vertex
between the smallest and the largest candidate index: duplicate edges and
self loops count in the degrees, and vertices that are not candidates are
coloured too (they drop out later). The colourings below keep those
quirks and Ganeti's tie rules, because they decide which groups come out.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.node import Node

Edge = tuple[int, int]
Coloring = dict[int, int]
"""Vertex to colour (``VertColorMap``)."""


@dataclass(frozen=True, slots=True)
class Graph:
    """Adjacency lists for the vertices ``lo`` .. ``hi`` (``Data.Graph.Graph``).

    ``adjacency[v - lo]`` lists the targets of ``v``'s edges, newest edge
    first as ``buildG`` accumulates them, duplicates kept.
    """

    lo: int
    hi: int
    adjacency: tuple[tuple[int, ...], ...]

    @property
    def vertices(self) -> range:
        return range(self.lo, self.hi + 1)

    def neighbors(self, vertex: int) -> tuple[int, ...]:
        return self.adjacency[vertex - self.lo]

    def degree(self, vertex: int) -> int:
        return len(self.adjacency[vertex - self.lo])


def build_graph(lo: int, hi: int, edges: Iterable[Edge]) -> Graph:
    """``buildG``: edges outside ``lo``..``hi`` must have been filtered out."""
    lists: list[list[int]] = [[] for _ in range(hi - lo + 1)]
    for source, target in edges:
        lists[source - lo].append(target)
    return Graph(lo, hi, tuple(tuple(reversed(targets)) for targets in lists))


def show_graph(graph: Graph) -> str:
    """The graph as Haskell's ``show`` prints an ``Array Int [Int]``."""
    items = ",".join(f"({v},[{','.join(map(str, graph.neighbors(v)))}])" for v in graph.vertices)
    return f"array ({graph.lo},{graph.hi}) [{items}]"


# ---------------------------------------------------------------- construction


def instance_edges(instances: Sequence[Instance]) -> list[Edge]:
    """Both directions of every DRBD instance's primary-secondary pair, in index order."""
    edges: list[Edge] = []
    for inst in instances:
        if inst.has_secondary:
            edges.append((inst.pnode, inst.snode))
            edges.append((inst.snode, inst.pnode))
    return edges


def shared_secondary_edges(nodes: Sequence[Node], instances: Sequence[Instance]) -> list[Edge]:
    """Every ordered pair (self pairs included) of primaries sharing a secondary node.

    Rebooting two such primaries together would fail both instances over
    to the same node at once. Listed once each, first occurrence first
    (Haskell's ``nub``).
    """
    seen: set[Edge] = set()
    edges: list[Edge] = []
    for node in nodes:
        # Distinct primaries in first-seen order give the pairs in the same
        # first-seen order as all of them would, in (distinct count)² steps.
        primaries = list(dict.fromkeys(instances[i].pnode for i in node.slist))
        for first in primaries:
            for second in primaries:
                edge = (first, second)
                if edge not in seen:
                    seen.add(edge)
                    edges.append(edge)
    return edges


def _bounded_graph(candidates: Iterable[int], edges: Iterable[Edge]) -> Graph | None:
    wanted = set(candidates)
    if not wanted:
        return None
    valid = [(a, b) for a, b in edges if a in wanted and b in wanted]
    return build_graph(min(wanted), max(wanted), valid)


def node_graph(candidates: Iterable[int], instances: Sequence[Instance]) -> Graph | None:
    """``mkNodeGraph``: only DRBD pairs (for ``--offline-maintenance``); None without candidates."""
    return _bounded_graph(candidates, instance_edges(instances))


def reboot_node_graph(
    all_nodes: Sequence[Node], candidates: Iterable[int], instances: Sequence[Instance]
) -> Graph | None:
    """``mkRebootNodeGraph``: DRBD pairs plus cliques of primaries sharing a secondary.

    Every node counts for the cliques, even one that is no candidate;
    shared-secondary pairs already present as DRBD pairs are not added
    again (Haskell's ``union``), while duplicate DRBD pairs stay.
    """
    direct = instance_edges(instances)
    present = set(direct)
    shared = [e for e in shared_secondary_edges(all_nodes, instances) if e not in present]
    return _bounded_graph(candidates, direct + shared)


# ---------------------------------------------------------------- colourings


def _first_free_color(graph: Graph, coloring: Coloring, vertex: int) -> int:
    used = {coloring[n] for n in graph.neighbors(vertex) if n in coloring}
    color = 0
    while color in used:
        color += 1
    return color


def color_in_order(graph: Graph, order: Sequence[int]) -> Coloring:
    """``colorInOrder``: greedy, and (``foldr``) the *last* vertex of ``order`` first."""
    coloring: Coloring = {}
    for vertex in reversed(order):
        coloring[vertex] = _first_free_color(graph, coloring, vertex)
    return coloring


def color_lf(graph: Graph) -> Coloring:
    """``colorLF``: largest degree first; among equal degrees the highest vertex first."""
    ascending = sorted(graph.vertices, key=graph.degree)
    return color_in_order(graph, ascending)


def _color_dynamic(graph: Graph, track_distinct: bool) -> Coloring:
    """``colorDynamicOrder``: always colour the remaining vertex with the largest key.

    The key is (coloured-neighbour measure, degree); on a tie Haskell's
    ``maximumBy`` takes the last of the remaining vertices, i.e. the
    highest. The measure (distinct neighbour colours for Dsatur, coloured
    neighbours counted with multiplicity for Dcolor) only grows, so a heap
    with stale entries skipped finds the same vertex as Ganeti's full scan.
    """
    lo = graph.lo
    adjacency = graph.adjacency
    coloring: Coloring = {}
    neighbor_colors: list[set[int]] = [set() for _ in adjacency]
    measures = [0] * len(adjacency)
    heap = [(0, -len(targets), -(lo + pos)) for pos, targets in enumerate(adjacency)]
    heapq.heapify(heap)
    while heap:
        neg_measure, _, neg_vertex = heapq.heappop(heap)
        vertex = -neg_vertex
        if vertex in coloring or -neg_measure != measures[vertex - lo]:
            continue
        color = _first_free_color(graph, coloring, vertex)
        coloring[vertex] = color
        for neighbor in adjacency[vertex - lo]:
            if neighbor in coloring:
                continue
            pos = neighbor - lo
            if track_distinct:
                if color in neighbor_colors[pos]:
                    continue
                neighbor_colors[pos].add(color)
            measures[pos] += 1
            heapq.heappush(heap, (-measures[pos], -len(adjacency[pos]), -neighbor))
    return coloring


def color_dsatur(graph: Graph) -> Coloring:
    """``colorDsatur``: most distinct neighbour colours first, then highest degree."""
    return _color_dynamic(graph, track_distinct=True)


def color_dcolor(graph: Graph) -> Coloring:
    """``colorDcolor``: most coloured neighbours (counted with multiplicity) first, then degree."""
    return _color_dynamic(graph, track_distinct=False)


def color_classes(coloring: Coloring) -> list[list[int]]:
    """``IntMap.elems . colorVertMap``: vertices per colour, colours and vertices ascending."""
    by_color: dict[int, list[int]] = {}
    for vertex in sorted(coloring):
        by_color.setdefault(coloring[vertex], []).append(vertex)
    return [by_color[c] for c in sorted(by_color)]


COLORINGS: tuple[tuple[str, Callable[[Graph], Coloring]], ...] = (
    ("LF", color_lf),
    ("Dsatur", color_dsatur),
    ("Dcolor", color_dcolor),
)
"""The algorithms hroller runs, in its order (the first of the smallest wins)."""
