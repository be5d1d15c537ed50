"""``ganeti-mon-collector drbd`` and ``lv``: options, messages and exit codes on any input."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred

from ganeti_agent.cli.moncollector import Outcome, execute, prepare
from ganeti_agent.parsers.drbd import drbd9_version

HEADER = "version: 8.4.2 (api:1/proto:86-101)\n"
PAIRING = '[["n", 0, "inst1", "disk/0", "primary", "peer"]]'


def write(text: str, name: str = "input") -> str:
    path = Path(tempfile.mkdtemp()) / name
    path.write_text(text)
    return str(path)


def run_in_process(*argv: str) -> Outcome:
    prepared = prepare(list(argv))
    if isinstance(prepared, Outcome):
        return prepared
    done: Deferred[Outcome] = execute(*prepared)
    outcomes: list[Outcome] = []
    done.addCallback(outcomes.append)
    assert outcomes, "a file-only run must finish without the reactor"
    return outcomes[0]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("ganeti-mon-collector")
    return subprocess.run(
        [str(script), *argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_drbd_report_with_pairing() -> None:
    status = write(HEADER + " 0: cs:Unconfigured\n")
    outcome = run_in_process("drbd", "-s", status, "-p", write(PAIRING))
    assert outcome.exit_code == 0
    report = json.loads(outcome.stdout)
    assert report["data"]["deviceInfos"] == [{"minor": 0, "connectionState": "Unconfigured"}]
    assert outcome.stdout.endswith("}\n") and outcome.stdout.count("\n") == 1


def test_drbd_help_and_bad_options() -> None:
    help_text = run_in_process("drbd", "--help").stdout
    assert "-s FILE  --drbd-status=FILE" in help_text
    assert "--drbd-pairing=FILE" in help_text
    wrong = run_in_process("drbd", "--bogus")
    assert wrong.exit_code == 2 and wrong.stderr.startswith("Command line error:")
    extra = run_in_process("drbd", "surplus")
    assert (extra.exit_code, extra.stderr) == (
        1,
        "Error: This program takes exactly zero arguments, got 'surplus'\n",
    )


def test_lv_port_must_be_an_integer() -> None:
    outcome = run_in_process("lv", "-f", write(""), "-p", "x")
    assert outcome.exit_code == 1
    assert outcome.stderr == (
        "Error while parsing command line arguments:\nreading port: cannot parse string 'x'\n"
    )


def test_lv_instances_file_errors() -> None:
    lvs = write("")
    outcome = run_in_process("lv", "-f", lvs, "-i", write("not json"))
    assert outcome.exit_code == 1
    assert outcome.stderr.startswith(
        "Error: Unable to obtain the list of instances: Not a list of instances:"
    )
    missing = run_in_process("lv", "-f", lvs, "-i", "/nonexistent/instances")
    assert missing.stderr.startswith("Error: reading from file: /nonexistent/instances:")
    assert run_in_process("lv", "-f", lvs, "-i", write("[]")).exit_code == 0


def test_lvs_not_installed_is_a_running_command_error(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("ganeti-mon-collector")
    done = subprocess.run(
        [str(script), "lv", "-i", write("[]")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": str(tmp_path), "LC_ALL": "C.UTF-8"},
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("Error: running command: lvs:")


def test_dev_zero_fails_promptly() -> None:
    done = run("drbd", "-s", "/dev/zero", "-p", write(PAIRING))
    assert (done.returncode, done.stdout) == (1, "")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_drbd_input_gives_json_or_a_clear_error(text: str) -> None:
    assume(drbd9_version(text) is None)
    outcome = run_in_process("drbd", "-s", write(text), "-p", write(PAIRING))
    if outcome.exit_code == 0:
        assert json.loads(outcome.stdout)["name"] == "drbd"
    else:
        assert (outcome.exit_code, outcome.stdout) == (1, "")
        assert outcome.stderr.startswith("Error: ")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.text(max_size=100))
def test_any_lv_input_gives_json_or_a_clear_error(text: str, instances: str) -> None:
    outcome = run_in_process("lv", "-f", write(text), "-i", write(instances))
    if outcome.exit_code == 0:
        assert json.loads(outcome.stdout)["name"] == "lv"
    else:
        assert (outcome.exit_code, outcome.stdout) == (1, "")
        assert outcome.stderr.startswith("Error: ")
