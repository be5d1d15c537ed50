"""The cluster score where no node is online: Ganeti's statistics list is empty, the score 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganeti_agent.htools import metrics, text
from ganeti_agent.htools.loader import merge_data
from tests.htools.test_ialloc import _ours, _real, _run, _run_ours
from tests.support import SHARED, SHARED_MISSING

EMPTY = SHARED / "fixtures" / "htools" / "empty-cluster.data"
POLICY = (
    "|128,1,1024,1,1,1|128,1,1024,1,1,1;32768,8,1048576,16,8,12"
    "|diskless,file,sharedfile,plain,blockdev,drbd,rbd,ext|4.0|32.0\n"
)
ALL_OFFLINE = (
    "group-01|fake-uuid-01|preferred||\n\n"
    "node-1|91552|0|91424|953674|953674|16|Y|fake-uuid-01|1\n"
    "node-2|91552|0|91424|953674|953674|16|Y|fake-uuid-01|1\n\n\n\n" + POLICY + "group-01" + POLICY
)


def _offline_cluster(tmp_path: Path) -> str:
    path = tmp_path / "offline.data"
    path.write_text(ALL_OFFLINE)
    return str(path)


def _empty_cluster() -> str:
    if not EMPTY.exists():
        pytest.skip(f"{SHARED_MISSING} {EMPTY}")
    return str(EMPTY)


def test_no_nodes_score_zero_in_machine_readable_output() -> None:
    code, out, _ = _run_ours("hspace", ["--machine-readable", "-t", _empty_cluster()])
    assert code == 1
    assert "HTS_INI_SCORE=0.00000000\n" in out


def test_offline_nodes_alone_score_zero_with_no_statistics_to_show(tmp_path: Path) -> None:
    """Real hspace: the overall score 0 and a table with its header only."""
    args = ["--machine-readable", "-t", _offline_cluster(tmp_path), "-v", "-v", "-v"]
    code, out, err = _run_ours("hspace", args)
    assert code == 1
    assert "HTS_INI_SCORE=0.00000000\n" in out
    assert err.startswith("Initial coefficients: overall 0.00000000\n   Field Value Weight\n")


def test_the_statistics_of_no_online_node_are_an_empty_list() -> None:
    nodes = merge_data(text.parse_data(ALL_OFFLINE)).nodes
    assert metrics.cluster_statistics(nodes) == []
    assert metrics.comp_cv(nodes) == 0.0
    assert metrics.comp_cv([]) == 0.0


def test_no_online_node_matches_the_real_tools(tmp_path: Path) -> None:
    for data in (_empty_cluster(), _offline_cluster(tmp_path)):
        for tool, extra in (("hspace", ["--machine-readable", "-v", "-v", "-v"]), ("hspace", []),
                            ("hroller", []), ("hroller", ["--force"])):  # fmt: skip
            args = ["-t", data, *extra]
            ours = _run([*_ours(tool), *args])
            real = _run([str(_real(tool)), *args])
            assert ours == real, (tool, args)
