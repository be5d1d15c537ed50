"""Whether Ganeti's ganeti-confd/ganeti-mond are on the host, and the defaults that follow.

The host is faked under ``GANETI_ROOTDIR``, as daemon-util itself honours it: a pid
file naming a live process, an executable in ``usr/sbin``, a systemd unit, a masked one.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from twisted.internet.error import CannotListenError

from ganeti_agent.core.settings import parse_settings
from ganeti_agent.server.deployment import ALONGSIDE_API_PORT, HostLayout, presence
from ganeti_agent.server.tap import Options, _listen_failure, api_port


def _file(path: Path, text: str = "", mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_bare_host_has_neither_daemon(tmp_path: Path) -> None:
    layout = HostLayout(str(tmp_path))
    assert presence(layout, "ganeti-confd") is None
    assert presence(layout, "ganeti-mond") is None


def test_a_live_pid_file_means_running(tmp_path: Path) -> None:
    _file(tmp_path / "var/run/ganeti/ganeti-confd.pid", f"{os.getpid()}\n")
    assert presence(HostLayout(str(tmp_path)), "ganeti-confd") == (
        f"ganeti-confd is running (pid {os.getpid()})"
    )


@pytest.mark.parametrize("content", ["", "garbage", "-1", "999999999"])
def test_a_stale_or_broken_pid_file_alone_is_not_presence(tmp_path: Path, content: str) -> None:
    _file(tmp_path / "var/run/ganeti/ganeti-mond.pid", content)
    assert presence(HostLayout(str(tmp_path)), "ganeti-mond") is None


def test_the_executable_daemon_util_starts_means_installed(tmp_path: Path) -> None:
    _file(tmp_path / "usr/sbin/ganeti-mond", "#!/bin/sh\n", 0o755)
    assert presence(HostLayout(str(tmp_path)), "ganeti-mond") == (
        f"{tmp_path}/usr/sbin/ganeti-mond is installed"
    )


def test_a_unit_file_means_installed(tmp_path: Path) -> None:
    _file(tmp_path / "lib/systemd/system/ganeti-confd.service", "[Service]\n")
    assert presence(HostLayout(str(tmp_path)), "ganeti-confd") == (
        "ganeti-confd.service is installed"
    )


def test_a_masked_unit_hands_the_port_over_unless_the_daemon_still_runs(tmp_path: Path) -> None:
    _file(tmp_path / "usr/sbin/ganeti-confd", "#!/bin/sh\n", 0o755)
    mask = tmp_path / "etc/systemd/system/ganeti-confd.service"
    mask.parent.mkdir(parents=True)
    mask.symlink_to("/dev/null")
    layout = HostLayout(str(tmp_path))
    assert presence(layout, "ganeti-confd") is None
    _file(tmp_path / "var/run/ganeti/ganeti-confd.pid", str(os.getpid()))
    assert presence(layout, "ganeti-confd") is not None


def _options(tmp_path: Path, config: str, *argv: str) -> Options:
    path = _file(tmp_path / "agent.conf", config)
    options = Options()
    options.parseOptions(["--config", str(path), *argv])
    return options


def test_the_api_stands_aside_on_a_host_with_ganeti_mond(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANETI_ROOTDIR", str(tmp_path))
    _file(tmp_path / "usr/sbin/ganeti-mond", "#!/bin/sh\n", 0o755)
    options = _options(tmp_path, "[agent]\nbind = 127.0.0.1\n")
    assert options["access"].listen == (f"tcp:{ALONGSIDE_API_PORT}:interface=127.0.0.1",)
    assert "so the monitoring API listens on 1816, not 1815" in options["api-note"]


def test_the_api_keeps_1815_without_ganeti_mond_or_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANETI_ROOTDIR", str(tmp_path))
    assert _options(tmp_path, "")["access"].listen == ("tcp:1815:interface=0.0.0.0",)
    _file(tmp_path / "usr/sbin/ganeti-mond", "#!/bin/sh\n", 0o755)
    for told in (_options(tmp_path, "[agent]\nport = 1815\n"), _options(tmp_path, "", "-p1815")):
        assert told["access"].listen == ("tcp:1815:interface=0.0.0.0",)


def test_api_port_prefers_the_option_then_the_file() -> None:
    present = "ganeti-mond is running (pid 1)"
    options = Options()
    options["port"] = 2000
    assert api_port(parse_settings("[agent]\nport = 3000\n"), options, present) == 2000
    options["port"] = None
    assert api_port(parse_settings("[agent]\nport = 3000\n"), options, present) == 3000
    assert api_port(parse_settings(""), options, present) == ALONGSIDE_API_PORT
    assert api_port(parse_settings(""), options, None) == 1815


def test_a_taken_port_names_the_running_owner_and_its_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANETI_ROOTDIR", str(tmp_path))
    _file(tmp_path / "var/run/ganeti/ganeti-confd.pid", str(os.getpid()))
    taken = OSError(errno.EADDRINUSE, "Address already in use")
    assert _listen_failure(CannotListenError("", 1814, taken)) == (
        "cannot listen on *:1814: the port is already in use"
        f" (ganeti-confd uses it by default and is running here, pid {os.getpid()})"
    )
