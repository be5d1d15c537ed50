"""The HTTP server side: a twisted.web Site with bounded requests and optional access log.

The API takes no request bodies, so a body beyond a small bound is refused before it
is buffered; header count and size are bounded below Twisted's defaults, a request
must arrive whole within a few seconds (a client trickling one byte at a time would
otherwise hold its connection forever), idle connections are dropped, and open
connections are capped (further ones are closed at once, on TCP and TLS alike), so
clients cannot pin memory or use up the file descriptors that collectors need for
/proc files and child processes. Refusals are counted and logged at most once a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from twisted.internet.interfaces import IAddress, IDelayedCall
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import IResource
from twisted.web.server import Request, Site

log = Logger(namespace="ganeti_agent.server.web")

MAX_BODY = 64 * 1024
MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024
IDLE_TIMEOUT = 60
#: Seconds from a request's first byte to its last (request line, headers, body).
REQUEST_TIMEOUT = 10.0
#: Seconds a closed slow client gets to read the 408 before its connection is aborted.
ABORT_AFTER = 5.0
#: Open HTTP connections at most; a handful of scrapers use a few each.
MAX_CONNECTIONS = 256
#: Seconds between two log lines about refused or timed-out clients (all are counted).
REFUSAL_LOG_INTERVAL = 60.0
TOO_LARGE = b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
TOO_SLOW = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class RateLimitedLog:
    """Counts events and logs the count at most once per ``interval`` seconds.

    A flood of hostile connections then costs one log line a minute, not one each.
    """

    def __init__(
        self,
        message: str,
        interval: float = REFUSAL_LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.message = message
        self.interval = interval
        self.clock = clock
        self.count = 0
        self._last_logged: float | None = None

    def record(self, **fields: object) -> None:
        self.count += 1
        now = self.clock()
        if self._last_logged is not None and now - self._last_logged < self.interval:
            return
        self._last_logged = now
        log.warn(
            self.message + " ({count} since start, at most one line per {interval:g} s)",
            count=self.count,
            interval=self.interval,
            **fields,
        )


class BoundedRequest(Request):
    """A request that refuses bodies larger than :data:`MAX_BODY`, declared or chunked."""

    received = 0
    refused = False

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > MAX_BODY:
            self._refuse()
            return
        super().gotLength(length)  # type: ignore[no-untyped-call]

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.received += len(data)
        if self.received > MAX_BODY:
            self._refuse()
            return
        super().handleContentChunk(data)  # type: ignore[no-untyped-call]

    def _refuse(self) -> None:
        self.refused = True
        self.content = None
        if isinstance(self.channel, BoundedChannel):
            self.channel.close_with(TOO_LARGE)

    def _handleStar(self) -> None:
        """``OPTIONS *`` (or ``GET *``) is answered by the resource like any other path.

        Twisted's own answer, an empty 200 to OPTIONS, would make the agent look as if
        it supported a method that every other path refuses with 405.
        """
        try:
            resource = self.site.getResourceFor(self)  # type: ignore[union-attr]
            self.render(resource)  # type: ignore[no-untyped-call]
        except BaseException:
            self.processingFailed(Failure())  # type: ignore[no-untyped-call]


class BoundedChannel(http.HTTPChannel):
    """HTTPChannel with tighter header limits than Twisted's defaults (500, 16 KiB),
    a deadline for each request to arrive whole, and a clean stop after a refusal."""

    maxHeaders = MAX_HEADERS
    totalHeadersSize = MAX_HEADER_BYTES
    site: AgentSite
    closing = False
    _request_deadline: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self.site.open_connections += 1
        super().connectionMade()  # type: ignore[no-untyped-call]

    def dataReceived(self, data: bytes) -> None:
        if self.closing:
            return
        if self._request_deadline is None and not self._handlingRequest:
            self._request_deadline = self.callLater(  # type: ignore[no-untyped-call]
                self.site.request_timeout, self._request_too_slow
            )
        super().dataReceived(data)  # type: ignore[no-untyped-call]

    def allContentReceived(self) -> None:
        """The request is whole: stop its deadline, unless it was refused (then drop it)."""
        self._cancel_deadline()
        if self.closing:
            return
        super().allContentReceived()  # type: ignore[no-untyped-call]

    def _request_too_slow(self) -> None:
        self._request_deadline = None
        self.site.slow_clients.record(limit=self.site.request_timeout)
        self.close_with(TOO_SLOW)

    def close_with(self, answer: bytes) -> None:
        """Send a final short answer, ignore whatever else arrives, and close.

        A client that does not read the answer is cut off :data:`ABORT_AFTER` seconds later.
        """
        self._cancel_deadline()
        if self.closing or self.transport is None:
            return
        self.closing = True
        self.setTimeout(None)  # type: ignore[no-untyped-call]
        self.transport.write(answer)
        self.loseConnection()  # type: ignore[no-untyped-call]
        abort = self.transport.abortConnection  # type: ignore[attr-defined]
        self._abortingCall = self.callLater(ABORT_AFTER, abort)  # type: ignore[no-untyped-call]

    def _cancel_deadline(self) -> None:
        if self._request_deadline is not None:
            if self._request_deadline.active():
                self._request_deadline.cancel()
            self._request_deadline = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.site.open_connections -= 1
        self._cancel_deadline()
        super().connectionLost(reason)  # type: ignore[no-untyped-call]


class RefusedConnection(Protocol):
    """What a connection over the cap gets: closed at once, without a word.

    A factory that returned None instead would work for plain TCP only: TLS wraps the
    factory and fails (with tracebacks) on a None protocol.
    """

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.loseConnection()


class AgentSite(Site):
    """The Site of the monitoring API; its access log goes through twisted.logger."""

    protocol = BoundedChannel  # type: ignore[assignment]
    requestFactory = BoundedRequest
    timeOut = IDLE_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def __init__(
        self, resource: IResource, log_requests: bool, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        super().__init__(resource)  # type: ignore[no-untyped-call]
        self.log_requests = log_requests
        self.request_timeout = request_timeout
        self.open_connections = 0
        self.refusals = RateLimitedLog("refusing HTTP connections: {open} open (limit {limit})")
        self.slow_clients = RateLimitedLog(
            "closed HTTP connections whose request did not arrive whole within {limit:g} s"
        )

    # Not always an HTTP channel, as HTTPFactory declares: a refusal is a plain Protocol.
    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:  # type: ignore[override]
        """A channel, or a protocol that closes the connection when too many are open."""
        if self.open_connections >= self.max_connections:
            self.refusals.record(open=self.open_connections, limit=self.max_connections)
            refused = RefusedConnection()
            refused.factory = self
            return refused
        channel: Protocol | None = super().buildProtocol(addr)  # type: ignore[no-untyped-call]
        return channel

    def log(self, request: Request) -> None:  # type: ignore[override]
        if self.log_requests:
            address = request.getClientAddress()
            log.info(
                '{client} "{method} {uri}" {code} {length}',
                client=getattr(address, "host", "-"),
                method=request.method.decode("ascii", "replace"),
                uri=request.uri.decode("ascii", "replace"),
                code=request.code,
                length=request.sentLength,
            )
