"""The hspace program in-process: what it prints for options the goldens do not cover."""

from __future__ import annotations

import io
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
    out, err = io.StringIO(), io.StringIO()
    assert hspace.run(cli.parse_options("hspace", args), out, err) == 0
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
