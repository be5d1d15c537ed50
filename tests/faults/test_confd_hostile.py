"""Hostile confd datagrams against a real agent: counted, never a traceback in the log.

An adversarial review found one datagram (``plj0{"a":[[[...]]]}``) that made the JSON
parser raise ``RecursionError``; it escaped the drop path, and a flood of it wrote tens
of megabytes of tracebacks. Here every shape of malformed input (deep nesting, huge or
non-finite numbers, bytes that are not UTF-8, escaped lone surrogates, random bytes)
goes to a running agent, and the log must not grow by more than the rate-limited lines.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ganeti_agent.confd.constants import RequestType
from tests.faults.support import RunningAgent, confd_agent, eventually

pytestmark = pytest.mark.e2e

KEY = b"confd-hostile-key-1c0ffee5b07d\n"
FLOOD = 5000
BATCH = 20  # a few KB each: well within the socket receive buffer
#: A few rate-limited drop lines fit; one traceback per datagram does not.
LOG_GROWTH_LIMIT = 10_000


def deep(opening: str, closing: str, depth: int = 1000) -> bytes:
    return b'plj0{"a":' + (opening * depth + closing * depth).encode() + b"}"


HOSTILE: dict[str, Callable[[random.Random], bytes]] = {
    "deep-lists": lambda rng: deep("[", "]"),
    "deep-objects": lambda rng: b"plj0" + b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "deep-extra-member": lambda rng: (
        b'plj0{"hmac":"0","msg":"x","salt":"1","x":' + b"[" * 1900 + b"]" * 1900 + b"}"
    ),
    "huge-integer": lambda rng: b'plj0{"hmac":' + b"9" * 4000 + b"}",
    "huge-exponent": lambda rng: b'plj0{"hmac":1e999999,"msg":"x","salt":"1"}',
    "nan": lambda rng: b'plj0{"hmac":NaN,"msg":-Infinity,"salt":"1"}',
    "not-utf8": lambda rng: b'plj0{"hmac":"\xff\xfe","msg":"\xc3\x28","salt":"\xed\xa0\x80"}',
    "lone-surrogate": lambda rng: b'plj0{"hmac":"00","msg":"\\ud800","salt":"\\udfff"}',
    "random": lambda rng: b"plj0" + rng.randbytes(rng.randint(0, 600)),
}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    with confd_agent(tmp_path_factory.mktemp("hostile"), KEY) as started:
        yield started


def counters(agent: RunningAgent) -> dict[str, Any]:
    data: dict[str, Any] = agent.report("daemon", "confd")["data"]
    return data


def log_since(agent: RunningAgent, offset: int) -> bytes:
    with agent.log_path.open("rb") as log:
        log.seek(offset)
        return log.read()


def received_at_least(agent: RunningAgent, count: int) -> dict[str, Any] | None:
    state = counters(agent)
    return state if state["received"] >= count else None


def wait_received(agent: RunningAgent, count: int) -> dict[str, Any]:
    return eventually(lambda: received_at_least(agent, count), timeout=30)


@pytest.mark.parametrize("shape", HOSTILE)
def test_each_hostile_shape_is_dropped_and_counted(agent: RunningAgent, shape: str) -> None:
    before = counters(agent)
    log_size = agent.log_path.stat().st_size
    datagram = HOSTILE[shape](random.Random(shape))
    assert agent.send_datagram(datagram, 0.3, stop_at_first=False) == []
    after = wait_received(agent, before["received"] + 1)
    assert sum(after["drops"].values()) == sum(before["drops"].values()) + 1
    assert b"Traceback" not in log_since(agent, log_size)


def test_a_flood_of_hostile_shapes_adds_only_rate_limited_lines(agent: RunningAgent) -> None:
    """5,000 datagrams, every shape above in turn, all received (sent in paced batches)."""
    assert agent.confd_port is not None
    rng = random.Random(1814)
    shapes = list(HOSTILE.values())
    before = counters(agent)
    log_size = agent.log_path.stat().st_size
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for start in range(0, FLOOD, BATCH):
            for number in range(start, start + BATCH):
                sock.sendto(shapes[number % len(shapes)](rng), ("127.0.0.1", agent.confd_port))
            wait_received(agent, before["received"] + start + BATCH)
    after = counters(agent)
    received = after["received"] - before["received"]
    assert received == FLOOD
    assert sum(after["drops"].values()) - sum(before["drops"].values()) == FLOOD
    written = log_since(agent, log_size)
    assert len(written) < LOG_GROWTH_LIMIT, f"{len(written)} log bytes for {FLOOD} datagrams"
    assert b"Traceback" not in written
    assert agent.confd(KEY, RequestType.PING) is not None
    agent.assert_alive()
