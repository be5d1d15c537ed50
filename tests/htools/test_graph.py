"""The reboot graph and its colourings (``graph``), on small graphs with known answers.

Besides hand-checked cases, each colouring is compared on random
multigraphs with a literal transcription of Ganeti's ``Graph.hs`` (list
scans, ``foldr``, ``maximumBy`` keeping the last maximum), so the faster
heap-based versions must choose exactly as Ganeti does.
"""

from __future__ import annotations

import random

import pytest

from ganeti_agent.htools import graph as hgraph
from ganeti_agent.htools import text
from ganeti_agent.htools.graph import Coloring, Graph, build_graph
from ganeti_agent.htools.loader import ClusterData, merge_data


def _edges(*pairs: tuple[int, int]) -> list[tuple[int, int]]:
    """Both directions of each undirected edge."""
    return [e for a, b in pairs for e in ((a, b), (b, a))]


def _cluster(instances: list[tuple[str, str, str]], node_count: int = 4) -> ClusterData:
    nodes = "".join(f"node-{n}|4096|0|4096|10240|10240|4|N|uuid-1|1\n" for n in range(node_count))
    insts = "".join(
        f"inst-{i}|128|256|1|running|Y|node-{p}|{'' if s == '' else 'node-' + s}|{t}||1\n"
        for i, (p, s, t) in enumerate(instances)
    )
    return merge_data(text.parse_data(f"group-1|uuid-1|preferred||\n\n{nodes}\n{insts}\n\n"))


# ---------------------------------------------------------------- construction


def test_build_graph_keeps_duplicates_and_lists_newest_edge_first() -> None:
    graph = build_graph(0, 2, [(0, 1), (1, 0), (0, 2), (0, 1)])
    assert graph.neighbors(0) == (1, 2, 1)
    assert [graph.degree(v) for v in graph.vertices] == [3, 1, 0]
    assert hgraph.show_graph(graph) == "array (0,2) [(0,[1,2,1]),(1,[0]),(2,[])]"


def test_offline_maintenance_graph_has_only_drbd_pairs() -> None:
    data = _cluster([("0", "2", "drbd"), ("1", "2", "drbd"), ("3", "", "plain")])
    graph = hgraph.node_graph([0, 1, 2, 3], data.instances)
    assert graph is not None
    assert hgraph.show_graph(graph) == "array (0,3) [(0,[2]),(1,[2]),(2,[1,0]),(3,[])]"


def test_reboot_graph_joins_primaries_sharing_a_secondary_with_self_loops() -> None:
    data = _cluster([("0", "2", "drbd"), ("1", "2", "drbd")])
    graph = hgraph.reboot_node_graph(data.nodes, [0, 1, 2, 3], data.instances)
    assert graph is not None
    # node-2's secondaries are listed newest first (inst-1, inst-0): primaries 1, 0.
    # Shared-secondary pairs in order: (1,1) (1,0) (0,1) (0,0), after the DRBD pairs.
    assert graph.neighbors(0) == (0, 1, 2)
    assert graph.neighbors(1) == (0, 1, 2)
    assert graph.neighbors(2) == (1, 0)
    assert graph.neighbors(3) == ()


def test_reboot_graph_counts_duplicate_drbd_pairs_but_adds_a_shared_pair_once() -> None:
    data = _cluster([("0", "1", "drbd"), ("0", "1", "drbd"), ("1", "0", "drbd")])
    graph = hgraph.reboot_node_graph(data.nodes, [0, 1], data.instances)
    assert graph is not None
    # Three DRBD pairs between 0 and 1 (all kept); node-1 as secondary gives the
    # self loop (0,0) once, node-0 as secondary the self loop (1,1) once.
    assert sorted(graph.neighbors(0)) == [0, 1, 1, 1]
    assert sorted(graph.neighbors(1)) == [0, 0, 0, 1]
    # 0 and 1 share secondary 2 and are also a DRBD pair: one edge, not two.
    data = _cluster([("0", "2", "drbd"), ("1", "2", "drbd"), ("0", "1", "drbd")])
    graph = hgraph.reboot_node_graph(data.nodes, [0, 1, 2], data.instances)
    assert graph is not None
    assert sorted(graph.neighbors(0)) == [0, 1, 2]


def test_non_candidates_join_the_cliques_but_only_the_range_of_candidates_is_a_vertex() -> None:
    data = _cluster([("0", "3", "drbd"), ("2", "3", "drbd")])
    graph = hgraph.reboot_node_graph(data.nodes, [0, 2], data.instances)
    assert graph is not None
    assert list(graph.vertices) == [0, 1, 2]
    assert sorted(graph.neighbors(0)) == [0, 2]
    assert graph.neighbors(1) == ()
    assert hgraph.reboot_node_graph(data.nodes, [], data.instances) is None


# ---------------------------------------------------------------- colourings


