"""How ``ganeti-hroller`` and ``ganeti-hspace`` start: what they import, and the collector.

Start-up is most of a small cluster's run time, so modules only some runs
need (the live backends' Twisted, ``-V``'s ``platform``, annotation-only
``typing``) are imported where they are used, and the console scripts
(``htools.launch``) import their program with the cyclic garbage collector
paused. Each case runs a console script's function on a text backend cluster
in a fresh interpreter and reports which of those modules were loaded by the
end and the collector's state.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from tests.htools.test_hroller import QUIRK_CLUSTER

HSPACE_CLUSTER = Path(__file__).parent / "data" / "hspace-excl-tiered.data"

ONLY_FOR_SOME_RUNS = (
    "argparse",
    "decimal",
    "fractions",
    "importlib.metadata",
    "json",
    "twisted",
    "zope.interface",
    "ganeti_agent.htools.live",
    "ganeti_agent.htools.textjson",
)
"""Needed by options or backends other than ``-t``, or by none of the tools."""

NOT_FOR_HROLLER = (*ONLY_FOR_SOME_RUNS, "numpy", "platform", "typing")
"""hspace's allocation needs NumPy, which imports ``platform`` and ``typing`` itself."""

SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"

PROBE = """
import gc
import sys
during_import = []
def watch(phase, info):
    module = sys.modules.get("ganeti_agent.htools.{program}")
    if phase == "start" and module is not None and not hasattr(module, "main"):
        during_import.append(info["generation"])
gc.callbacks.append(watch)
from ganeti_agent.htools.launch import {program}
code = {program}()
sys.stdout.flush()
print("collector:", gc.isenabled(), gc.get_freeze_count(), len(during_import), file=sys.stderr)
print("loaded:", ",".join(name for name in {unwanted!r} if name in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def _loaded(program: str, unwanted: tuple[str, ...], *args: str) -> tuple[list[str], str]:
    """Run ``program``'s console script in a fresh interpreter; unwanted modules loaded, stdout.

    Also checks that the collector did not run while the program was imported (its
    module is in ``sys.modules`` without ``main`` until the import ends) and that it is
    on again afterwards, with the import's objects frozen.
    """
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(program=program, unwanted=unwanted), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    *_, collector, last = result.stderr.splitlines()
    enabled, frozen, collections_during_import = collector.removeprefix("collector:").split()
    assert (enabled, collections_during_import) == ("True", "0")
    assert int(frozen) > 0
    assert last.startswith("loaded:"), result.stderr
    names = last.removeprefix("loaded:").strip()
    return (names.split(",") if names else []), result.stdout


@pytest.mark.parametrize(
    "options",
    [(), ("--offline-maintenance",), ("--full-evacuation", "--print-moves")],
)
def test_hroller_loads_only_what_the_text_backend_needs(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    cluster = tmp_path / "cluster.data"
    cluster.write_text(QUIRK_CLUSTER)
    loaded, stdout = _loaded("hroller", NOT_FOR_HROLLER, *options, "-t", str(cluster))
    assert loaded == []
    assert stdout.startswith("'Node Reboot Groups'\n")


def test_hspace_loads_only_what_the_text_backend_needs() -> None:
    loaded, stdout = _loaded("hspace", ONLY_FOR_SOME_RUNS, "-t", str(HSPACE_CLUSTER))
    assert loaded == []
    assert "usage efficiency" in stdout


def test_console_scripts_import_their_program_through_launch() -> None:
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    scripts = dict(
        line.replace(" ", "").split("=")
        for line in config["options.entry_points"]["console_scripts"].splitlines()
        if line.strip()
    )
    assert scripts["ganeti-hroller"] == "ganeti_agent.htools.launch:hroller"
    assert scripts["ganeti-hspace"] == "ganeti_agent.htools.launch:hspace"
