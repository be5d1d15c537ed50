"""``-t`` on a path that cannot be read: GHC's ``openFile`` words, as Ganeti's tools print them."""

from __future__ import annotations

import os
import shutil
import subprocess
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


UTF8_CLUSTER = (
    "group-0|uuid-0|preferred||\n\n"
    "nöde-0.example.com|8192|0|7000|102400|102400|8|M|uuid-0|5\n"
    "node-1.example.com|8192|0|7000|102400|102400|8|N|uuid-0|5\n\n\n"
)
LOCALES = {
    "C": 1,
    "POSIX": 1,
    "xx_YY.UTF-8": 1,  # not installed: setlocale leaves C, as for GHC
    "C.UTF-8": 0,
}


def _in_locale(argv: list[str], locale: str) -> tuple[int, bytes, bytes]:
    env = {"LC_ALL": locale, "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    done = subprocess.run(argv, capture_output=True, check=False, timeout=120, env=env)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(("locale", "code"), LOCALES.items())
@pytest.mark.parametrize("tool", ["hspace", "hroller"])
def test_a_non_ascii_file_needs_a_utf8_locale(
    tmp_path: Path, tool: str, locale: str, code: int
) -> None:
    """GHC decodes with the locale's codeset: ASCII under C, so a UTF-8 name is refused."""
    path = tmp_path / "cluster.data"
    path.write_text(UTF8_CLUSTER, encoding="utf-8")
    args = ["-t", str(path), *(["--machine-readable"] if tool == "hspace" else ["--force"])]
    result = _in_locale([*_ours(tool), *args], locale)
    assert result[0] == code, result
    refusal = f"{tool}: {path}: hGetContents: invalid argument (invalid byte sequence)\n"
    assert (result[2] == refusal.encode()) == bool(code), result


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tool", ["hspace", "hroller"])
def test_the_locale_decides_as_for_the_real_tools(tmp_path: Path, tool: str, locale: str) -> None:
    path = tmp_path / "cluster.data"
    path.write_text(UTF8_CLUSTER, encoding="utf-8")
    args = ["-t", str(path), *(["--machine-readable"] if tool == "hspace" else ["--force"])]
    real = _in_locale([str(_real(tool)), *args], locale)
    assert _in_locale([*_ours(tool), *args], locale) == real
