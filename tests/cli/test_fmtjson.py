from __future__ import annotations

import io
import json
from pathlib import Path

from ganeti_agent.cli.fmtjson import run
from ganeti_agent.cli.moncollector import Outcome, execute, prepare


def test_files_and_stdin_are_indented(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"a":[1,2]}')
    out, err = io.StringIO(), io.StringIO()
    assert run([str(good), "-"], out, err, io.StringIO("[true]")) == 0
    assert out.getvalue() == '{\n    "a": [\n        1,\n        2\n    ]\n}\n[\n    true\n]\n'


def test_bad_input_is_reported_and_the_rest_printed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out, err = io.StringIO(), io.StringIO()
    status = run([str(bad), str(tmp_path / "missing"), "-"], out, err, io.StringIO("1"))
    assert status == 1
    assert out.getvalue() == "1\n"
    assert "bad.json: not JSON" in err.getvalue() and "missing" in err.getvalue()


def test_mon_collector_pretty_prints_the_same_report(tmp_path: Path) -> None:
    stats = tmp_path / "diskstats"
    stats.write_text("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n")
    prepared = prepare(["diskstats", "-f", str(stats), "--pretty"])
    assert isinstance(prepared, tuple)
    outcomes: list[Outcome] = []
    execute(*prepared).addCallback(outcomes.append)  # diskstats runs no command: fires now
    (outcome,) = outcomes
    assert outcome.stdout.startswith('{\n    "name": "diskstats"')
    assert json.loads(outcome.stdout)["data"][0]["name"] == "sda"
