from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest
from twisted.internet.error import CannotListenError
from twisted.python import usage

from ganeti_agent.settings import SettingsError, parse_settings
from ganeti_agent.tap import Options, _listen_failure, makeService


def test_a_taken_ganeti_port_names_the_daemon_that_uses_it() -> None:
    taken = OSError(errno.EADDRINUSE, "Address already in use")
    assert _listen_failure(CannotListenError("", 1815, taken)) == (
        "cannot listen on *:1815: the port is already in use"
        " (ganeti-mond uses it by default: is ganeti-mond running?)"
    )
    assert _listen_failure(CannotListenError("::", 1814, taken)).endswith(
        "(ganeti-confd uses it by default: is ganeti-confd running?)"
    )
    assert _listen_failure(CannotListenError("127.0.0.1", 28155, taken)) == (
        "cannot listen on 127.0.0.1:28155: the port is already in use"
    )


def test_other_listen_failures_give_the_reason() -> None:
    lookup = socket.gaierror(-2, "Name or service not known")
    assert _listen_failure(CannotListenError("nosuch", 1815, lookup)) == (
        "cannot listen on nosuch:1815: Name or service not known"
    )
    assert _listen_failure(OverflowError("bind(): port must be 0-65535.")) == (
        "cannot listen: bind(): port must be 0-65535."
    )


@pytest.mark.parametrize("option", ["--port", "--confd-port"])
@pytest.mark.parametrize("value", ["abc", "65536", "-1"])
def test_a_bad_port_option_says_what_is_expected(option: str, value: str) -> None:
    with pytest.raises(
        usage.UsageError, match=f"expected a port number from 0 to 65535, got '{value}'"
    ):
        Options().parseOptions([option, value])


def test_a_bad_file_value_is_one_line_without_the_usage_text(tmp_path: Path) -> None:
    config = tmp_path / "agent.conf"
    config.write_text("[agent]\nport = abc\n")
    with pytest.raises(SystemExit) as raised:
        Options().parseOptions(["--config", str(config)])
    assert raised.value.code == (
        f"ganeti-agent: {config}: [agent] port: expected a port number from 0 to 65535, got 'abc'"
    )


def test_a_confd_value_refused_by_the_confd_wiring_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Keys the confd wiring checks itself (its own kinds) still end in one line."""
    from ganeti_agent.confd import service

    def refuse(*_: object) -> None:
        raise SettingsError("[confd] max-config-size: expected a size such as 64M, got 'x'")

    monkeypatch.setattr(service, "confd_options", refuse)
    options = Options()
    options.parseOptions(["--data-dir", str(tmp_path)])
    options["settings"] = parse_settings("", "agent.conf")
    with pytest.raises(SystemExit) as raised:
        makeService(options)
    assert raised.value.code == (
        "ganeti-agent: agent.conf: [confd] max-config-size: expected a size such as 64M, got 'x'"
    )
