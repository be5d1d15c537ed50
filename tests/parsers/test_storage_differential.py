"""Differential fuzzing: our drbd/lvs parsers against the real mon-collector 3.0.2.

Mutated copies of real and hand-written inputs go to both; the accepted/rejected
verdict and the data must agree (``Disconnecting`` inputs are left out: accepting
them is our documented departure). Needs Debian's ganeti-haskell-3.0 (installed by
../shared/reference/setup-ganeti.sh); skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganeti_agent.parsers.drbd import parse_drbd
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.lvs import lv_data, parse_lvs
from tests.support import GANETI_FIXTURES

REAL = "/usr/lib/ganeti/3.0/usr/lib/ganeti/mon-collector"
INPUTS = Path(__file__).resolve().parents[1] / "golden" / "inputs"
pytestmark = pytest.mark.skipif(
    not os.access(REAL, os.X_OK), reason="the real mon-collector (ganeti-haskell-3.0) is absent"
)
ALPHABET = " \t\r\n\x00:/%[]=>.,0123456789KMe+-;Bab"


def _sources(pattern: str, fixtures: list[str]) -> list[str]:
    paths = [GANETI_FIXTURES / name for name in fixtures] + sorted(INPUTS.glob(pattern))
    texts = [p.read_text() for p in paths if p.exists()]
    return [t for t in texts if "Disconnecting" not in t]


DRBD = _sources("drbd*.txt", [f"proc_drbd{s}.txt" for s in ("8", "83_sync", "84", "84_sync")])
LVS = _sources("lvs*.txt", ["lvs_lv.txt"])


def mutate(source: str, edits: list[tuple[int, int, str]]) -> str:
    text = source
    for where, cut, insert in edits:
        where = where % (len(text) + 1)
        text = text[:where] + insert + text[where + cut :]
    return text


EDITS = st.lists(
    st.tuples(st.integers(0, 5000), st.integers(0, 4), st.text(alphabet=ALPHABET, max_size=3)),
    min_size=1,
    max_size=3,
)


def real_data(arguments: list[str], text: str) -> object:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(text)
    try:
        done = subprocess.run(
            [REAL, *arguments, handle.name],
            capture_output=True,
            env={"LC_ALL": "C.UTF-8"},
            timeout=30,
            check=False,
        )
    finally:
        os.unlink(handle.name)
    return json.loads(done.stdout)["data"] if done.returncode == 0 else None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DRBD), EDITS)
def test_drbd_parser_agrees_with_ganeti(source: str, edits: list[tuple[int, int, str]]) -> None:
    text = mutate(source, edits)
    try:
        ours = parse_drbd(text).to_json({})
    except ParseError:
        ours = None
    assert ours == real_data(["drbd", "-p", "/dev/null", "-s"], text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LVS), EDITS)
def test_lvs_parser_agrees_with_ganeti(source: str, edits: list[tuple[int, int, str]]) -> None:
    text = mutate(source, edits)
    try:
        ours = lv_data(parse_lvs(text), [])
    except ParseError:
        ours = None
    empty = INPUTS / "instances-empty.json"
    real = real_data(["lv", "-i", str(empty), "-f"], text)
    assert ours == real
