"""The htools option parser against what Ganeti 3.0.2's hspace and hroller print.

``data/getopt-recordings.json`` holds the real tools' answers (exit code,
stdout, stderr) to bad and odd command lines, recorded from the Debian
package 3.0.2-3; ``<usage>`` stands for the program's ``--help`` text and
``<version>``/``<completion>`` for those outputs. ``data/*-help.txt`` and
``*-completion.txt`` are the real texts, verbatim.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

from ganeti_agent.htools.cli import (
    DEFAULT_LUXI_SOCKET,
    HtoolsOptions,
    ResourceSpec,
    UsageExit,
    completion_text,
    help_text,
    parse_options,
    version_line,
    version_text,
)

DATA = Path(__file__).parent / "data"
RECORDINGS: list[dict[str, Any]] = json.loads((DATA / "getopt-recordings.json").read_text())
PROGRAMS = ("hspace", "hroller")


def _real_text(program: str, kind: str) -> str:
    return (DATA / f"{program}-{kind}.txt").read_text()


def _ours(program: str) -> str:
    """The real --help with our version line in place of Ganeti's."""
    return _real_text(program, "help").replace(
        f"{program} (ganeti) version 3.0.2-3", version_line(program)
    )


def _expand(text: str, program: str) -> str:
    return text.replace("<usage>", _ours(program)).replace(
        "<completion>", _real_text(program, "completion")
    )


def _stop(program: str, argv: list[str]) -> UsageExit:
    with pytest.raises(UsageExit) as caught:
        parse_options(program, argv)
    return caught.value


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['program']} {' '.join(case['argv'])}"


REFUSED = [case for case in RECORDINGS if not case.get("accepted")]
ACCEPTED = [case for case in RECORDINGS if case.get("accepted")]


@pytest.mark.parametrize("case", REFUSED, ids=_case_id)
def test_refused_command_lines_print_what_ganeti_prints(case: dict[str, Any]) -> None:
    stop = _stop(case["program"], case["argv"])
    assert stop.code == case["rc"]
    if case["stdout"] == "<version>":
        assert stop.stdout_text == version_text(case["program"])
    else:
        assert stop.stdout_text == _expand(case["stdout"], case["program"])
    assert stop.stderr_text == _expand(case["stderr"], case["program"])


@pytest.mark.parametrize("case", ACCEPTED, ids=_case_id)
def test_command_lines_ganeti_accepts_are_accepted(case: dict[str, Any]) -> None:
    assert isinstance(parse_options(case["program"], case["argv"]), HtoolsOptions)


def test_recordings_cover_every_kind_of_answer() -> None:
    codes = {case["rc"] for case in REFUSED}
    assert codes == {0, 1, 2}
    assert len(ACCEPTED) > 20


@pytest.mark.parametrize("program", PROGRAMS)
def test_help_is_the_real_text_with_our_version(program: str) -> None:
    assert help_text(program) == _ours(program)
    assert _stop(program, ["--help"]).stdout_text == _ours(program)


@pytest.mark.parametrize("program", PROGRAMS)
def test_completion_is_the_real_text(program: str) -> None:
    assert completion_text(program) == _real_text(program, "completion")


@pytest.mark.parametrize("program", PROGRAMS)
def test_version_has_the_three_lines_of_ganeti(program: str) -> None:
    real = _real_text(program, "version").splitlines()
    ours = version_text(program).splitlines()
    assert len(ours) == len(real) == 3
    assert ours[0] == f"{program} (ganeti-agent) version " + ours[0].rsplit(" ", 1)[1]
    assert ours[1].startswith("compiled with ")
    assert ours[2].split()[:2] == real[2].split()[:2]


def test_defaults_are_ganetis() -> None:
    options = parse_options("hspace", [])
    assert options == HtoolsOptions()
    assert (options.verbose, options.max_length, options.static_kvm_node_memory) == (1, -1, 4096)
    assert options.capacity and not options.machine_readable
    assert options.luxi is None and options.master == "" and options.min_disk == 0.0


def test_values_are_parsed_like_ganeti() -> None:
    options = parse_options(
        "hspace",
        [
            "--simu=p,1,1g,1g,1",
            "--simulate",
            "a,2,2g,2g,2",
            "-O",
            "n1",
            "--offline=n2",
            "-vvq",
            "-l",
            "0x10",
            "--tiered-alloc=1t,64G,4",
            "--standard-alloc=2g,(512),- 1,7",
            "--max-cpu=Infinity",
            "--min-disk=( 0.25 )",
            "--machine-readable",
            "-p+name,pcnt",
            "-L",
            "--disk-template=drbd",
            "--spindle-use= 3",
            "--no-cap",
        ],
    )
    assert options.simulate == ("a,2,2g,2g,2", "p,1,1g,1g,1")
    assert options.offline == ("n2", "n1")
    assert options.verbose == 2
    assert options.max_length == 16
    assert options.tiered_spec == ResourceSpec(cpu=4, mem=61035, disk=1048576, spindles=1)
    assert options.standard_spec == ResourceSpec(cpu=-1, mem=512, disk=2048, spindles=7)
    assert options.max_cpu == math.inf
    assert options.min_disk == 0.25
    assert options.machine_readable
    assert options.print_nodes == ("+", "name", "pcnt")
    assert options.luxi == DEFAULT_LUXI_SOCKET
    assert options.disk_template == "drbd"
    assert options.spindle_use == 3
    assert not options.capacity


def test_hroller_options() -> None:
    options = parse_options(
        "hroller",
        ["-L/tmp/sock", "-fG", "grp", "--node-tags=a,b,", "--no-h", "--one", "--full", "--sk"],
    )
    assert options.luxi == "/tmp/sock"
    assert options.force and options.group == "grp"
    assert options.node_tags == ("a", "b", "")
    assert options.no_headers and options.one_step_only
    assert options.full_evacuation and options.skip_non_redundant


def test_print_nodes_without_fields_means_the_default_set() -> None:
    assert parse_options("hspace", ["-p"]).print_nodes == ()
    assert parse_options("hspace", ["--print-nodes="]).print_nodes == ()


def test_long_int_values_wrap_like_haskell_int() -> None:
    assert parse_options("hspace", ["-l", "18446744073709551617"]).max_length == 1


def test_emit_writes_undecodable_arguments_back_byte_for_byte() -> None:
    argument = b"--bad-\xff".decode("utf-8", "surrogateescape")
    stop = _stop("hspace", [argument])
    out, err = io.BytesIO(), io.BytesIO()
    assert stop.emit(out, err) == 2
    assert out.getvalue() == b""
    assert err.getvalue().startswith(b"Command line error: unrecognized option `--bad-\xff'\n")
