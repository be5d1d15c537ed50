"""ganeti-confd-client against our server on 127.0.0.1."""

from __future__ import annotations

import io
import json
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import ensureDeferred

from ganeti_agent.confd.answers import ConfigStatus
from ganeti_agent.confd.cli import EXIT_CODES, ExitCode, build_parser, run
from ganeti_agent.confd.config import build_config
from ganeti_agent.confd.server import ConfdServer
from tests.confd.support import KEY, inline_callbacks, load_sample, section8_config

reactor: Any = global_reactor


@pytest.fixture
def port() -> Iterator[int]:
    config = build_config(section8_config(load_sample("cluster_config_3.0.json")))

    class Source:
        key: bytes | None = KEY
        status = ConfigStatus(config)

    listening = reactor.listenUDP(0, ConfdServer(Source()), interface="127.0.0.1")
    yield listening.getHost().port
    listening.stopListening()


def cli(argv: list[str]) -> Generator[Any, Any, tuple[int, list[dict[str, Any]], str]]:
    out, err = io.StringIO(), io.StringIO()
    code = yield ensureDeferred(run(reactor, build_parser().parse_args(argv), out, err))
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@inline_callbacks
def test_sequence_with_host_name_and_stripped_key(port: int) -> Generator[Any, Any, None]:
    key = KEY.decode().strip()  # what --hmac "$(cat hmac.key)" passes
    code, lines, _ = yield from cli(["--hmac", key, "-a", "localhost", "-p", str(port), "-r", "3"])
    assert code == 0
    assert [line["test"] for line in lines] == [
        "ping",
        "master",
        "master-fields",
        "master-role",
        "node-pip-list",
        "mc-pip-list",
        "instances-ips-list",
        "node-pip-by-instance-ip",
        "ping-timing",
        "ips-timing",
    ]
    assert all(line["ok"] for line in lines)
    assert lines[2]["answer"] == ["node1.example.com", "192.0.2.87", "192.0.2.82"]


@inline_callbacks
def test_single_request_from_key_file(port: int, tmp_path: Path) -> Generator[Any, Any, None]:
    (tmp_path / "hmac.key").write_bytes(KEY)
    argv = ["--key-file", str(tmp_path / "hmac.key"), "-a", "127.0.0.1", "-p", str(port)]
    code, lines, _ = yield from cli([*argv, "-T", "NODE_DRBD", "node1"])
    assert code == 0
    assert lines[0]["answer"][0][:2] == ["node1.example.com", 0]
    code, lines, _ = yield from cli([*argv, "-T", "3", '{"3": [1]}'])
    assert lines[0]["answer"] == ["192.0.2.87"]


@inline_callbacks
def test_missing_key_file(tmp_path: Path) -> Generator[Any, Any, None]:
    code, lines, err = yield from cli(["--key-file", str(tmp_path / "none"), "-T", "PING"])
    assert (code, lines) == (ExitCode.NO_KEY, [])
    assert "cannot read the HMAC key" in err and "openBinaryFile: does not exist" in err


@inline_callbacks
def test_wrong_key_times_out(port: int) -> Generator[Any, Any, None]:
    argv = ["--hmac", "wrong", "-a", "127.0.0.1", "-p", str(port), "-t", "0.2", "-T", "PING"]
    code, lines, err = yield from cli(argv)
    assert (code, lines) == (ExitCode.NO_REPLY, [])
    assert f"no reply to PING from 127.0.0.1 port {port} within 0.2 s" in err
    assert "wrong HMAC key" in err


@inline_callbacks
def test_sequence_without_reply_says_which_step(port: int) -> Generator[Any, Any, None]:
    argv = ["--hmac", "wrong", "-a", "localhost", "-p", str(port), "-t", "0.2"]
    code, lines, err = yield from cli(argv)
    assert code == ExitCode.NO_REPLY
    assert lines == [{"test": "ping", "ok": False, "error": "no answer"}]
    assert f"no reply to ping from localhost (127.0.0.1) port {port}" in err


@inline_callbacks
def test_unresolvable_host(port: int) -> Generator[Any, Any, None]:
    argv = ["--hmac", "k", "-a", "no-such-host.invalid", "-p", str(port), "-T", "PING"]
    code, lines, err = yield from cli(argv)
    assert (code, lines) == (ExitCode.UNRESOLVED, [])
    assert "cannot resolve host 'no-such-host.invalid'" in err


@inline_callbacks
def test_error_reply_has_its_own_code(port: int) -> Generator[Any, Any, None]:
    key = KEY.decode().strip()
    argv = ["--hmac", key, "-a", "127.0.0.1", "-p", str(port), "-T", "NODE_ROLE_BYNAME", "nope"]
    code, lines, err = yield from cli(argv)
    assert code == ExitCode.ERROR_REPLY
    assert lines[0]["status"] == 1
    assert "NODE_ROLE_BYNAME: error reply" in err


def test_help_lists_every_exit_code() -> None:
    text = build_parser().format_help()
    for code, meaning in EXIT_CODES.items():
        assert f"{int(code)}  {meaning}" in text
    assert set(EXIT_CODES) == set(ExitCode)


def test_unknown_type_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["-T", "NOPE"])
