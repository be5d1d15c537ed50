"""Request bounds of the HTTP server, on a real socket."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import pytest_twisted
from twisted.internet import reactor, threads
from twisted.web.resource import Resource

from ganeti_agent.web import MAX_BODY, AgentSite


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


async def send(payload: bytes) -> bytes:
    site: Any = AgentSite(Hello(), False)
    port: Any = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
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
