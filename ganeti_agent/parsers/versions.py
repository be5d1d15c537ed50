"""Version numbers of the components a Ganeti node runs, from their own texts."""

from __future__ import annotations

import re

_DRBD = re.compile(r"^version:\s*(\S+)", re.MULTILINE)
_QEMU = re.compile(r"\b([0-9]+)\.([0-9]+)(\.([0-9]+))?\b")
_GANETI = re.compile(r"^RELEASE_VERSION\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


def drbd_version(proc_drbd: str) -> str | None:
    """The module version of ``/proc/drbd``'s ``version:`` line (absent on some 8.0 builds)."""
    match = _DRBD.search(proc_drbd)
    return match.group(1) if match else None


def ganeti_release(constants_py: str) -> str | None:
    """``RELEASE_VERSION`` of Ganeti's generated ``ganeti/_constants.py``."""
    match = _GANETI.search(constants_py)
    return match.group(1) if match else None


def qemu_version(output: str) -> str | None:
    """The version in the first line of ``kvm --version`` (or ``--help``), as Ganeti finds it.

    Ganeti's KVM hypervisor takes the first ``N.N[.N]`` of that line, so the distribution's
    suffix (``(Debian 1:7.2+dfsg-7+deb12u18)``) never counts.
    """
    lines = output.splitlines()
    match = _QEMU.search(lines[0]) if lines else None
    return match.group(0) if match else None
