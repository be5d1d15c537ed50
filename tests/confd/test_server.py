"""The UDP server on 127.0.0.1: answers, silent drops and their counters."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Generator, Iterator
from typing import Any, cast

import pytest
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import deferLater
from twisted.logger import capturedLogs, formatEvent

from ganeti_agent.confd.answers import ConfigStatus
from ganeti_agent.confd.client import ConfdClient, QueryResult
from ganeti_agent.confd.config import build_config
from ganeti_agent.confd.constants import MAX_REQUEST_SIZE, RequestType
from ganeti_agent.confd.protocol import DropReason, Reply, encode_request, pack, sign
from ganeti_agent.confd.server import ConfdServer
from tests.confd.support import KEY, inline_callbacks, load_sample, section8_config

reactor: Any = global_reactor


class StaticSource:
    def __init__(self, key: bytes | None, status: ConfigStatus) -> None:
        self.key = key
        self.status = status


class Listener(DatagramProtocol):
    """A raw client socket that records whatever comes back."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.received.append(datagram)


@pytest.fixture
def server() -> Iterator[tuple[ConfdServer, int]]:
    config = build_config(section8_config(load_sample("cluster_config_3.0.json")))
    protocol = ConfdServer(StaticSource(KEY, ConfigStatus(config)))
    port = reactor.listenUDP(0, protocol, interface="127.0.0.1")
    yield protocol, port.getHost().port
    port.stopListening()


@pytest.fixture
def raw() -> Iterator[tuple[Listener, Any]]:
    listener = Listener()
    port = reactor.listenUDP(0, listener, interface="127.0.0.1")
    yield listener, port
    port.stopListening()


def settle() -> Deferred[None]:
    return deferLater(reactor, 0.2, lambda: None)


@inline_callbacks
def test_answers_over_udp(server: tuple[ConfdServer, int]) -> Generator[Any, Any, None]:
    protocol, port = server
    client = ConfdClient(reactor, KEY, ["127.0.0.1"], port, timeout=5)
    result: QueryResult = yield client.query(RequestType.NODE_DRBD, "node2.example.com")
    assert result.best == Reply(0, [], 6)
    result = yield client.query(RequestType.CLUSTER_MASTER, {"3": [0, 1, 2]})
    assert result.best == Reply(0, ["node1.example.com", "192.0.2.87", "192.0.2.82"], 3189)
    assert protocol.counters.requests[RequestType.NODE_DRBD] == 1
    assert protocol.counters.replies == 2


@inline_callbacks
def test_byte_identical_reply(
    server: tuple[ConfdServer, int], raw: tuple[Listener, Any]
) -> Generator[Any, Any, None]:
    _, port = server
    listener, sock = raw
    rsalt = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    sock.write(
        encode_request(KEY, RequestType.CLUSTER_MASTER, None, rsalt, time.time()),
        ("127.0.0.1", port),
    )
    yield settle()
    assert listener.received == [
        b'plj0{"hmac":"9cea124ee5bed0a97ca9981648ca0700f01960da","msg":"{\\"protocol\\":1,'
        b'\\"status\\":0,\\"answer\\":\\"node1.example.com\\",\\"serial\\":3189}",'
        b'"salt":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}'
    ]


@inline_callbacks
def test_replayed_datagram_answered_once(
    server: tuple[ConfdServer, int], raw: tuple[Listener, Any]
) -> Generator[Any, Any, None]:
    """A second copy of a signed request (same rsalt) is a replay: dropped and counted."""
    confd, port = server
    listener, sock = raw
    datagram = encode_request(KEY, RequestType.PING, None, "r", time.time())
    sock.write(datagram, ("127.0.0.1", port))
    sock.write(datagram, ("127.0.0.1", port))
    yield settle()
    assert len(listener.received) == 1
    assert confd.counters.drops[DropReason.REPLAY] == 1
    fresh = encode_request(KEY, RequestType.PING, None, "r2", time.time())
    sock.write(fresh, ("127.0.0.1", port))
    yield settle()
    assert len(listener.received) == 2


def signed(msg: str, salt: str | None = None) -> bytes:
    salt = str(int(time.time())) if salt is None else salt
    return pack(KEY, salt, msg)


DROPS = [
    (b"hello", DropReason.BAD_MAGIC),
    (b"plj0{}", DropReason.BAD_ENVELOPE),
    (
        b"plj0" + json.dumps({"msg": "{}", "salt": "1", "hmac": "0" * 40}).encode(),
        DropReason.BAD_HMAC,
    ),
    (signed('{"protocol":1,"type":12,"rsalt":"x"}'), DropReason.BAD_REQUEST),
    (signed('{"protocol":1,"type":0,"rsalt":"x"}', "1700000000"), DropReason.CLOCK_SKEW),
    (signed('{"protocol":1,"type":0,"rsalt":"x"}', "now"), DropReason.BAD_TIMESTAMP),
    (
        signed('{"protocol":1,"type":0,"query":"' + "x" * 4200 + '","rsalt":"x"}'),
        DropReason.TOO_LARGE,
    ),
]


