"""Merging a loaded cluster (``loader``) where Ganeti's ``Loader.hs`` has quirks to keep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganeti_agent.htools import text
from ganeti_agent.htools.loader import merge_data, update_missing
from tests.htools.test_ialloc import FIXTURES, _ours, _real, _run, _run_ours
from tests.support import SHARED_MISSING

SAME_NODE_TWICE = (
    "group-01|fake-uuid-01|preferred||\n\n"
    "node-1|4096|0|2048|10240|9216|4|M|fake-uuid-01|1\n\n"
    "inst-1|2048|1024|1|running|Y|node-1|node-1|plain||1\n\n\n"
)


def test_instance_naming_its_primary_as_secondary_counts_only_as_secondary() -> None:
    """fixNodes reads the secondary node before it records the primary, so the
    primary record is lost: the node hosts the instance only as secondary, and
    its memory shows up as missing (as Ganeti 3.0.2's hroller reports it)."""
    merged = merge_data(text.parse_data(SAME_NODE_TWICE))
    messages, nodes = update_missing(merged.nodes, merged.instances)
    assert nodes[0].plist == ()
    assert nodes[0].slist == (0,)
    assert nodes[0].i_mem == 0
    assert messages == ["node node-1 is missing 2048 MB ram and 0 GB disk"]


NODE_TOTALS = (
    "group-01|fake-uuid-01|preferred||\n\n"
    "node-1|{mem}|0|1024|{dsk}|10240|{cpu}|M|fake-uuid-01|1\n"
    "node-2|1024|0|1024|10240|10240|4|N|fake-uuid-01|1\n\n\n\n"
)
OUT_OF_INT = [
    ("dsk", "1e400", "disk Infinity"),
    ("dsk", "Infinity", "disk Infinity"),
    ("dsk", "NaN", "disk NaN"),
    ("mem", "-Infinity", "memory -Infinity"),
    ("mem", "9.3e18", "memory 9.3e18"),
    ("cpu", "1e30", "cpu 1.0e30"),
]


@pytest.mark.parametrize(("field", "value", "shown"), OUT_OF_INT)
def test_a_total_beyond_int_is_one_line_not_a_traceback(
    tmp_path: Path, field: str, value: str, shown: str
) -> None:
    """Ganeti wraps these through GHC's ``truncate``; we stop with one line instead."""
    totals = {"mem": "1024", "dsk": "10240", "cpu": "4", field: value}
    path = tmp_path / "huge.data"
    path.write_text(NODE_TOTALS.format(**totals))
    message = f"node node-1: total {shown} does not fit a 64-bit Int"
    expected = f"Error: failed to load data, aborting: {message}\n"
    for tool in ("hspace", "hroller"):
        assert _run_ours(tool, ["-t", str(path)]) == (1, "", expected)


def test_a_total_an_int_holds_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "big.data"
    path.write_text(NODE_TOTALS.format(mem="1024", dsk="9.2e18", cpu="4"))
    code, out, _ = _run_ours("hspace", ["-t", str(path), "--machine-readable"])
    assert (code, "HTS_CLUSTER_DSK=9200000000000010000\n" in out) == (0, True)


def test_huge_totals_match_the_real_tools_where_they_fit(tmp_path: Path) -> None:
    path = tmp_path / "big.data"
    path.write_text(NODE_TOTALS.format(mem="1024", dsk="9.2e18", cpu="4"))
    for tool in ("hspace", "hroller"):
        args = ["-t", str(path), "--machine-readable"] if tool == "hspace" else ["-t", str(path)]
        assert _run([*_ours(tool), *args]) == _run([str(_real(tool)), *args]), tool


def test_a_request_with_an_infinite_total_is_one_line(tmp_path: Path) -> None:
    fixture = FIXTURES / "hail-alloc-drbd.json"
    if not fixture.exists():
        pytest.skip(f"{SHARED_MISSING} {fixture}")
    request = json.loads(fixture.read_text())
    next(iter(request["nodes"].values()))["total_disk"] = 1e400
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(request).replace("Infinity", "1e400"))
    code, out, err = _run_ours("hspace", ["-I", str(path)])
    assert (code, out) == (1, "")
    assert err.endswith("Error: node node1: total disk Infinity does not fit a 64-bit Int\n")
    assert "Traceback" not in err
