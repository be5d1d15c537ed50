"""The hspace program in-process: what it prints for options the goldens do not cover."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from ganeti_agent.htools import cli, hspace

FIXTURES = Path(__file__).parents[3] / "shared" / "fixtures" / "htools"
TWO_NODES = (
    "group-01|fake-uuid-01|preferred||\n\n"
    "node-1|1024|0|1024|10240|10240|4|M|fake-uuid-01|1\n"
    "node-2|1024|0|1024|10240|10240|4|N|fake-uuid-01|1\n\n\n\n"
)


def _run(args: list[str]) -> tuple[str, str]:
    """``hspace.run`` with the recursion limit ``main`` sets (tiered allocation recurses)."""
    out, err = io.StringIO(), io.StringIO()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100000)
    try:
        assert hspace.run(cli.parse_options("hspace", args), out, err) == 0
    finally:
        sys.setrecursionlimit(limit)
    return out.getvalue(), err.getvalue()


def _indexes(err: str) -> list[str]:
    table = err.split("Initial cluster status:\n")[1].split("\n\n")[0]
    return [line.split()[0] for line in table.splitlines()[1:]]


def test_simulated_nodes_are_numbered_from_one(tmp_path: Path) -> None:
    """Ganeti's simulation backend numbers nodes 1..N; the text backend from 0."""
    _, err = _run(["--simulate=p,3,1T,64g,8", "-pidx,name", "-l0", "--machine-readable"])
    assert _indexes(err) == ["1", "2", "3"]
    data = tmp_path / "two.data"
    data.write_text(TWO_NODES)
    _, err = _run(["-t", str(data), "-pidx,name", "-l0", "--machine-readable"])
    assert _indexes(err) == ["0", "1"]


def test_no_allocation_tried_dies_as_ganeti_does(capsys: pytest.CaptureFixture[str]) -> None:
    """Human output with ``-l 0``: Ganeti 3.0.2 prints the tiered header, then crashes."""
    assert hspace.main(["--simulate=p,3,1T,64g,8", "-l0"]) == 1
    out, err = capsys.readouterr()
    assert out.endswith("Tiered allocation results:\n  - no instances allocated\n")
    assert err == "hspace: Prelude.head: empty list\n"


MIGRATION = (
    "group-01|fake-uuid-01|preferred||\n\n"
    "node-1|16384|0|16384|409600|409600|8|M|fake-uuid-01|4|{a}\n"
    "node-2|16384|0|16384|409600|409600|8|N|fake-uuid-01|4|{b}\n"
    "node-3|16384|0|16384|409600|409600|8|N|fake-uuid-01|4|{a}\n\n"
    "inst-1|1024|10240|1|running|Y|node-1|node-2|drbd||1\n"
    "inst-2|1024|10240|1|running|Y|node-3|node-1|drbd||1\n\n"
    "{ctags}\n"
)


def _cluster(tmp_path: Path, a: str, b: str, ctags: str) -> str:
    path = tmp_path / "cluster.data"
    path.write_text(MIGRATION.format(a=a, b=b, ctags=ctags))
    return str(path)


def test_migration_tags_block_failover_in_the_n1_check(tmp_path: Path) -> None:
    """node-1 (mig:a) cannot fail over to node-2 (mig:b): the group is not N+1 (real hspace)."""
    _, err = _run(
        ["-t", _cluster(tmp_path, "mig:a", "mig:b", "htools:migration:mig"), "-vvv", "-l1"]
    )
    assert 'Bad groups: ["group-01"]\n' in err
    allowed = "htools:migration:mig\nhtools:allowmigration:mig:a::mig:b"
    _, err = _run(["-t", _cluster(tmp_path, "mig:a", "mig:b", allowed), "-vvv", "-l1"])
    assert "Bad groups" not in err
    _, err = _run(
        ["-t", _cluster(tmp_path, "mig:a", "mig:a", "htools:migration:mig"), "-vvv", "-l1"]
    )
    assert "Bad groups" not in err


def test_location_tags_need_the_name_and_a_colon(tmp_path: Path) -> None:
    """``htools:nlocation:power`` makes ``power:x`` a location, not ``powerx`` (real hspace)."""
    _, err = _run(
        ["-t", _cluster(tmp_path, "powerx", "powerx", "htools:nlocation:power"), "-vvv", "-l1"]
    )
    assert "Initial coefficients: overall 2.02367067\n" in err
    _, err = _run(
        ["-t", _cluster(tmp_path, "power:x", "power:x", "htools:nlocation:power"), "-vvv"]
    )
    assert "Initial coefficients: overall 4.02367067\n" in err


def test_allocatable_nodes_are_shown_at_verbosity_four(tmp_path: Path) -> None:
    _, err = _run(["-t", _cluster(tmp_path, "", "", ""), "-vvv", "--disk-template=plain", "-l1"])
    assert "Allocatable nodes: Left [0,1,2]\n" in err
    args = ["--simulate=p,3,1T,64g,8", "--simulate=p,2,1T,64g,8", "-vvv", "-l0"]
    _, err = _run([*args, "--disk-template=drbd", "--machine-readable"])
    assert "Allocatable nodes: Right [(1,[2]),(2,[1]),(3,[4,5]),(4,[3,5]),(5,[3,4])]\n" in err


def test_too_deep_a_shrink_chain_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Past the recursion limit (shrunk here from main's 100000): one line, no traceback."""
    monkeypatch.setattr(sys, "setrecursionlimit", lambda _limit: None)
    limit = sys.getrecursionlimit()
    try:
        _real_set(300)
        code = hspace.main(["--simulate=p,2,1T,64g,8", "--disk-template=plain"])
    finally:
        _real_set(limit)
    assert code == 1
    err = capsys.readouterr().err
    assert err == "Error: tiered allocation recursed too deep (too many shrink steps)\n"


_real_set = sys.setrecursionlimit
