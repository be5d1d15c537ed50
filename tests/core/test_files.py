"""Small files in and out: pid files and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ganeti_agent.core.files import InputError, read_pid_file, write_atomically


def test_an_atomic_write_reaches_the_disk_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        steps.append("fsync")
        real_fsync(descriptor)

    def replace(source: str, target: str) -> None:
        steps.append("replace")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "targets.json"
    write_atomically(str(target), "[]\n")
    assert steps == ["fsync", "replace"]
    assert target.read_text() == "[]\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_a_failed_atomic_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "targets.json"
    target.write_text("old")

    def refuse(source: str, target: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_atomically(str(target), "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["targets.json"]


@pytest.mark.parametrize(("content", "pid"), [(b"1234\n", 1234), (b"  77 ", 77)])
def test_pid_files(tmp_path: Path, content: bytes, pid: int) -> None:
    path = tmp_path / "x.pid"
    path.write_bytes(content)
    assert read_pid_file(str(path)) == pid


def test_a_missing_pid_file_is_none(tmp_path: Path) -> None:
    assert read_pid_file(str(tmp_path / "absent.pid")) is None


@pytest.mark.parametrize("content", [b"", b"0\n", b"-5", b"\x00garbage", b"1" * 5000])
def test_a_pid_file_without_a_pid_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.pid"
    path.write_bytes(content)
    with pytest.raises(InputError, match="does not hold a pid"):
        read_pid_file(str(path))
