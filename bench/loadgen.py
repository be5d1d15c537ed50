"""A small keep-alive HTTP load generator and a confd UDP pinger, both on asyncio.

wrk (Debian package ``wrk``) is the suite's HTTP load generator because it costs far
less CPU per request than any Python client; this module is the fallback when wrk is
missing, and the steady, rate-limited load of the soak. Run it in its own process
(``python -m bench.loadgen``) so it does not share a core's GIL with what it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

MAX_SAMPLES = 200_000


@dataclass
class LoadResult:
    """What a run did: the same keys as the wrk wrapper returns."""

    requests: int = 0
    duration_us: int = 0
    bytes: int = 0
    non2xx: int = 0
    socket_errors: int = 0
    p50_us: int = 0
    p99_us: int = 0
    max_us: int = 0
    latencies_us: list[int] = field(default_factory=list, repr=False)

    def finish(self, seconds: float) -> LoadResult:
        self.duration_us = int(seconds * 1_000_000)
        ordered = sorted(self.latencies_us)
        if ordered:
            self.p50_us = ordered[len(ordered) // 2]
            self.p99_us = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            self.max_us = ordered[-1]
        return self

    def summary(self) -> dict[str, int]:
        data = asdict(self)
        del data["latencies_us"]
        return data


async def _read_chunked(reader: asyncio.StreamReader) -> int:
    """Bytes of a chunked body, read to its last chunk and trailer."""
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        total += len(size_line)
        if size == 0:
            total += len(await reader.readuntil(b"\r\n"))
            return total
        total += len(await reader.readexactly(size + 2))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Status and byte count of one HTTP/1.1 response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        return status, len(head) + await _read_chunked(reader)
    body = await reader.readexactly(length) if length else b""
    return status, len(head) + len(body)


class _Pacer:
    """Spaces request starts ``1/rate`` seconds apart across all connections (0: flat out)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_start = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        self.next_start = max(self.next_start + self.interval, now)
        await asyncio.sleep(self.next_start - now)


async def _connection(
    host: str, port: int, request: bytes, stop: Callable[[], bool], pacer: _Pacer, out: LoadResult
) -> None:
    """One keep-alive connection sending requests until ``stop()``; reconnects after errors."""
    while not stop():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            out.socket_errors += 1
            await asyncio.sleep(0.1)
            continue
        try:
            while not stop():
                await pacer.wait()
                started = time.perf_counter()
                writer.write(request)
                status, size = await _read_response(reader)
                out.requests += 1
                out.bytes += size
                if not 200 <= status < 300:
                    out.non2xx += 1
                if len(out.latencies_us) < MAX_SAMPLES:
                    out.latencies_us.append(int((time.perf_counter() - started) * 1_000_000))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            out.socket_errors += 1
        finally:
            writer.close()


async def http_load(
    host: str,
    port: int,
    path: str,
    connections: int,
    duration: float,
    max_requests: int = 0,
    rate: float = 0.0,
    out: LoadResult | None = None,
) -> LoadResult:
    """Load ``path`` over ``connections`` keep-alive connections for ``duration`` seconds.

    Stops early after ``max_requests`` (0: no limit); ``rate`` caps requests per second.
    ``out``, when given, is updated as requests complete, for live progress.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    out = out if out is not None else LoadResult()
    started = time.monotonic()

    def stop() -> bool:
        over = time.monotonic() - started >= duration
        return over or (max_requests > 0 and out.requests >= max_requests)

    pacer = _Pacer(rate)
    tasks = [_connection(host, port, request, stop, pacer, out) for _ in range(connections)]
    await asyncio.gather(*tasks)
    return out.finish(time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Keep-alive HTTP load; prints one JSON line.")
    parser.add_argument("url_host")
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("-c", "--connections", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=5.0)
    parser.add_argument("-n", "--max-requests", type=int, default=0)
    parser.add_argument("-r", "--rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    result = asyncio.run(
        http_load(
            args.url_host,
            args.port,
            args.path,
            args.connections,
            args.duration,
            args.max_requests,
            args.rate,
        )
    )
    print(json.dumps(result.summary()))


if __name__ == "__main__":
    main()