TWO_EDGES = build_graph(0, 3, _edges((0, 1), (2, 3)))
PATH = build_graph(0, 2, _edges((0, 1), (1, 2)))


def test_lf_colours_the_largest_degree_first_and_the_highest_vertex_on_a_tie() -> None:
    assert hgraph.color_classes(hgraph.color_lf(PATH)) == [[1], [0, 2]]
    # All degrees equal: vertex 3 is coloured first, so it gets colour 0.
    assert hgraph.color_lf(TWO_EDGES) == {3: 0, 2: 1, 1: 0, 0: 1}


def test_dsatur_prefers_saturation_then_degree_then_the_highest_vertex() -> None:
    assert hgraph.color_dsatur(TWO_EDGES) == {3: 0, 2: 1, 1: 0, 0: 1}
    star = build_graph(0, 3, _edges((0, 1), (0, 2), (0, 3)))
    assert hgraph.color_classes(hgraph.color_dsatur(star)) == [[0], [1, 2, 3]]


def test_dcolor_takes_coloured_neighbours_then_degree_then_the_highest_vertex() -> None:
    # 0 and 1 are joined twice. 2 (degree 2, the highest of the largest
    # degrees) goes first; then 4 and 3 (one coloured neighbour each); then
    # 1 before 0 (tie, higher vertex).
    graph = build_graph(0, 4, _edges((0, 1), (0, 1), (2, 3), (2, 4)))
    assert hgraph.color_dcolor(graph) == {2: 0, 4: 1, 3: 1, 1: 0, 0: 1}


def test_self_loops_do_not_stop_a_vertex_from_being_coloured() -> None:
    graph = build_graph(0, 1, [(0, 0), *_edges((0, 1))])
    for _, algorithm in hgraph.COLORINGS:
        assert sorted(hgraph.color_classes(algorithm(graph))) == [[0], [1]]


def test_color_classes_are_ordered_by_colour_then_vertex() -> None:
    assert hgraph.color_classes({5: 1, 2: 0, 4: 1, 0: 2, 1: 0}) == [[1, 2], [4, 5], [0]]


# ---------------------------------------------------------------- against Graph.hs


def _reference_first_free(graph: Graph, coloring: Coloring, vertex: int) -> int:
    used = [coloring[n] for n in graph.neighbors(vertex) if n in coloring]
    color = 0
    while color in used:
        color += 1
    return color


def _reference_lf(graph: Graph) -> Coloring:
    ascending = sorted(graph.vertices, key=graph.degree)  # sortBy is stable
    coloring: Coloring = {}
    for vertex in reversed(ascending):  # foldr: the last element first
        coloring[vertex] = _reference_first_free(graph, coloring, vertex)
    return coloring


def _reference_dynamic(graph: Graph, distinct: bool) -> Coloring:
    coloring: Coloring = {}
    remaining = list(graph.vertices)
    while remaining:
        best: tuple[int, tuple[int, int]] | None = None
        for vertex in remaining:
            colored = [coloring[n] for n in graph.neighbors(vertex) if n in coloring]
            measure = len(set(colored)) if distinct else len(colored)
            key = (measure, graph.degree(vertex))
            if best is None or not key < best[1]:  # maximumBy keeps the last maximum
                best = (vertex, key)
        assert best is not None
        chosen = best[0]
        coloring[chosen] = _reference_first_free(graph, coloring, chosen)
        remaining.remove(chosen)
    return coloring


def _random_multigraph(rng: random.Random) -> Graph:
    size = rng.randint(1, 14)
    lo = rng.randint(0, 3)
    pairs = [
        (lo + rng.randrange(size), lo + rng.randrange(size))
        for _ in range(rng.randint(0, size * 3))
    ]
    return build_graph(lo, lo + size - 1, _edges(*pairs))


@pytest.mark.parametrize("seed", range(40))
def test_colourings_choose_as_graph_hs_on_random_multigraphs(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        graph = _random_multigraph(rng)
        assert hgraph.color_lf(graph) == _reference_lf(graph)
        assert hgraph.color_dsatur(graph) == _reference_dynamic(graph, True)
        assert hgraph.color_dcolor(graph) == _reference_dynamic(graph, False)


def test_shared_secondary_pairs_are_the_first_seen_pairs_of_all_primaries() -> None:
    rng = random.Random(7)
    specs = [(str(rng.randrange(4)), str(rng.randrange(4, 6)), "drbd") for _ in range(30)]
    data = _cluster(specs, node_count=6)
    expected: list[tuple[int, int]] = []
    for node in data.nodes:
        primaries = [data.instances[i].pnode for i in node.slist]
        for pair in [(a, b) for a in primaries for b in primaries]:
            if pair not in expected:
                expected.append(pair)
    assert hgraph.shared_secondary_edges(data.nodes, data.instances) == expected
