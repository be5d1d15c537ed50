from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ganeti_agent.cli.fmtjson import BAD_INPUT, run
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


def fmtjson(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    script = Path(sys.executable).with_name("ganeti-fmtjson")
    return subprocess.run(
        [str(script), *argv], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_help_is_help_not_a_file_name() -> None:
    shown = fmtjson("--help")
    assert shown.returncode == 0 and shown.stderr == ""
    assert shown.stdout.startswith("usage: ganeti-fmtjson") and "Exit status:" in shown.stdout


def test_a_file_named_like_an_option_goes_after_the_double_dash(tmp_path: Path) -> None:
    (tmp_path / "--help").write_text("[1]")
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("ganeti-fmtjson")), "--", "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (shown.returncode, shown.stdout) == (0, "[\n    1\n]\n")


def test_an_unknown_option_is_a_usage_error() -> None:
    wrong = fmtjson("--bogus")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert wrong.stderr.splitlines()[-1] == "ganeti-fmtjson: error: unrecognized arguments: --bogus"


@pytest.mark.parametrize("empty", ["", " \n\t\n"])
def test_empty_input_is_one_clear_line_and_status_1(empty: str) -> None:
    refused = fmtjson(stdin=empty)
    assert (refused.returncode, refused.stdout) == (BAD_INPUT, "")
    assert refused.stderr == "fmtjson: <stdin>: empty input, expected a JSON document\n"
