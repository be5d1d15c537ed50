"""The HTTP server side: a twisted.web Site with bounded requests and optional access log.

The API takes no request bodies, so a body beyond a small bound is refused before it
is buffered; header count and size are bounded below Twisted's defaults, idle
connections are dropped, and open connections are capped (further ones are closed at
once), so clients cannot pin memory or use up the file descriptors that collectors
need for /proc files and child processes.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.server import Request, Site

log = Logger(namespace="ganeti_agent.web")

MAX_BODY = 64 * 1024
MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024
IDLE_TIMEOUT = 60
#: Open HTTP connections at most; a handful of scrapers use a few each.
MAX_CONNECTIONS = 256
REFUSAL = b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


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
        transport = self.channel.transport if self.channel is not None else None
        if transport is not None:
            transport.write(REFUSAL)
            transport.loseConnection()


class BoundedChannel(http.HTTPChannel):
    """HTTPChannel with tighter header limits than Twisted's defaults (500, 16 KiB)."""

    maxHeaders = MAX_HEADERS
    totalHeadersSize = MAX_HEADER_BYTES
    site: AgentSite

    def connectionMade(self) -> None:
        self.site.open_connections += 1
        super().connectionMade()  # type: ignore[no-untyped-call]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.site.open_connections -= 1
        super().connectionLost(reason)  # type: ignore[no-untyped-call]


class AgentSite(Site):
    """The Site of the monitoring API; its access log goes through twisted.logger."""

    protocol = BoundedChannel  # type: ignore[assignment]
    requestFactory = BoundedRequest
    timeOut = IDLE_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def __init__(self, resource: Any, log_requests: bool) -> None:
        super().__init__(resource)  # type: ignore[no-untyped-call]
        self.log_requests = log_requests
        self.open_connections = 0
        self.refused_connections = 0

    def buildProtocol(self, addr: Any) -> Any:
        """A channel, or None (the connection is closed) when too many are open."""
        if self.open_connections >= self.max_connections:
            self.refused_connections += 1
            if self.refused_connections % 1000 == 1:
                log.warn(
                    "refusing HTTP connections: {open} open (limit {limit}), {refused} refused",
                    open=self.open_connections,
                    limit=self.max_connections,
                    refused=self.refused_connections,
                )
            return None
        return super().buildProtocol(addr)  # type: ignore[no-untyped-call]

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
