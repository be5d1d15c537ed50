"""Version strings from /proc/drbd, Ganeti's constants and qemu."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganeti_agent.parsers.versions import drbd_version, ganeti_release, qemu_version
from tests.support import shared_fixture


@pytest.mark.parametrize(
    ("fixture", "version"),
    [
        ("proc_drbd8.txt", "8.0.12"),
        ("proc_drbd83_sync_want.txt", "8.3.11"),
        ("proc_drbd84.txt", "8.4.2"),
        ("proc_drbd80-emptyversion.txt", None),
    ],
)
def test_drbd(fixture: str, version: str | None) -> None:
    assert drbd_version(shared_fixture(fixture).read_text(errors="replace")) == version


def test_ganeti_release() -> None:
    assert ganeti_release('X = 1\nRELEASE_VERSION = "3.0.2"\n') == "3.0.2"
    assert ganeti_release("nothing here") is None


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ((DATA / "qemu-system-x86_64-version-7.2.txt").read_text(), "7.2.22"),
        ((DATA / "qemu-system-x86_64-help-7.2-head.txt").read_text(), "7.2.22"),
        ("QEMU PC emulator version 0.11.0 (qemu-kvm-0.11.0), Copyright (c) 2003\n", "0.11.0"),
        ("QEMU emulator version 8.1\n", "8.1"),
        ("", None),
        ("Usage: kvm [options]\nversion 7.2.0\n", None),
    ],
)
def test_qemu(output: str, version: str | None) -> None:
    assert qemu_version(output) == version
