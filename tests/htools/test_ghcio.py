"""``-t`` on a path that cannot be read: GHC's ``openFile`` words, as Ganeti's tools print them."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganeti_agent.htools import ghcio
from tests.htools.test_ialloc import _ours, _real, _run, _run_ours

PREFIX = "Error: failed to load data, aborting: "


def _cases(tmp_path: Path) -> dict[str, str]:
    """Paths that fail to open, with the reason the real hspace and hroller print."""
    (tmp_path / "file").write_text("")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    return {
        str(tmp_path / "missing"): "openFile: does not exist (No such file or directory)",
        str(tmp_path): "openFile: inappropriate type (is a directory)",
        str(tmp_path / "file" / "x"): "openFile: inappropriate type (Not a directory)",
        str(tmp_path / "loop"): "openFile: invalid argument (Too many levels of symbolic links)",
        str(tmp_path / ("a" * 300)): "openFile: invalid argument (File name too long)",
    }


@pytest.mark.parametrize("tool", ["hspace", "hroller"])
def test_an_unopenable_data_file_is_ganetis_one_line(tmp_path: Path, tool: str) -> None:
    for path, reason in _cases(tmp_path).items():
        assert _run_ours(tool, ["-t", path]) == (1, "", f"{PREFIX}{path}: {reason}\n")


def _as_nobody(argv: list[str]) -> list[str]:
    """Root reads any file: run as ``nobody`` to be refused, as an operator would be."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot be refused a file")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]


@pytest.fixture
def unreadable() -> Iterator[str]:
    """A file refused for its own mode (pytest's tmp_path is in a root-only directory)."""
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o755)
        path = Path(directory) / "secret.data"
        path.write_text("")
        path.chmod(0)
        yield str(path)


def test_an_unreadable_data_file_is_permission_denied(unreadable: str) -> None:
    path = unreadable
    argv = _as_nobody([sys.executable, "-m", "ganeti_agent.htools.hspace", "-t", path])
    expected = f"{PREFIX}{path}: openFile: permission denied (Permission denied)\n"
    assert _run(argv) == (1, b"", expected.encode())


def test_writing_a_directory_keeps_the_kernels_words() -> None:
    """Only a directory opened for reading gets GHC's own lower-case reason."""
    error = IsADirectoryError(21, "Is a directory")
    assert ghcio.open_error("d", error, reading=False) == (
        "d: openFile: inappropriate type (Is a directory)"
    )
    assert ghcio.open_error("d", error) == "d: openFile: inappropriate type (is a directory)"
    assert ghcio.io_kind(None) == "failed"


@pytest.mark.parametrize("tool", ["hspace", "hroller"])
def test_unopenable_data_files_match_the_real_tools(
    tmp_path: Path, unreadable: str, tool: str
) -> None:
    real = str(_real(tool))
    for path in _cases(tmp_path):
        assert _run([*_ours(tool), "-t", path]) == _run([real, "-t", path]), path
    ours = _run(_as_nobody([*_ours(tool), "-t", unreadable]))
    assert ours == _run(_as_nobody([real, "-t", unreadable]))
