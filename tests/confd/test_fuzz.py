"""100,000 random and mutated datagrams at the server on 127.0.0.1, and hypothesis.

The server must never crash, never answer a datagram its own pipeline rejects (so
nothing unauthenticated or malformed gets a byte back), and still answer a valid
query afterwards. Mutations are applied to signed requests, so most break the HMAC;
the few that stay valid (say, a digit of the digest changing case) must be answered.
The hypothesis part feeds the parser and the handler arbitrary JSON (non-finite
numbers included), deep nesting and random bytes, signed and unsigned: only
``ProtocolError`` may come out of the parser, nothing out of the handler, no
traceback into the log, and every datagram is counted as a drop or a reply.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import socket
import time
from collections.abc import Generator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import reactor as global_reactor
from twisted.internet.task import deferLater
from twisted.logger import capturedLogs

from ganeti_agent.confd.answers import ConfigStatus
from ganeti_agent.confd.client import ConfdClient, QueryResult
from ganeti_agent.confd.config import build_config
from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import (
    DropReason,
    ProtocolError,
    Reply,
    decode_request,
    encode_request,
    pack,
)
from ganeti_agent.confd.server import ConfdCounters, ConfdServer
from tests.confd.support import KEY, inline_callbacks, load_sample, section8_config

reactor: Any = global_reactor
TOTAL = 100_000
BATCH = 50  # well within a default socket receive buffer, so the kernel drops nothing


def valid_request(rng: random.Random, now: float) -> bytes:
    rtype = rng.choice(list(RequestType))
    query: Any = rng.choice(
        [None, "node1.example.com", "/cluster", {"3": [0, 2]}, {"1": "198.51.100.11"}]
    )
    return encode_request(KEY, rtype, query, f"r{rng.random()}", now)


def signed_nonsense(rng: random.Random, now: float) -> bytes:
    """Authenticated but malformed inner requests: wrong types, keys, values."""
    inner = rng.choice(
        [
            {"protocol": 1, "type": rng.randint(12, 1000), "rsalt": "x"},
            {"protocol": 1, "type": rng.randint(-1000, -1), "rsalt": "x"},
            {"protocol": "1", "type": 0, "rsalt": "x"},
            {"protocol": 1, "type": 0, "rsalt": rng.random()},
            {"protocol": 1, "type": 0, "rsalt": "x", "extra": None},
            {"protocol": 1, "type": 3, "query": {"3": ["0"]}, "rsalt": "x"},
            {"protocol": 1, "type": 2, "query": {"7": 1}, "rsalt": "x"},
            {"protocol": 1, "type": 0, "query": [rng.random()], "rsalt": "x"},
            [1, 0, None, "x"],
        ]
    )
    salt = rng.choice([str(int(now) - 100000), "", "x", str(now), str(int(now) + 301)])
    if rng.random() < 0.5:
        salt = str(int(now))
    return pack(KEY, salt, json.dumps(inner))


def mutate(rng: random.Random, datagram: bytes) -> bytes:
    data = bytearray(datagram)
    for _ in range(rng.randint(1, 4)):
        action = rng.random()
        position = rng.randrange(len(data)) if data else 0
        if action < 0.4 and data:
            data[position] = rng.randrange(256)
        elif action < 0.6:
            del data[position:]
        elif action < 0.8:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif data:
            del data[position : position + rng.randint(1, 16)]
    return bytes(data)


def fuzz_datagram(rng: random.Random, now: float) -> bytes:
    kind = rng.random()
    if kind < 0.15:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    if kind < 0.2:
        return b"plj0" + bytes(rng.randrange(256) for _ in range(rng.randint(0, 5000)))
    if kind < 0.35:
        return signed_nonsense(rng, now)
    return mutate(rng, valid_request(rng, now))


def accepted(datagram: bytes, now: float) -> bool:
    try:
        decode_request(KEY, datagram, now)
    except ProtocolError:
        return False
    return True


@inline_callbacks
def test_fuzz_never_crashes_never_answers_invalid() -> Generator[Any, Any, None]:
    config = build_config(section8_config(load_sample("cluster_config_3.0.json")))

    class Source:
        key: bytes | None = KEY
        status = ConfigStatus(config)

    server = ConfdServer(Source())
    port = reactor.listenUDP(0, server, interface="127.0.0.1")
    address = ("127.0.0.1", port.getHost().port)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sender.setblocking(False)
    rng = random.Random(20240614)
    expected_replies = 0
    replies = 0
    started = time.monotonic()

    def drain() -> int:
        count = 0
        while True:
            try:
                sender.recv(65536)
            except BlockingIOError:
                return count
            count += 1

    try:
        sent = 0
        while sent < TOTAL:
            now = time.time()
            for _ in range(BATCH):
                datagram = fuzz_datagram(rng, now)
                expected_replies += accepted(datagram, now)
                sender.sendto(datagram, address)
                sent += 1
            yield wait(server.counters, sent)
            replies += drain()
        yield deferLater(reactor, 0.1, lambda: None)
        replies += drain()
        assert server.counters.received == TOTAL
        assert server.counters.internal_errors == 0
        assert replies == expected_replies == server.counters.replies
        assert sum(server.counters.drops.values()) == TOTAL - expected_replies
        client = ConfdClient(reactor, KEY, [address[0]], address[1], timeout=5)
        result: QueryResult = yield client.query(RequestType.CLUSTER_MASTER)
        assert result.best == Reply(0, "node1.example.com", 3189)
    finally:
        sender.close()
        port.stopListening()
    assert time.monotonic() - started < 60


@inline_callbacks
def wait(counters: ConfdCounters, sent: int, limit: float = 10.0) -> Generator[Any, Any, None]:
    deadline = time.monotonic() + limit
    while counters.received < sent:
        if time.monotonic() > deadline:
            raise AssertionError(f"the server received {counters.received} of {sent} datagrams")
        yield deferLater(reactor, 0.001, lambda: None)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: json.dumps writes NaN, Infinity
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    depth = draw(st.integers(1, 5000))
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inside = draw(st.sampled_from(["", "1", '"x"', "NaN"]))
    return opening * depth + inside + closing * draw(st.integers(0, depth))


def json_text(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


ENVELOPE_MEMBERS = st.fixed_dictionaries(
    {"hmac": JSON_VALUES, "msg": JSON_VALUES, "salt": JSON_VALUES},
    optional={"extra": JSON_VALUES},
)
NOW = 1_700_000_000

#: Unsigned datagrams of every shape, then signed ones with nonsense inside.
HOSTILE_DATAGRAMS = st.one_of(
    st.binary(max_size=5000),
    st.binary(max_size=5000).map(lambda data: b"plj0" + data),
    JSON_VALUES.map(lambda value: b"plj0" + json_text(value).encode()),
    ENVELOPE_MEMBERS.map(lambda outer: b"plj0" + json_text(outer).encode()),
    deep_nesting().map(lambda text: b"plj0" + text.encode()),
    deep_nesting().map(lambda text: b'plj0{"hmac":"0","msg":"x","salt":"1","a":' + text.encode()),
    st.text(max_size=2000).map(lambda text: b"plj0" + text.encode("utf-8", "surrogatepass")),
    st.one_of(JSON_VALUES.map(json_text), deep_nesting(), st.text(max_size=500)).map(
        lambda msg: pack(KEY, str(NOW), msg)
    ),
    st.text(max_size=50).map(
        lambda rsalt: pack(KEY, str(NOW), json.dumps({"protocol": 1, "type": 0, "rsalt": rsalt}))
    ),
)


class StaticSource:
    def __init__(self, status: ConfigStatus) -> None:
        self.key: bytes | None = KEY
        self.status = status


@functools.cache
def sample_source() -> StaticSource:
    """Built once: the answers are read-only, and building takes longer than a query."""
    return StaticSource(ConfigStatus(build_config(section8_config(load_sample(SAMPLE)))))


SAMPLE = "cluster_config_3.0.json"


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)


@settings(max_examples=600, deadline=None)
@given(st.lists(HOSTILE_DATAGRAMS, min_size=1, max_size=5))
def test_hypothesis_nothing_escapes_and_everything_is_counted(datagrams: list[bytes]) -> None:
    server = ConfdServer(sample_source(), wall_clock=lambda: NOW)
    transport = RecordingTransport()
    server.transport = transport  # type: ignore[assignment]
    with capturedLogs() as events:
        for datagram in datagrams:
            with contextlib.suppress(ProtocolError):
                decode_request(KEY, datagram, NOW)
            server.datagramReceived(datagram, ("192.0.2.1", 1))
    counters = server.counters
    assert counters.received == len(datagrams)
    assert sum(counters.drops.values()) + counters.replies == len(datagrams)
    assert counters.internal_errors == counters.drops[DropReason.INTERNAL_ERROR] == 0
    assert len(transport.sent) == counters.replies
    assert [event for event in events if "log_failure" in event] == []
