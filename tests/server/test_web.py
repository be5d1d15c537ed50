"""Request bounds of the HTTP server, on a real socket."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor, threads
from twisted.logger import LogEvent
from twisted.web.resource import Resource

from ganeti_agent.server.web import MAX_BODY, TOO_SLOW, AgentSite, RateLimitedLog
from tests.log_capture import failures, logged_events


class Hello(Resource):
    isLeaf = True

    def render(self, request: object) -> bytes:
        return b"hello"


def exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        with contextlib.suppress(OSError):
            connection.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = connection.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def log_events() -> Iterator[list[LogEvent]]:
    """Everything logged during the test."""
    with logged_events() as events:
        yield events


async def send(payload: bytes, request_timeout: float = 10.0) -> bytes:
    site: Any = AgentSite(Hello(), False, request_timeout)
    port: Any = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        number = port.getHost().port
        answer: bytes = await threads.deferToThread(exchange, number, payload)
        return answer
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_small_requests_are_served() -> None:
    answer = await send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")


@pytest_twisted.ensureDeferred
async def test_declared_large_body_is_refused_before_it_is_read() -> None:
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {10 * MAX_BODY}\r\n\r\n".encode()
    answer = await send(head + b"x" * 1000)
    assert answer.startswith(b"HTTP/1.1 413")


@pytest_twisted.ensureDeferred
async def test_chunked_body_beyond_the_bound_is_refused() -> None:
    chunk = b"%x\r\n%s\r\n" % (MAX_BODY, b"y" * MAX_BODY)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = await send(head + chunk * 2)
    assert answer.startswith(b"HTTP/1.1 413")


@pytest_twisted.ensureDeferred
async def test_too_many_headers_are_refused() -> None:
    headers = b"".join(b"X-%d: y\r\n" % n for n in range(200))
    answer = await send(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 400")


def chunked(count: int, size: int) -> bytes:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + b"%x\r\n%s\r\n" % (size, b"y" * size) * count + b"0\r\n\r\n"


OVERSIZED = {
    "two large chunks": chunked(2, 40_000),
    "many small chunks": chunked(100, 1000),
    "declared and sent": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
    % (MAX_BODY + 1, b"z" * (MAX_BODY + 1)),
}


@pytest.mark.parametrize("name", OVERSIZED)
@pytest_twisted.ensureDeferred
async def test_a_whole_oversized_body_is_refused_without_an_error(
    name: str, log_events: list[LogEvent]
) -> None:
    """The rest of the body, arriving in the same read, must not reach the request."""
    answer = await send(OVERSIZED[name])
    assert answer.startswith(b"HTTP/1.1 413")
    assert failures(log_events) == []


@pytest_twisted.ensureDeferred
async def test_a_request_that_does_not_arrive_whole_in_time_is_closed(
    log_events: list[LogEvent],
) -> None:
    """Bytes keep coming (so the idle timeout never fires), but the request never ends."""

    def trickle(port: int) -> tuple[bytes, bool]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            try:
                for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000:
                    connection.sendall(bytes([byte]))
                    time.sleep(0.05)
            except OSError:
                pass
            answer = b""
            try:
                while chunk := connection.recv(1000):
                    answer += chunk
            except TimeoutError:
                return answer, False
            return answer, True

    site: Any = AgentSite(Hello(), False, request_timeout=0.5)
    port: Any = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        answer, closed = await threads.deferToThread(trickle, port.getHost().port)
    finally:
        await port.stopListening()
    assert answer == TOO_SLOW
    assert closed
    assert site.slow_clients.count == 1
    assert failures(log_events) == []


@pytest_twisted.ensureDeferred
async def test_the_deadline_is_for_one_request_not_for_the_connection() -> None:
    """Requests on a kept-alive connection each get the full time, however long it lives."""

    def two_requests(port: int) -> list[bytes]:
        answers = []
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            for _ in range(2):
                connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                answers.append(connection.recv(1000))
                time.sleep(0.6)
        return answers

    site: Any = AgentSite(Hello(), False, request_timeout=0.5)
    port: Any = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        answers = await threads.deferToThread(two_requests, port.getHost().port)
    finally:
        await port.stopListening()
    assert [a[:12] for a in answers] == [b"HTTP/1.1 200"] * 2
    assert site.slow_clients.count == 0


def test_refusals_are_logged_at_most_once_per_interval() -> None:
    now = [0.0]
    with logged_events() as lines:
        limited = RateLimitedLog("refused {what}", interval=60, clock=lambda: now[0])
        for second in range(120):
            now[0] = float(second)
            limited.record(what="x")
    mine = [e for e in lines if e.get("log_format", "").startswith("refused")]
    assert [e["count"] for e in mine] == [1, 61]
    assert limited.count == 120