@inline_callbacks
def test_drops_are_silent_and_counted(
    server: tuple[ConfdServer, int], raw: tuple[Listener, Any]
) -> Generator[Any, Any, None]:
    protocol, port = server
    listener, sock = raw
    for datagram, _ in DROPS:
        sock.write(datagram, ("127.0.0.1", port))
    yield settle()
    assert listener.received == []
    for _, reason in DROPS:
        assert protocol.counters.drops[reason] == 1, reason
    assert protocol.counters.received == len(DROPS)
    counters: Any = protocol.counters.to_json()
    assert counters["drops"]["bad-hmac"] == 1
    assert counters["requests"]["PING"] == 0


@inline_callbacks
def test_no_key_drops_everything(raw: tuple[Listener, Any]) -> Generator[Any, Any, None]:
    protocol = ConfdServer(StaticSource(None, ConfigStatus(None)))
    port = reactor.listenUDP(0, protocol, interface="127.0.0.1")
    listener, sock = raw
    try:
        sock.write(
            encode_request(KEY, RequestType.PING, None, "r", time.time()),
            ("127.0.0.1", port.getHost().port),
        )
        yield settle()
    finally:
        port.stopListening()
    assert listener.received == []
    assert protocol.counters.drops[DropReason.NO_KEY] == 1


@inline_callbacks
def test_oversized_reply_becomes_error(raw: tuple[Listener, Any]) -> Generator[Any, Any, None]:
    config = build_config(section8_config(load_sample("cluster_config_3.0.json")))
    # 70 kB: more than one datagram (distinct tags: confd sends tags as a set)
    cast(Any, config.raw["cluster"])["tags"] = [f"{n:02d}" + "x" * 1000 for n in range(70)]
    protocol = ConfdServer(StaticSource(KEY, ConfigStatus(config)))
    port = reactor.listenUDP(0, protocol, interface="127.0.0.1")
    client = ConfdClient(reactor, KEY, ["127.0.0.1"], port.getHost().port, timeout=5)
    try:
        result: QueryResult = yield client.query(RequestType.CONFIG_QUERY, "/cluster/tags")
    finally:
        port.stopListening()
    assert result.best is not None and result.best.status == 1
    assert "Reply too large" in str(result.best.answer)
    assert protocol.counters.oversized_replies == 1


def test_uppercase_and_python_formatting_accepted() -> None:
    msg = '{"protocol": 1, "type": 0, "rsalt": "r"}\n'
    salt = str(int(time.time()))
    datagram = (
        b"plj0"
        + json.dumps({"msg": msg, "salt": salt, "hmac": sign(KEY, salt, msg).upper()}).encode()
        + b"\n"
    )
    sent: list[bytes] = []

    class Transport:
        def write(self, data: bytes, addr: Any) -> None:
            sent.append(data)

    protocol = ConfdServer(StaticSource(KEY, ConfigStatus(None)))
    protocol.transport = Transport()  # type: ignore[assignment]
    protocol.datagramReceived(datagram, ("127.0.0.1", 1))
    assert len(sent) == 1 and b"Configuration not yet loaded" in sent[0]


def test_unexpected_failure_is_a_counted_drop_without_traceback() -> None:
    """Whatever breaks inside the handler stays inside: one drop, no traceback logged."""

    class BrokenSource:
        @property
        def key(self) -> bytes:
            raise RuntimeError("source broken")

        status = ConfigStatus(None)

    protocol = ConfdServer(BrokenSource())
    with capturedLogs() as events:
        for _ in range(3):
            protocol.datagramReceived(b"plj0{}", ("127.0.0.1", 1))
    assert protocol.counters.drops[DropReason.INTERNAL_ERROR] == 3
    ours = [event for event in events if event.get("log_namespace") == "ganeti_agent.confd"]
    assert len(ours) == 1 and "log_failure" not in ours[0]
    assert "RuntimeError: source broken" in formatEvent(ours[0])


def test_replay_memory_does_not_grow_with_the_rsalt() -> None:
    """Requests with 3.9 KB rsalts cost the replay cache what short ones do.

    It once kept the rsalts themselves: about 4 KB each, 800 MB at its 200,000 cap.
    """

    class Discard:
        def write(self, data: bytes, addr: Any) -> None:
            pass

    protocol = ConfdServer(StaticSource(KEY, ConfigStatus(None)), wall_clock=lambda: 1e9)
    protocol.transport = Discard()  # type: ignore[assignment]
    requests = [
        encode_request(KEY, RequestType.PING, None, f"{number:08}" + "x" * 3900, 1e9)
        for number in range(1000)
    ]
    assert all(len(request) <= MAX_REQUEST_SIZE for request in requests)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for request in requests:
            protocol.datagramReceived(request, ("127.0.0.1", 1))
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert protocol.counters.replies == len(requests)
    assert retained < len(requests) * 400, f"{retained / len(requests):.0f} bytes per request"
    protocol.datagramReceived(requests[0], ("127.0.0.1", 1))
    assert protocol.counters.drops[DropReason.REPLAY] == 1
