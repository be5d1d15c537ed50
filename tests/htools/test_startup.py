"""What ``ganeti-hroller`` and ``ganeti-hspace`` import on their common path.

Start-up is most of a small cluster's run time, so modules only some runs
need (the live backends' Twisted, ``-V``'s ``platform``, annotation-only
``typing``) are imported where they are used. Each case runs a program's
``main`` on a text backend cluster in a fresh interpreter, as the console
script does, and lists which of those modules were loaded by the end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.htools.test_hroller import QUIRK_CLUSTER

HSPACE_CLUSTER = Path(__file__).parent / "data" / "hspace-open-excl-tiered.data"

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

PROBE = """
import sys
from ganeti_agent.htools.{program} import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("loaded:", ",".join(name for name in {unwanted!r} if name in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def _loaded(program: str, unwanted: tuple[str, ...], *args: str) -> tuple[list[str], str]:
    """Run ``program``'s main in a fresh interpreter; the unwanted modules it loaded, and stdout."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(program=program, unwanted=unwanted), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    last = result.stderr.splitlines()[-1]
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
