"""What an attacker on the network can and cannot do to a running agent (docs/security.md).

One agent with a known key, Ganeti's sample configuration grown to 5,000 instances
(so that one answer is larger than any UDP datagram), confd on, every HTTP request
logged. Then: unauthenticated datagrams of every kind get no byte back, a reply never
exceeds one datagram, a flood of garbage neither stops confd nor fills the log, HTTP
requests and connections are bounded, and neither the key nor config.data's DRBD
secrets ever appear in the log or over HTTP. The key file is left world-readable on
purpose, to check the warning. Unit tests at the end cover key files that are not
regular files, which keep confd from starting to answer at all.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import http.client
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock

from ganeti_agent.confd.constants import MAX_REQUEST_SIZE, RequestType
from ganeti_agent.confd.protocol import encode_request, pack, request_message
from ganeti_agent.confd.server import MAX_REPLY_SIZE
from ganeti_agent.confd.source import ConfigSource
from ganeti_agent.web import MAX_CONNECTIONS, MAX_HEADER_BYTES
from tests.faults.support import (
    ANSWER_WITHIN,
    EVENTUALLY,
    RunningAgent,
    eventually,
    running_agent,
    write_config,
)
from tests.faults.support import write_cluster as write_sample_cluster

pytestmark = pytest.mark.e2e

KEY = b"Sup3r-S3cret-confd-hmac-key-6b1d0e4f98a2\n"
WRONG_KEY = b"not-the-key-of-this-cluster-000000000000\n"
DRBD_SECRET = "d3c3fd475fcbaf5fd177fb245ac43b71247ada38"
INSTANCES = 5000
SILENCE = 0.5
#: The agent's request deadline here, short so that the slow-client test stays short.
REQUEST_TIMEOUT = 2


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    home = tmp_path_factory.mktemp("security")
    data = home / "data"
    data.mkdir()
    config = write_sample_cluster(data, KEY)
    write_config(data, with_instances(config, INSTANCES))
    (data / "hmac.key").chmod(0o644)
    settings = (
        f"[agent]\nnode-name = vm\nlog-requests = yes\nrequest-timeout = {REQUEST_TIMEOUT}\n"
        "[collectors]\ncache = 0\n"
        "[collector:lv]\nenabled = no\n"
    )
    with running_agent(home, settings, confd=True) as started:
        eventually(lambda: started.confd(KEY) is not None)
        yield started


def with_instances(config: dict[str, Any], count: int) -> dict[str, Any]:
    """The sample grown by ``count`` diskless instances, each with an address."""
    grown = copy.deepcopy(config)
    template = next(iter(grown["instances"].values()))
    for number in range(count):
        instance = copy.deepcopy(template)
        instance_uuid = str(uuid.UUID(int=number + 1))
        instance.update(uuid=instance_uuid, name=f"grown{number}.example.com", disks=[])
        instance["nics"][0].update(ip=f"10.{number // 65536}.{number // 256 % 256}.{number % 256}")
        instance["nics"][0]["uuid"] = str(uuid.UUID(int=10**9 + number))
        grown["instances"][instance_uuid] = instance
    return grown


def signed(msg: str, salt: str | None = None, key: bytes = KEY) -> bytes:
    return pack(key, str(int(time.time())) if salt is None else salt, msg)


def ping_message() -> str:
    return request_message(RequestType.PING, None, str(uuid.uuid4()))


UNANSWERED = {
    "empty": lambda: b"",
    "garbage": lambda: os.urandom(512),
    "bad-magic": lambda: b"plj1" + signed(ping_message())[4:],
    "not-json": lambda: b"plj0{not json",
    "wrong-key": lambda: signed(ping_message(), key=WRONG_KEY),
    "no-hmac": lambda: b'plj0{"msg": "x", "salt": "1"}',
    "too-large": lambda: signed(ping_message() + " " * MAX_REQUEST_SIZE),
    "stale": lambda: signed(ping_message(), salt=str(int(time.time()) - 3600)),
    "future": lambda: signed(ping_message(), salt=str(int(time.time()) + 3600)),
    "bad-request": lambda: signed('{"protocol": 1, "type": 99, "rsalt": "x"}'),
    "huge-datagram": lambda: b"plj0" + b"x" * 60000,
}


def confd_counters(agent: RunningAgent) -> dict[str, Any]:
    data: dict[str, Any] = agent.report("daemon", "confd")["data"]
    return data


@pytest.mark.parametrize("name", UNANSWERED)
def test_unauthenticated_or_invalid_datagrams_get_nothing_back(
    agent: RunningAgent, name: str
) -> None:
    before = confd_counters(agent)
    assert agent.send_datagram(UNANSWERED[name](), SILENCE, stop_at_first=False) == []
    after = eventually(lambda: (c := confd_counters(agent))["received"] > before["received"] and c)
    assert sum(after["drops"].values()) == sum(before["drops"].values()) + 1
    assert after["replies"] == before["replies"]


def test_a_reply_never_exceeds_one_datagram(agent: RunningAgent) -> None:
    """5,000 addresses do not fit: the answer is a short error, not a fragmented flood."""
    request = encode_request(KEY, RequestType.INSTANCES_IPS_LIST, None, "r1", time.time())
    [reply] = agent.send_datagram(request, ANSWER_WITHIN)
    assert len(reply) <= MAX_REPLY_SIZE
    assert b"Reply too large for UDP" in reply
    assert confd_counters(agent)["oversizedReplies"] >= 1


def test_one_reply_per_request(agent: RunningAgent) -> None:
    request = encode_request(KEY, RequestType.MC_PIP_LIST, None, "r2", time.time())
    replies = agent.send_datagram(request, SILENCE, stop_at_first=False)
    assert len(replies) == 1 and len(replies[0]) < 2048


def test_a_replayed_request_is_answered_once(agent: RunningAgent) -> None:
    """Unlike ganeti-confd, a captured request is not answered again (docs/security.md)."""
    request = encode_request(KEY, RequestType.PING, None, "replayed", time.time())
    assert len(agent.send_datagram(request, ANSWER_WITHIN)) == 1
    assert len(agent.send_datagram(request, ANSWER_WITHIN)) == 0


def test_a_flood_of_garbage_neither_stops_confd_nor_fills_the_log(agent: RunningAgent) -> None:
    assert agent.confd_port is not None
    log_size = agent.log_path.stat().st_size
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for number in range(5000):
            sock.sendto(b"plj0" + os.urandom(64 + number % 512), ("127.0.0.1", agent.confd_port))
    # Datagrams sent while the socket buffer is still full are lost, as with any UDP
    # server; confd clients retry, and the next tries must be answered.
    eventually(lambda: agent.confd(KEY, timeout=0.5))
    assert agent.get("/1/list/collectors")[0] == 200
    assert agent.log_path.stat().st_size - log_size < 10_000, "drops are logged per datagram"


def raw_http(agent: RunningAgent, data: bytes) -> bytes:
    """Send raw bytes on a fresh connection; everything the agent sends back."""
    with socket.create_connection(("127.0.0.1", agent.port), timeout=ANSWER_WITHIN) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def test_oversized_headers_and_request_lines_are_refused(agent: RunningAgent) -> None:
    big_header = b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 1) + b"\r\n"
    answer = raw_http(agent, b"GET / HTTP/1.1\r\nHost: x\r\n" + big_header + b"\r\n")
    assert not answer.startswith(b"HTTP/1.1 200")
    many = b"".join(b"X-%d: %d\r\n" % (n, n) for n in range(2000))
    assert raw_http(agent, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n").startswith(
        b"HTTP/1.1 400"
    )
    long_line = b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert not raw_http(agent, long_line).startswith(b"HTTP/1.1 200")
    assert agent.get("/")[0] == 200


def test_open_connections_are_capped(agent: RunningAgent) -> None:
    """Idle connections beyond the cap are closed at once; the cap frees up again."""
    held: list[http.client.HTTPConnection] = []
    try:
        for _ in range(MAX_CONNECTIONS):
            # A finished request proves the agent accepted (and counts) the connection.
            connection = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
            held.append(connection)
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"[1]"
        with socket.create_connection(("127.0.0.1", agent.port), timeout=5) as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with contextlib.suppress(ConnectionResetError):
                assert extra.recv(100) == b""
        assert "refusing HTTP connections" in agent.log_text()
    finally:
        for connection in held:
            connection.close()
    eventually(lambda: answers(agent))


def chunked_body(size: int) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (size, b"y" * size)


HOSTILE = {
    "host with an empty label": (b"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", b"400"),
    "host label over 63": (b"GET / HTTP/1.1\r\nHost: " + b"a" * 64 + b".org\r\n\r\n", b"400"),
    "host not UTF-8": (b"GET / HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n", b"400"),
    "path not UTF-8": (b"GET /%ff HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
    "chunked body over 64 KiB": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_body(100_000),
        b"413",
    ),
    "OPTIONS *": (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
    "OPTIONS /": (b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_requests_get_a_4xx_and_at_most_one_log_line(
    agent: RunningAgent, name: str
) -> None:
    request, status = HOSTILE[name]
    before = agent.log_text()
    answer = raw_http(agent, request)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert agent.get("/")[0] == 200
    added = agent.log_text()[len(before) :].splitlines()
    assert "Traceback" not in "\n".join(added) and "Unhandled Error" not in "\n".join(added)
    assert len([line for line in added if '"GET /" 200' not in line]) <= 1, added


def test_trickling_clients_do_not_lock_out_scrapers(agent: RunningAgent) -> None:
    """300 connections, more than the cap, each sending a byte every half second.

    The idle timeout never fires for them; the request deadline closes them, and a
    scraper that retries is answered. Without the deadline they hold every slot.
    """
    tricklers: list[socket.socket] = []
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.5):
            for connection in tricklers:
                with contextlib.suppress(OSError):
                    connection.send(b"X")

    for _ in range(300):
        connection = socket.create_connection(("127.0.0.1", agent.port), timeout=5)
        with contextlib.suppress(OSError):
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        tricklers.append(connection)
    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        assert eventually(lambda: answers(agent), timeout=REQUEST_TIMEOUT + EVENTUALLY)
        timed_out = [c for c in tricklers if received(c).startswith(b"HTTP/1.1 408")]
        assert len(timed_out) >= MAX_CONNECTIONS - 10
    finally:
        stop.set()
        sender.join()
        for connection in tricklers:
            connection.close()
    log = agent.log_text()
    assert "did not arrive whole within 2 s" in log
    assert "Traceback" not in log and "Unhandled Error" not in log


def received(connection: socket.socket) -> bytes:
    """What the agent sent on a connection, waiting briefly; empty if it sent nothing."""
    connection.settimeout(0.2)
    try:
        return connection.recv(200)
    except OSError:
        return b""


def answers(agent: RunningAgent) -> bool | None:
    """Whether ``GET /`` works right now (a connection refused or reset is a no)."""
    try:
        return agent.get("/")[0] == 200
    except OSError:
        return None


def test_a_world_readable_key_is_warned_about(agent: RunningAgent) -> None:
    assert f"{agent.data_dir}/hmac.key has mode 0644, open to other users" in agent.log_text()
    assert "config.data has mode" not in agent.log_text()


def secret_forms(secret: bytes) -> list[str]:
    text = secret.strip().decode()
    return [text, text.encode().hex(), hashlib.sha1(secret).hexdigest(), repr(secret)]


def test_secrets_never_logged_nor_served(agent: RunningAgent) -> None:
    """Runs last: after every bad request above, the log holds neither secret."""
    served = b"".join(agent.get(path)[1] for path in ("/1/report/all", "/metrics"))
    log = agent.log_text()
    assert "GET /metrics" in log, "requests are logged"
    for form in secret_forms(KEY):
        assert form not in log, f"the key ({form!r}) is in the log"
        assert form.encode() not in served
    assert DRBD_SECRET not in log and DRBD_SECRET.encode() not in served


def key_source(tmp_path: Path) -> tuple[ConfigSource, Path]:
    source = ConfigSource(
        str(tmp_path / "config.data"), str(tmp_path / "hmac.key"), Clock(), use_inotify=False
    )
    return source, tmp_path / "hmac.key"


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_key_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    source, key_path = key_source(tmp_path)
    if kind == "directory":
        key_path.mkdir()
    else:
        os.mkfifo(key_path)
    started = time.monotonic()
    source.check()
    assert time.monotonic() - started < 1, "reading a FIFO blocked"
    assert source.key is None
    expected = "inappropriate type" if kind == "directory" else "not a regular file"
    assert expected in (source._key_problem or "")
    key_path.rmdir() if kind == "directory" else key_path.unlink()
    key_path.write_bytes(KEY)
    key_path.chmod(0o440)
    source.check()
    assert source.key == KEY


def test_a_config_that_is_a_fifo_does_not_block(tmp_path: Path) -> None:
    source, _ = key_source(tmp_path)
    os.mkfifo(tmp_path / "config.data")
    source.check()
    assert source.status.config is None
    assert "not a regular file" in (source.status.error or "")
