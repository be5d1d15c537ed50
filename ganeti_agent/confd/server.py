"""The confd UDP server: ganeti-confd's pipeline, plus counters the real one lacks.

A datagram goes through the daemon's checks in its order (spec/confd.md 2.9); any
failure drops it silently, so an unauthenticated sender never gets a byte back. Every
drop reason and request type is counted, which the ``confd`` collector reports, so
operators see forged traffic and clock skew that ganeti-confd only logs. A reply too
large for one UDP datagram, which ganeti-confd fails to send at all, is replaced by an
error reply saying so.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from ganeti_agent.confd.answers import ConfigStatus, answer, error
from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import (
    Address,
    DropReason,
    ProtocolError,
    Query,
    Request,
    decode_request,
    encode_reply,
    pack,
    reply_message,
)
from ganeti_agent.core.jsontypes import JSON

log = Logger(namespace="ganeti_agent.confd")

#: The largest UDP payload over IPv4. Like ganeti-confd we send replies up to it
#: (Haskell clients read them; Ganeti's Python client reads only 61440 bytes).
MAX_REPLY_SIZE = 65507
MESSAGE_CACHE_SIZE = 4096
#: Seconds between two log lines about dropped datagrams (all are counted).
DROP_LOG_INTERVAL = 60.0
#: Characters of a drop's reason that are logged (it may quote what the sender chose).
DROP_LOG_LENGTH = 200


class Source(Protocol):
    """What the server answers from (``ConfigSource`` or a test double)."""

    @property
    def key(self) -> bytes | None: ...

    @property
    def status(self) -> ConfigStatus: ...


@dataclass
class ConfdCounters:
    """Monotonic counters since start: requests by type, drops by reason, replies."""

    requests: dict[RequestType, int] = field(default_factory=lambda: dict.fromkeys(RequestType, 0))
    drops: dict[DropReason, int] = field(default_factory=lambda: dict.fromkeys(DropReason, 0))
    received: int = 0
    replies: int = 0
    error_replies: int = 0
    oversized_replies: int = 0
    send_errors: int = 0
    internal_errors: int = 0

    def to_json(self) -> dict[str, JSON]:
        """The counters with Ganeti's names for request types (``PING``, ``NODE_DRBD``...)."""
        return {
            "received": self.received,
            "requests": {rtype.name: count for rtype, count in self.requests.items()},
            "drops": {reason.value: count for reason, count in self.drops.items()},
            "replies": self.replies,
            "errorReplies": self.error_replies,
            "oversizedReplies": self.oversized_replies,
            "sendErrors": self.send_errors,
            "internalErrors": self.internal_errors,
        }


REPLAY_WINDOW = 2 * 300.0
"""Seconds a request stays replayable: the timestamp check accepts ±300 s of skew."""
REPLAY_MEMORY = 200_000
"""Remembered rsalts at most (about 33 MB, whatever their length); beyond it the oldest
are forgotten."""


def rsalt_digest(rsalt: str) -> int:
    """A 64-bit digest of an rsalt: what the replay cache keeps instead of the rsalt.

    An rsalt may fill most of a 4 KB request, so keeping rsalts themselves cost up to
    4 KB per entry. A collision needs 2^32 requests signed with the key, and would
    only drop one request as a replay.
    """
    return int.from_bytes(hashlib.blake2b(rsalt.encode("utf-8"), digest_size=8).digest())


