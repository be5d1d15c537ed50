"""The reason trail: format, validation, tolerant reading and atomic writing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganeti_agent.collectors.instances import reason_trail as rt
from ganeti_agent.core.paths import GanetiPaths


def paths_in(tmp_path: Path) -> GanetiPaths:
    return GanetiPaths(data_dir=str(tmp_path / "lib"), run_dir=str(tmp_path / "run"))


def test_source_constants_follow_ganeti() -> None:
    assert rt.SOURCE_USER == "gnt:user"
    assert rt.client_source("gnt-instance") == "gnt:client:gnt-instance"
    assert rt.opcode_source("shutdown") == "gnt:opcode:shutdown"
    assert rt.noded_source("reboot") == "gnt:daemon:noded:reboot"
    assert rt.SOURCE_WATCHER == "gnt:watcher"
    assert rt.rlib2_source("shutdown") == "gnt:library:rlib2:shutdown"
    assert rt.ReasonEntry("gnt:watcher", "", 1).from_ganeti
    assert not rt.ReasonEntry("user", "", 1).from_ganeti


@pytest.mark.parametrize(
    "text",
    ["{}", '[["a", "b"]]', '[["a", 1, 2]]', '[["a", "b", "c"]]', '[["a", "b", true]]', "nope"],
)
def test_invalid_trails_are_refused(text: str) -> None:
    with pytest.raises(rt.InvalidTrail):
        rt.parse_trail(text)


def test_real_timestamps_are_rounded_like_haskell_integer() -> None:
    assert rt.parse_trail('[["gnt:watcher", "", 1.7e18]]')[0].timestamp == 1700000000000000000


def test_reading_never_fails(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    assert rt.read_trail(paths, "missing.example.com") == []
    os.makedirs(paths.instance_reason_dir)
    Path(paths.instance_reason_dir, "bad").write_text("[[")
    Path(paths.instance_reason_dir, "binary").write_bytes(b"\xff\xfe")
    Path(paths.instance_reason_dir, "dir").mkdir()
    for name in ("bad", "binary", "dir", "../escape", ""):
        if name in ("../escape", ""):
            with pytest.raises(rt.InvalidTrail):
                rt.trail_path(paths, name)
        assert rt.read_trail(paths, name) == []


def test_write_is_atomic_and_readable(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    entries = [rt.ReasonEntry(rt.client_source("gnt-instance"), "stop", 1363088484020000000)]
    path = rt.write_trail(paths, "inst1", entries)
    assert Path(path).read_text() == '[["gnt:client:gnt-instance","stop",1363088484020000000]]'
    assert rt.read_trail(paths, "inst1") == [
        ["gnt:client:gnt-instance", "stop", 1363088484020000000]
    ]
    assert sorted(os.listdir(paths.instance_reason_dir)) == ["inst1"]
    appended = rt.append_entry(paths, "inst1", rt.noded_source("shutdown"), "", now=1.5)
    assert [e.source for e in appended] == ["gnt:client:gnt-instance", "gnt:daemon:noded:shutdown"]
    assert appended[-1].timestamp == 1_500_000_000


@given(
    st.lists(
        st.tuples(st.text(), st.text(), st.integers(min_value=0, max_value=2**63 - 1)), max_size=5
    )
)
def test_round_trip(triples: list[tuple[str, str, int]]) -> None:
    entries = [rt.ReasonEntry(*triple) for triple in triples]
    import json

    assert rt.parse_trail(json.dumps(rt.trail_to_json(entries))) == entries
