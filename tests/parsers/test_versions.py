"""Version strings from /proc/drbd, Ganeti's constants and qemu."""

from __future__ import annotations

import pytest

from ganeti_agent.parsers.versions import drbd_version, ganeti_release
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