class ConfdServer(DatagramProtocol):
    """Answers confd requests from ``source``; one instance per listening port."""

    def __init__(self, source: Source, wall_clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.wall_clock = wall_clock
        self.counters = ConfdCounters()
        self._messages: dict[tuple[RequestType, Query], tuple[str, bool]] = {}
        self._cached_status: ConfigStatus | None = None
        self._last_drop_logged = -DROP_LOG_INTERVAL
        self._seen_rsalts: OrderedDict[int, float] = OrderedDict()

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:
        """Handle one datagram; whatever goes wrong is a counted drop, never a traceback.

        An exception escaping here would reach Twisted, which logs a traceback per
        datagram: a way for anyone to fill the disk.
        """
        self.counters.received += 1
        try:
            self._handle(datagram, addr)
        except Exception as exc:
            self._drop(DropReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", addr)

    def _handle(self, datagram: bytes, addr: Address) -> None:
        key = self.source.key
        if key is None:
            self._drop(DropReason.NO_KEY, "no HMAC key", addr)
            return
        try:
            request = decode_request(key, datagram, self.wall_clock())
        except ProtocolError as exc:
            self._drop(exc.reason, str(exc), addr)
            return
        if self._replayed(request.rsalt):
            self._drop(DropReason.REPLAY, f"rsalt {request.rsalt!r} seen before", addr)
            return
        self.counters.requests[request.type] += 1
        try:
            reply = self._reply(key, request)
        except Exception:
            self.counters.internal_errors += 1
            log.failure("confd: answering {type} failed", type=request.type.name)
            return
        try:
            assert self.transport is not None
            self.transport.write(reply, addr)
        except OSError as exc:
            self.counters.send_errors += 1
            log.warn("confd: reply to {addr} not sent: {exc}", addr=addr, exc=exc)
            return
        self.counters.replies += 1

    def _replayed(self, rsalt: str) -> bool:
        """Whether a signed request with this rsalt was answered within the replay window.

        The timestamp check alone lets a captured request (and its much larger reply,
        sent to a forged source address) be replayed for ten minutes. Genuine clients
        use a fresh UUID per request, so a repeated rsalt can only be a replay.
        """
        now = time.monotonic()
        seen = self._seen_rsalts
        while seen and (
            len(seen) >= REPLAY_MEMORY or now - next(iter(seen.values())) > REPLAY_WINDOW
        ):
            seen.popitem(last=False)
        digest = rsalt_digest(rsalt)
        if digest in seen:
            return True
        seen[digest] = now
        return False

    def _reply(self, key: bytes, request: Request) -> bytes:
        message, ok = self._message(request)
        if not ok:
            self.counters.error_replies += 1
        encoded = pack(key, request.rsalt, message)
        if len(encoded) > MAX_REPLY_SIZE:
            self.counters.oversized_replies += 1
            text = f"Reply too large for UDP ({len(encoded)} bytes)"
            log.warn("confd: {type}: {msg}", type=request.type.name, msg=text)
            encoded = encode_reply(key, request.rsalt, error(text))
        return encoded

    def _message(self, request: Request) -> tuple[str, bool]:
        """The inner reply text, cached per configuration: only the signature varies.

        Encoding a large answer (hundreds of DRBD minors) costs far more than the rest
        of the pipeline, and the same questions come back every few seconds.
        """
        status = self.source.status
        if status is not self._cached_status or len(self._messages) >= MESSAGE_CACHE_SIZE:
            self._messages.clear()
            self._cached_status = status
        cache_key = (request.type, request.query)
        cached = self._messages.get(cache_key)
        if cached is None:
            reply = answer(status, request)
            cached = self._messages[cache_key] = (reply_message(reply), reply.ok)
        return cached

    def _drop(self, reason: DropReason, message: str, addr: Address) -> None:
        """Count every drop; log one now and then, so a flood cannot fill the disk."""
        self.counters.drops[reason] += 1
        now = time.monotonic()
        if now - self._last_drop_logged < DROP_LOG_INTERVAL:
            return
        self._last_drop_logged = now
        log.info(
            "confd: dropped datagram from {addr}: {msg} ({total} dropped since start, "
            "at most one logged per {interval:g} s; the confd collector counts them)",
            addr=addr,
            msg=message[:DROP_LOG_LENGTH],
            total=sum(self.counters.drops.values()),
            interval=DROP_LOG_INTERVAL,
        )
