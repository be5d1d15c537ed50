"""Loaders, score and allocation on small hand-made clusters.

Expected numbers were derived by hand (see each test) and agree with the
real hspace 3.0.2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganeti_agent.htools import metrics, simu, text
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.cluster import AllocOptions, gen_alloc_nodes, try_alloc
from ganeti_agent.htools.hsformat import fixed, fixed_shortest, show_double
from ganeti_agent.htools.hspace import inst_from_spec
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.loader import merge_data, update_missing
from ganeti_agent.htools.pairs import evaluate_pairs
from ganeti_agent.htools.primitives import Candidate
from ganeti_agent.htools.types import FailMode, LoadError, RSpec

TWO_NODES = (
    "group-01|fake-uuid-01|preferred||\n\n"
    "node-1.example.com|1024|0|1024|10240|10240|4|N|fake-uuid-01|1\n"
    "node-2.example.com|1024|0|512|10240|9216|4|N|fake-uuid-01|1\n\n"
    "inst-1.example.com|512|1024|1|running|Y|node-2.example.com||plain||1\n\n\n"
)


def _load(data: str) -> tuple[list[hnode.Node], list[object]]:
    merged = merge_data(text.parse_data(data))
    _, nodes = update_missing(merged.nodes, merged.instances)
    return nodes, merged.instances  # type: ignore[return-value]


def test_text_loader_fills_defaults_and_accounts_memory() -> None:
    nodes, _instances = _load(TWO_NODES)
    assert [n.alias for n in nodes] == ["node-1", "node-2"]
    second = nodes[1]
    assert second.i_mem == 512 and second.x_mem == 0 and second.plist == (0,)
    assert second.p_mem == 0.5  # (1024 - 512) / 1024
    assert second.p_dsk == 9216 / 10240
    assert second.u_cpu == 2  # node OS cpu (1) plus the instance's
    assert nodes[0].fail_n1 is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("g|u|preferred\n\n\n\n", 'Invalid/incomplete group data: \'["g","u","preferred"]\''),
        ("g|u|sometimes||\n\n\n\n", 'Invalid string value for type AllocPolicy: "sometimes"'),
        ("g|u|preferred||\n\nn|1|0|1|1|1|1|N|nope\n\n\n", "Unknown group 'nope' for node n"),
        ("g|u|preferred||\n\nn|x|0|1|1|1|1|N|u\n\n\n", "n: cannot parse string 'x'"),
        ("a\n\nb\n", "Invalid format of the input file: 2 sections instead of 4 or more"),
    ],
)
def test_text_loader_errors_are_ganetis(data: str, message: str) -> None:
    with pytest.raises(LoadError) as caught:
        text.parse_data(data)
    assert str(caught.value) == message


def test_simulation_units_and_names() -> None:
    data = simu.parse_data(["p,2,8T,64g,16"])
    assert [n.name for n in data.nodes] == ["node-01-001", "node-01-002"]
    assert data.nodes[0].t_dsk == 7629394 and data.nodes[0].t_mem == 65536
    assert data.nodes[0].is_master and not data.nodes[1].is_master
    with pytest.raises(LoadError, match="Cannot parse AllocPolicy abbreviation 'x'"):
        simu.parse_data(["x,2,8T,64g,16"])


def test_score_of_two_nodes_by_hand() -> None:
    nodes, _ = _load(TWO_NODES)
    # free_mem cv: values 1.0 and 0.5 -> mean .75, population sd .25, weight .5
    # free_disk cv: 1.0 and .9 -> sd .05, weight .5
    # vcpu ratio cv: .25 and .5 -> sd .125, weight .5
    # cpu/mem/net load cv: 0 and 1 -> sd .5 each; disk load likewise
    # spindles cv: 0 and 1/32 -> sd 1/64, weight .5
    # forth variants repeat mem, disk, vcpu and spindles: weight .5 each
    expected = 2 * (0.5 * 0.25 + 0.5 * 0.05 + 0.5 * 0.125 + 0.5 / 64) + 4 * 0.5
    assert math.isclose(metrics.comp_cv(nodes), expected, rel_tol=1e-12)


def test_haskell_number_formatting() -> None:
    assert fixed(0.125, 2) == "0.12"  # GHC rounds the shortest digits half to even
    assert fixed(0.0703264549, 8) == "0.07032645"
    assert (
        show_double(0.75) == "0.75" and show_double(0.0) == "0.0" and show_double(0.01) == "1.0e-2"
    )
    assert fixed_shortest(1.0) == "1.0"


def _scalar_pair_scores(nodes: list[hnode.Node], inst: Instance) -> dict[tuple[int, int], float]:
    import dataclasses

    stats = metrics.cluster_statistics(nodes)
    scores = {}
    for p in nodes:
        for s in nodes:
            if p.idx == s.idx:
                continue
            placed = dataclasses.replace(inst, pnode=p.idx, snode=s.idx)
            new_p = hnode.add_pri(p, placed)
            new_s = hnode.add_sec(s, placed, p.idx)
            if isinstance(new_p, FailMode) or isinstance(new_s, FailMode):
                continue
            upd = metrics.update_statistics(metrics.update_statistics(stats, p, new_p), s, new_s)
            scores[(p.idx, s.idx)] = metrics.cv_from_stats(upd)
    return scores


def test_array_scores_are_the_scalar_doubles() -> None:
    data = merge_data(simu.parse_data(["p,5,1T,64g,8"]))
    nodes = data.nodes
    inst = inst_from_spec(RSpec(cpu=2, mem=4096, dsk=102400, spn=1), "drbd", 1)
    # make the nodes differ: place a few instances first
    opts = AllocOptions(capacity=False)
    instances: list[object] = []
    pairs_spec = gen_alloc_nodes(data.groups, nodes, 2, True)
    for _step in range(3):
        result = try_alloc(opts, nodes, instances, inst, pairs_spec)  # type: ignore[arg-type]
        assert isinstance(result.best, Candidate)
        nodes = result.best.nodes
        instances.append(result.best.inst)
    expected = _scalar_pair_scores(nodes, inst)
    pairs = [(p.idx, [s.idx for s in nodes if s.idx != p.idx]) for p in nodes]
    found = evaluate_pairs(
        nodes, metrics.cluster_statistics(nodes), inst, pairs, False, want_all=True
    )
    assert found.valid is not None and len(found.valid) == len(expected)
    for pdx, sdx, score in found.valid:
        assert score == expected[(pdx, sdx)]  # bit for bit, not approximately
    best = min(expected.values())
    last_best = [k for k, v in expected.items() if v == best][-1]
    assert found.best is not None and found.best[:2] == last_best
    assert np.isfinite(best)


def test_allocation_failure_reasons_are_counted_per_pair() -> None:
    data = merge_data(simu.parse_data(["p,3,1T,4g,8"]))
    inst = inst_from_spec(RSpec(cpu=1, mem=8192, dsk=1024, spn=1), "drbd", 1)
    result = try_alloc(
        AllocOptions(capacity=False),
        data.nodes,
        [],
        inst,
        gen_alloc_nodes(data.groups, data.nodes, 2, True),
    )
    assert result.best is None
    assert result.failures == {FailMode.FailMem: 6}  # 3 primaries x 2 secondaries


@pytest.mark.parametrize(
    ("value", "floor"),
    [(2.5, 2), (-2.5, -3), (-0.0, 0), (7.0, 7), (-(2.0**63), -(2**63)), (2.0**62, 2**62),
     # beyond an Int: GHC's conversion gives minBound, then floor steps below it and wraps
     (math.inf, -(2**63)), (math.nan, -(2**63)), (1e19, -(2**63)),
     (-math.inf, 2**63 - 1), (-1e300, 2**63 - 1)],
)  # fmt: skip
def test_floor_int_is_ghcs_floor_to_int(value: float, floor: int) -> None:
    """``floorDoubleInt``; the limits (Infinity and beyond) were checked with Ganeti's hspace."""
    assert hnode.floor_int(value) == floor


def test_merging_leaves_the_loaded_cluster_as_it_was() -> None:
    """``merge_data`` completes its own copies of the nodes in place, never the loader's."""
    raw = text.parse_data(TWO_NODES)
    before = [hnode.copy_node(n) for n in raw.nodes]
    merged = merge_data(raw)
    assert raw.nodes == before
    assert merged.nodes[1].plist == (0,) and raw.nodes[1].plist == ()
