"""``ganeti-mon-collector`` as users run it: a real process, real files, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ganeti_agent.cli.moncollector import prepare
from tests.support import REPO, shared_fixture, shared_path

CLI = [sys.executable, "-m", "ganeti_agent.cli.moncollector"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd or REPO, timeout=60, check=False
    )


def test_golden_diskstats_cases_pass_compare_py() -> None:
    compare = shared_path("fixtures/golden/compare.py")
    command = " ".join([sys.executable, "-m", "ganeti_agent.cli.moncollector"])
    result = subprocess.run(
        [sys.executable, str(compare), "-k", "diskstats-", command],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout


def test_report_is_one_line_of_json() -> None:
    result = run("diskstats", "-f", str(shared_fixture("proc_diskstats.txt")))
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1
    report = json.loads(result.stdout)
    assert (report["name"], report["category"], report["kind"]) == ("diskstats", "storage", 0)


def test_usage_and_exit_codes() -> None:
    for argv, code in (([], 1), (["DRBD"], 1), (["-h"], 1), (["--help"], 0)):
        outcome = prepare(argv)
        assert not isinstance(outcome, tuple)
        assert outcome.exit_code == code, argv
        assert outcome.stdout.startswith("Usage: mon-collector {command}")


def test_option_errors_and_positional_arguments() -> None:
    unknown = run("diskstats", "--foo")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("Command line error: unrecognized option `--foo'")
    assert unknown.stdout == ""
    missing = run("diskstats", "-f")
    assert missing.returncode == 2 and "requires an argument" in missing.stderr
    extra = run("diskstats", "-f", "/dev/null", "extra", "args")
    assert extra.returncode == 1
    assert extra.stderr == "Error: This program takes exactly zero arguments, got 'extra args'\n"


def test_long_option_prefixes_and_help_wins(tmp_path: Path) -> None:
    stats = tmp_path / "stats"
    stats.write_text("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n")
    assert json.loads(run("diskstats", f"--fi={stats}").stdout)["data"][0]["name"] == "sda"
    helped = run("diskstats", "--help", "extra")
    assert helped.returncode == 0 and "--file=FILE" in helped.stdout


def test_unreadable_and_unparsable_inputs(tmp_path: Path) -> None:
    missing = run("diskstats", "-f", "no-such-file.txt", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr == (
        "Error: reading from file: no-such-file.txt: openFile: does not exist "
        "(No such file or directory)\n"
    )
    directory = run("diskstats", "-f", str(tmp_path))
    assert directory.returncode == 1 and "inappropriate type" in directory.stderr
    garbage = tmp_path / "garbage"
    garbage.write_text("not diskstats\n")
    broken = run("diskstats", "-f", str(garbage))
    assert broken.returncode == 1 and broken.stderr.startswith('Error: "not diskstats\\n"')


def test_dev_zero_fails_promptly() -> None:
    result = run("diskstats", "-f", "/dev/zero")
    assert result.returncode == 1 and result.stdout == ""


def test_a_bad_hung_check_delay_is_refused_in_one_line(tmp_path: Path) -> None:
    environment = {**os.environ, "GANETI_ROOTDIR": str(tmp_path)}
    environment["GANETI_XEN_HUNG_CHECK_DELAY"] = "nan"
    result = subprocess.run(
        [*CLI, "inst-status-xen"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "GANETI_XEN_HUNG_CHECK_DELAY must be a number of seconds" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_the_hung_check_delay_defaults_to_the_daemons() -> None:
    from ganeti_agent.cli.moncollector.inst_status_xen import hung_check_delay
    from ganeti_agent.collectors.instances.xen import DEFAULT_HUNG_CHECK_DELAY

    assert hung_check_delay(None) == DEFAULT_HUNG_CHECK_DELAY > 0
    assert hung_check_delay("0") == 0
