"""A Deferred-based confd client: one request to several peers, verified replies.

It behaves like Ganeti's Haskell client (spec/confd.md 6.3), which mon-collector and
mond use: each peer gets the request with its own UUID rsalt, only replies whose HMAC
verifies and whose salt matches count, and the query ends when enough peers answered
(``min(6, peers)`` by default) or the timeout expires. The result keeps every reply;
``best`` picks the freshest one as the Haskell client and Ganeti's filter callback do.
Each query uses its own short-lived UDP socket(s), so there is nothing to close.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twisted.internet import defer
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorCore,
    IReactorTime,
    IReactorUDP,
    IUDPTransport,
)
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ganeti_agent.confd.constants import (
    CLIENT_EXPIRE_TIMEOUT,
    DEFAULT_PORT,
    DEFAULT_REQ_COVERAGE,
    RequestType,
)
from ganeti_agent.confd.protocol import Address, Reply, decode_reply, encode_request
from ganeti_agent.core.jsontypes import JSON

log = Logger(namespace="ganeti_agent.confd.client")

#: Receive whole datagrams (Twisted reads only 8192 bytes by default).
MAX_DATAGRAM = 65536


@dataclass(frozen=True)
class PeerReply:
    """One verified reply and the address it came from."""

    host: str
    port: int
    reply: Reply


@dataclass(frozen=True)
class QueryResult:
    """Every verified reply to one query, how many peers were asked, and whether time ran out."""

    replies: tuple[PeerReply, ...]
    sent: int
    timed_out: bool

    @property
    def best(self) -> Reply | None:
        """An OK reply beats an error; among OK replies a strictly higher serial wins."""
        chosen: Reply | None = None
        for peer_reply in self.replies:
            reply = peer_reply.reply
            if chosen is None or _fresher(reply, chosen):
                chosen = reply
        return chosen


def _fresher(reply: Reply, than: Reply) -> bool:
    if reply.ok != than.ok:
        return reply.ok
    return reply.ok and reply.serial > than.serial


@dataclass
class _Pending:
    rsalts: set[str]
    needed: int
    sent: int
    result: Deferred[QueryResult]
    replies: list[PeerReply] = field(default_factory=list)
    timer: IDelayedCall | None = None
    done: bool = False


class _ReplyReceiver(DatagramProtocol):
    """The socket of one query (one per address family); hands datagrams to the client."""

    def __init__(self, handler: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.handler = handler

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:
        self.handler(datagram, (addr[0], addr[1]))


class IConfdReactor(IReactorCore, IReactorTime, IReactorUDP):
    """What a confd client needs of a reactor: name resolution, timers and UDP."""


class ConfdClient:
    """Asks confd peers (IP addresses or host names) with one key on one port."""

    def __init__(
        self,
        reactor: IConfdReactor,
        key: bytes,
        peers: Sequence[str],
        port: int = DEFAULT_PORT,
        timeout: float = CLIENT_EXPIRE_TIMEOUT,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.reactor = reactor
        self.key = key
        self.peers = list(peers)
        self.port = port
        self.timeout = timeout
        self.wall_clock = wall_clock

    def query(
        self,
        request_type: RequestType,
        query: JSON = None,
        wanted: int | None = None,
        timeout: float | None = None,
    ) -> Deferred[QueryResult]:
        """Send one request to every peer; fires with the replies, never fails.

        ``wanted`` is how many verified replies end the wait early (default
        ``min(6, peers asked)``); ``timeout`` defaults to the client's (10 s).
        """
        resolving = defer.gatherResults(
            [self._resolve(peer) for peer in self.peers], consumeErrors=True
        )
        limit = self.timeout if timeout is None else timeout
        return resolving.addCallback(self._send, request_type, query, wanted, limit)

    def _resolve(self, peer: str) -> Deferred[str | None]:
        if isIPAddress(peer) or isIPv6Address(peer):
            return defer.succeed(peer)
        resolved: Deferred[str] = self.reactor.resolve(peer)

        def unresolved(failure: Failure) -> None:
            log.warn("confd peer {peer} not resolved: {err}", peer=peer, err=failure.value)
            return None

        return resolved.addErrback(unresolved)

    def _send(
        self,
        addresses: list[str | None],
        request_type: RequestType,
        query: JSON,
        wanted: int | None,
        timeout: float,
    ) -> Deferred[QueryResult]:
        pending = _Pending(set(), 0, 0, Deferred())
        ports: dict[bool, IUDPTransport] = {}

        def receive(datagram: bytes, addr: tuple[str, int]) -> None:
            self._receive(pending, datagram, addr)

        for address in addresses:
            if address is None:
                continue
            ipv6 = isIPv6Address(address)
            if ipv6 not in ports:
                interface = "::" if ipv6 else ""
                listening = self.reactor.listenUDP(
                    0, _ReplyReceiver(receive), interface, maxPacketSize=MAX_DATAGRAM
                )
                ports[ipv6] = IUDPTransport(listening)
            rsalt = str(uuid.uuid4())
            datagram = encode_request(self.key, request_type, query, rsalt, self.wall_clock())
            try:
                ports[ipv6].write(datagram, (address, self.port))
            except (OSError, ValueError) as exc:
                log.warn("confd request to {addr} not sent: {exc}", addr=address, exc=exc)
                continue
            pending.rsalts.add(rsalt)
            pending.sent += 1
        default = min(DEFAULT_REQ_COVERAGE, pending.sent)
        pending.needed = min(default if wanted is None else wanted, pending.sent)

        def close(result: QueryResult) -> QueryResult:
            for port in ports.values():
                port.stopListening()
            return result

        pending.result.addCallback(close)
        if pending.needed <= 0:
            self._finish(pending, timed_out=False)
        else:
            pending.timer = self.reactor.callLater(timeout, self._finish, pending, True)
        return pending.result

    def _receive(self, pending: _Pending, datagram: bytes, addr: tuple[str, int]) -> None:
        if pending.done:
            return
        try:
            rsalt, reply = decode_reply(self.key, datagram)
        except ValueError as exc:  # ProtocolError, or a parser failure of any kind
            log.debug("confd reply from {addr} ignored: {exc}", addr=addr, exc=exc)
            return
        if rsalt not in pending.rsalts:
            log.debug("confd reply from {addr} has an unknown salt", addr=addr)
            return
        pending.rsalts.discard(rsalt)
        pending.replies.append(PeerReply(addr[0], addr[1], reply))
        if len(pending.replies) >= pending.needed:
            self._finish(pending, timed_out=False)

    @staticmethod
    def _finish(pending: _Pending, timed_out: bool) -> None:
        if pending.done:
            return
        pending.done = True
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.result.callback(QueryResult(tuple(pending.replies), pending.sent, timed_out))
