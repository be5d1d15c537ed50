"""The reason trail: format, validation and tolerant reading."""

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


@given(
    st.lists(
        st.tuples(st.text(), st.text(), st.integers(min_value=0, max_value=2**63 - 1)), max_size=5
    )
)
def test_round_trip(triples: list[tuple[str, str, int]]) -> None:
    entries = [rt.ReasonEntry(*triple) for triple in triples]
    import json

    assert rt.parse_trail(json.dumps(rt.trail_to_json(entries))) == entries
