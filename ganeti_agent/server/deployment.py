"""Whether Ganeti's own ganeti-confd and ganeti-mond are on this host, and what follows.

The agent's defaults must never take a port from a node that runs Ganeti's daemons:
``ganeti-watcher`` runs ``daemon-util check-and-start`` for ganeti-confd and
ganeti-mond on every node every five minutes, and systemd restarts them on failure,
so a port the agent holds would make them fail again and again. With the default
settings the agent therefore stands aside where Ganeti's daemon is present: its
confd does not run, its monitoring API moves to :data:`ALONGSIDE_API_PORT`.

A daemon is present when it is running (its pid file, as daemon-util writes and
checks it, names a live process), or installed where daemon-util starts it
(``/usr/sbin/ganeti-<name>``) or as a systemd unit. A masked unit (a link to
``/dev/null``) that is not running counts as absent: that is how an operator hands
the port over (docs/debian.md). Every path is taken under ``GANETI_ROOTDIR`` when it
is set, as daemon-util takes its pid files there, so tests can fake a host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: The monitoring API's port when ganeti-mond keeps 1815 (unused by Ganeti 3.0).
ALONGSIDE_API_PORT = 1816
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system",
             "/usr/lib/systemd/system")  # fmt: skip
SBIN = "/usr/sbin"
RUN_DIR = "/var/run/ganeti"


@dataclass(frozen=True)
class HostLayout:
    """Where daemon-util and systemd keep what shows a Ganeti daemon is there."""

    root: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> HostLayout:
        return cls((os.environ if environ is None else environ).get("GANETI_ROOTDIR", ""))

    def pid_file(self, daemon: str) -> str:
        return f"{self.root}{RUN_DIR}/{daemon}.pid"

    def executable(self, daemon: str) -> str:
        return f"{self.root}{SBIN}/{daemon}"

    def units(self, daemon: str) -> list[str]:
        return [f"{self.root}{directory}/{daemon}.service" for directory in UNIT_DIRS]


def running_pid(layout: HostLayout, daemon: str) -> int | None:
    """The pid in the daemon's pid file when that process is alive, else None."""
    try:
        with open(layout.pid_file(daemon), encoding="ascii") as handle:
            pid = int(handle.read(32).strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if pid <= 0 or not os.path.exists(f"/proc/{pid}"):
        return None
    return pid


def _masked(path: str) -> bool:
    return os.path.islink(path) and os.readlink(path) == "/dev/null"


def presence(layout: HostLayout, daemon: str) -> str | None:
    """Why ``daemon`` (e.g. ``ganeti-confd``) counts as present on this host, or None."""
    pid = running_pid(layout, daemon)
    if pid is not None:
        return f"{daemon} is running (pid {pid})"
    units = layout.units(daemon)
    if any(_masked(unit) for unit in units):
        return None
    if os.access(layout.executable(daemon), os.X_OK):
        return f"{layout.executable(daemon)} is installed"
    for unit in units:
        if os.path.exists(unit):
            return f"{os.path.basename(unit)} is installed"
    return None
