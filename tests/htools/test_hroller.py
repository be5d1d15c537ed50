"""The hroller program (``hroller``): checks, ordering and printing, run in process.

Expected texts marked "real" were printed by Ganeti 3.0.2's hroller on
the same input.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from ganeti_agent.htools import cli, ghcio, hroller, text
from ganeti_agent.htools.evacuate import Config
from ganeti_agent.htools.loader import merge_data
from ganeti_agent.htools.source import ExitError

POLICY = (
    "128,1,1024,1,1,1|128,1,1024,1,1,1;32768,8,1048576,16,8,12|"
    "diskless,file,sharedfile,plain,blockdev,drbd,rbd,ext|4.0|32.0"
)

# The full evacuation of node-01 replaces inst-00's secondary node-02; Ganeti
# then stores node-01's record under node-02's index, so the move prints the
# primary twice ("inst-00 node-00 node-00").
QUIRK_CLUSTER = f"""group-01|uuid-01|preferred|

node-00|131072|0|129407|409600|377015|2|N|uuid-01|1|red,green
node-01|65536|0|62732|409600|384694|2|N|uuid-01|1|blue
node-02|131072|1024|126433|409600|408116|4|M|uuid-01|1|red,blue
node-03|131072|1024|126352|409600|394825|8|N|uuid-01|1|red,blue

inst-00|512|10240|1|running|Y|node-01|node-02|drbd||1
inst-01|512|256|1|running|Y|node-00|node-01|drbd||1
inst-02|128|4096|1|ERROR_up|Y|node-02|node-00|drbd||1



