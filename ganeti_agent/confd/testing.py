"""A scriptable confd peer for tests of confd clients (ours or anyone's).

It checks requests exactly as the server does, then answers with whatever its
``respond`` function returns: a reply, several, or nothing (a silent peer). A peer
signing with another key stands for a misconfigured or hostile node.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from twisted.internet.protocol import DatagramProtocol

from ganeti_agent.confd.protocol import (
    Address,
    ProtocolError,
    Reply,
    Request,
    decode_request,
    encode_reply,
)
from ganeti_agent.core.jsontypes import JSON

Responder = Callable[[Request], list[Reply]]


class FakeConfdPeer(DatagramProtocol):
    """Answers verified requests with ``respond(request)``, signed with ``reply_key``."""

    def __init__(
        self,
        key: bytes,
        respond: Responder,
        reply_key: bytes | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.reply_key = key if reply_key is None else reply_key
        self.respond = respond
        self.wall_clock = wall_clock
        self.requests: list[Request] = []

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:
        try:
            request = decode_request(self.key, datagram, self.wall_clock())
        except ProtocolError:
            return
        self.requests.append(request)
        for reply in self.respond(request):
            assert self.transport is not None
            self.transport.write(encode_reply(self.reply_key, request.rsalt, reply), addr)


def answering(status: int, answer: JSON, serial: int) -> Responder:
    """A responder that always gives the same reply."""
    return lambda _request: [Reply(status, answer, serial)]


def silent(_request: Request) -> list[Reply]:
    return []