|{POLICY}
group-01|{POLICY}
"""
QUIRK_REAL_STDOUT = (
    "node-01\n  inst-00 node-00 node-00\n  inst-01 node-00 node-03\n  inst-02 node-00 node-03\n"
    "node-03\nnode-00\n  inst-01 node-01 node-03\n  inst-02 node-02 node-01\n"
)


def _cluster(node_states: str, instances: str = "") -> str:
    nodes = "".join(
        f"node-{n}|65536|0|65536|409600|409600|4|{state}|uuid-01|1|\n"
        for n, state in enumerate(node_states)
    )
    return f"group-01|uuid-01|preferred|\n\n{nodes}\n{instances}\n\n|{POLICY}\ngroup-01|{POLICY}\n"


def _run(tmp_path: Path, data: str, *args: str) -> tuple[str, str, int]:
    path = tmp_path / "cluster.data"
    path.write_text(data)
    out, err = io.StringIO(), io.StringIO()
    options = cli.parse_options("hroller", [*args, "-t", str(path)])
    try:
        code = hroller.run(options, out, err)
    except ExitError as exc:
        err.write(f"Error: {exc}\n")
        code = 1
    return out.getvalue(), err.getvalue(), code


def test_full_evacuation_prints_the_moves_as_ganeti_does_wrong_node_included(
    tmp_path: Path,
) -> None:
    out, _, code = _run(
        tmp_path,
        QUIRK_CLUSTER,
        "--print-moves",
        "-O",
        "node-02",
        "--no-headers",
        "--full-evacuation",
    )
    assert (out, code) == (QUIRK_REAL_STDOUT, 0)


def test_no_master_is_an_error_and_only_a_warning_with_force(tmp_path: Path) -> None:
    data = _cluster("NN")
    assert _run(tmp_path, data) == (
        "",
        "Error: No master node found (maybe not supported by backend).\n",
        1,
    )
    out, err, code = _run(tmp_path, data, "-f")
    assert err == "Warning: No master node found (maybe not supported by backend).\n"
    assert (out, code) == ("'Node Reboot Groups'\nnode-0,node-1\n", 0)


def test_two_masters_are_refused_even_with_force(tmp_path: Path) -> None:
    assert _run(tmp_path, _cluster("MNM"), "-f") == (
        "",
        'Error: Found more than one master node: ["node-0","node-2"]\n',
        1,
    )


def test_groups_are_largest_first_with_the_master_last(tmp_path: Path) -> None:
    instances = (
        "i0|128|256|1|running|Y|node-0|node-1|drbd||1\n"
        "i1|128|256|1|running|Y|node-2|node-3|drbd||1\n"
    )
    out, _, code = _run(tmp_path, _cluster("MNNNN", instances))
    # Colours: {3,1}, {0,2,4} is the larger group and holds the master (0).
    assert (out, code) == ("'Node Reboot Groups'\nnode-1,node-3\nnode-2,node-4,node-0\n", 0)
    out, _, code = _run(tmp_path, _cluster("MNNNN", instances), "--one-step-only")
    assert (out, code) == ("'First Reboot Group'\nnode-1\nnode-3\n", 0)


def test_unknown_group_and_empty_selection_are_one_line_errors(tmp_path: Path) -> None:
    data = _cluster("MN")
    assert _run(tmp_path, data, "-G", "nope") == ("", "Error: Cannot find target group.\n", 1)
    assert _run(tmp_path, data, "--node-tags", "absent") == (
        "",
        "Error: Cannot create node graph\n",
        1,
    )


def test_save_writes_the_cluster_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = _cluster("MN")
    _, err, code = _run(tmp_path, data, "-S", "saved")
    assert code == 0
    assert err == "The cluster state before hroller run has been written to file 'saved.original'\n"
    written = (tmp_path / "saved.original").read_text()
    assert written == text.serialize_cluster(merge_data(text.parse_data(data)))


def test_coloring_stats_list_the_best_first_with_ganetis_words() -> None:
    colorings = [("LF", [[0], [1], [2]]), ("Dsatur", [[0, 2], [1]]), ("Dcolor", [[0], [1, 2]])]
    assert hroller.coloring_stats(colorings) == (
        "Dcolor: 2 (1,2) TIE Dsatur: 2 (2,1) LOOSE LF: 3 (1,1,1)"
    )


def test_order_groups_keeps_candidates_and_puts_the_master_group_last() -> None:
    data = merge_data(text.parse_data(_cluster("NMNN")))
    conf = Config(data.nodes, data.instances)
    groups = [([0, 1], conf), ([2], conf), ([3, 2, 0], conf)]
    ordered = hroller.order_groups(groups, {0, 1, 2}, data.nodes)
    assert [members for members, _ in ordered] == [[2, 0], [2], [0, 1]]


def test_an_unwritable_save_path_is_ghcs_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "cluster.data"
    data.write_text(_cluster("MN"))
    target = tmp_path / "missing" / "saved"
    assert hroller.main(["-S", str(target), "-t", str(data)]) == 1
    captured = capsys.readouterr()
    # Real: hroller: PATH.original: openFile: does not exist (No such file or directory)
    assert captured.err == (
        f"hroller: {target}.original: openFile: does not exist (No such file or directory)\n"
    )
    assert captured.out == ""


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path: Path) -> None:
    """As Ganeti's hroller piped into ``head``: exit 0, nothing on stderr."""
    data = tmp_path / "cluster.data"
    data.write_text(_cluster("M" + "N" * 300))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganeti_agent.htools.hroller", "-t", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait() == 0
    assert err == b""


def test_save_errors_are_worded_as_ghc_words_them(tmp_path: Path) -> None:
    directory = tmp_path / "taken.original"
    directory.mkdir()
    opened = str(directory)
    # Real: hroller: PATH.original: openFile: inappropriate type (Is a directory)
    with pytest.raises(IsADirectoryError) as caught:
        open(opened, "w")  # noqa: SIM115
    assert ghcio.open_error(opened, caught.value, reading=False) == (
        f"{opened}: openFile: inappropriate type (Is a directory)"
    )
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(NotADirectoryError) as caught_dir:
        open(blocked / "x.original", "w")  # noqa: SIM115
    assert ghcio.open_error("P", caught_dir.value, reading=False) == (
        "P: openFile: inappropriate type (Not a directory)"
    )
