"""Soak: the agent under steady HTTP and confd load, watched for growth.

``python -m bench.soak [--duration 600]`` starts a real ``twistd -n ganeti-agent`` on
127.0.0.1 (free ports, a private data directory with a generated 100-instance
``config.data`` and a key), loads it at a fixed rate over keep-alive HTTP connections
(``/1/report/all``, a single report, the listing) and with signed confd PING and
NODE_DRBD requests, and samples its resident memory, open descriptors and child
processes every ``--interval`` seconds. It prints the samples and a verdict against
the bounds of :class:`Bounds`; ``tests/soak/test_soak.py`` runs a short version.

Growth is measured from the first sample after ``--warmup`` (imports, caches and the
first collector runs are done by then) to the end, so the bound catches leaks rather
than start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import LoadResult, http_load
from bench.processes import AgentProcess, start_agent
from bench.procinfo import alive, descendants, open_fds, rss_kib

TEST_KEY = b"0123456789abcdef0123456789abcdef01234567\n"
ROUTES = ("/1/report/all", "/1/report/default/cpu-avg-load", "/1/list/collectors")


@dataclass(frozen=True)
class Bounds:
    """What the soak tolerates; stated in docs/benchmarks.md and in the soak test."""

    rss_growth_mib: float = 8.0
    fd_growth: int = 4
    max_children: int = 4
    min_confd_reply_ratio: float = 0.95
    max_http_errors: int = 0


@dataclass
class Sample:
    seconds: float
    rss_mib: float
    fds: int
    children: int
    http_requests: int
    confd_replies: int


@dataclass
class ConfdLoad:
    """Signed requests sent and verified replies received."""

    sent: int = 0
    replies: int = 0
    bad: int = 0
    pending: set[str] = field(default_factory=set)


@dataclass
class SoakResult:
    samples: list[Sample]
    http: dict[str, int]
    confd: dict[str, int] | None
    zombies: int
    children_at_end: int
    failures: list[str]
    bounds: Bounds

    @property
    def ok(self) -> bool:
        return not self.failures


def make_data_dir(home: Path, hostname: str) -> Path | None:
    """A data directory with a 100-instance config.data and the test key, or None.

    The config is grown from Ganeti's sample (shared fixtures); without it the agent
    runs without a cluster configuration and the soak loads HTTP alone.
    """
    from bench.clusters import SAMPLE, write_config

    if not SAMPLE.exists():
        return None
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    write_config(data / "config.data", 100)
    key = data / "hmac.key"
    key.write_bytes(TEST_KEY)
    key.chmod(0o400)
    (data / "ssconf_master_candidates_ips").write_text("127.0.0.1\n")
    return data


class _ConfdClient(asyncio.DatagramProtocol):
    """Counts verified replies to the requests ``ConfdLoad.pending`` remembers."""

    def __init__(self, state: ConfdLoad) -> None:
        self.state = state

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        from ganeti_agent.confd.protocol import ProtocolError, decode_reply

        try:
            rsalt, _reply = decode_reply(TEST_KEY, data)
        except (ProtocolError, ValueError):
            self.state.bad += 1
            return
        if rsalt in self.state.pending:
            self.state.pending.discard(rsalt)
            self.state.replies += 1


async def confd_load(port: int, rate: float, stop_at: float, node: str, state: ConfdLoad) -> None:
    """PING and NODE_DRBD alternately at ``rate`` per second until ``stop_at``."""
    from ganeti_agent.confd.constants import RequestType
    from ganeti_agent.confd.protocol import encode_request

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _ConfdClient(state), remote_addr=("127.0.0.1", port)
    )
    try:
        while time.monotonic() < stop_at:
            number = state.sent
            kind, query = (
                (RequestType.PING, None) if number % 2 == 0 else (RequestType.NODE_DRBD, node)
            )
            rsalt = f"soak-{number}"
            state.pending.add(rsalt)
            transport.sendto(encode_request(TEST_KEY, kind, query, rsalt, time.time()))
            state.sent += 1
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(1.0)  # late replies
    finally:
        transport.close()


def sample(pid: int, started: float, http: list[LoadResult], confd: ConfdLoad) -> Sample:
    return Sample(
        seconds=round(time.monotonic() - started, 1),
        rss_mib=rss_kib(pid) / 1024,
        fds=open_fds(pid),
        children=len(descendants(pid)),
        http_requests=sum(r.requests for r in http),
        confd_replies=confd.replies,
    )


async def _sampler(
    pid: int, started: float, stop_at: float, interval: float, out: list[Sample],
    http: list[LoadResult], confd: ConfdLoad, verbose: bool,
) -> None:  # fmt: skip
    while time.monotonic() < stop_at:
        current = sample(pid, started, http, confd)
        out.append(current)
        if verbose:
            print(json.dumps(asdict(current)), flush=True)
        await asyncio.sleep(min(interval, max(0.0, stop_at - time.monotonic())))


async def _drive(
    agent: AgentProcess, duration: float, interval: float, http_rate: float,
    confd_rate: float, node: str, verbose: bool,
) -> tuple[list[Sample], list[LoadResult], ConfdLoad]:  # fmt: skip
    started = time.monotonic()
    stop_at = started + duration
    http: list[LoadResult] = []
    confd = ConfdLoad()
    samples: list[Sample] = []

    rate = http_rate / len(ROUTES)
    http.extend(LoadResult() for _ in ROUTES)
    tasks: list[Coroutine[Any, Any, object]] = [
        http_load("127.0.0.1", agent.port, route, 2, duration, 0, rate, out)
        for route, out in zip(ROUTES, http, strict=True)
    ]
    if agent.confd_port is not None and confd_rate > 0:
        tasks.append(confd_load(agent.confd_port, confd_rate, stop_at, node, confd))
    sampler = _sampler(agent.pid, started, stop_at, interval, samples, http, confd, verbose)
    await asyncio.gather(sampler, *tasks)
    samples.append(sample(agent.pid, started, http, confd))
    return samples, http, confd


def _judge(
    samples: list[Sample], http: list[LoadResult], confd: ConfdLoad | None, pid: int,
    warmup: float, bounds: Bounds,
) -> tuple[list[str], int, int]:  # fmt: skip
    """Failures against the bounds, zombie children and children left at the end."""
    failures: list[str] = []
    base = next((s for s in samples if s.seconds >= warmup), samples[0])
    end = samples[-1]
    growth = end.rss_mib - base.rss_mib
    if growth > bounds.rss_growth_mib:
        failures.append(f"RSS grew {growth:.1f} MiB after warm-up (bound {bounds.rss_growth_mib})")
    if end.fds - base.fds > bounds.fd_growth:
        failures.append(f"open fds grew from {base.fds} to {end.fds} (bound +{bounds.fd_growth})")
    most = max(s.children for s in samples)
    if most > bounds.max_children:
        failures.append(f"{most} child processes at once (bound {bounds.max_children})")
    errors = sum(r.non2xx + r.socket_errors for r in http)
    if errors > bounds.max_http_errors:
        failures.append(f"{errors} HTTP errors (bound {bounds.max_http_errors})")
    if sum(r.requests for r in http) == 0:
        failures.append("no HTTP request was answered")
    if confd is not None and confd.sent:
        ratio = confd.replies / confd.sent
        if ratio < bounds.min_confd_reply_ratio:
            failures.append(
                f"confd answered {confd.replies}/{confd.sent} (bound "
                f"{bounds.min_confd_reply_ratio:.0%})"
            )
    time.sleep(2)  # a collector's child started just now may finish
    left = descendants(pid)
    zombies = sum(1 for child in left if not alive(child))
    if zombies:
        failures.append(f"{zombies} zombie child processes at the end")
    return failures, zombies, len(left)


def run_soak(
    duration: float = 600.0, interval: float = 10.0, http_rate: float = 300.0,
    confd_rate: float = 100.0, warmup: float = 5.0, bounds: Bounds | None = None,
    verbose: bool = False, home: Path | None = None,
) -> SoakResult:  # fmt: skip
    """Start the agent, load it for ``duration`` seconds, judge it, stop it."""
    bounds = bounds or Bounds()
    with tempfile.TemporaryDirectory(prefix="ganeti-agent-soak-") as temporary:
        work = home or Path(temporary)
        hostname = socket.gethostname()
        data = make_data_dir(work, hostname)
        extra = ("--data-dir", str(data)) if data is not None else ()
        agent = start_agent(work / "agent", work / "root", "", confd=data is not None,
                            extra_args=extra)  # fmt: skip
        try:
            node = _drbd_node(data)
            samples, http, confd = asyncio.run(
                _drive(agent, duration, interval, http_rate, confd_rate, node, verbose)
            )
            used_confd = confd if agent.confd_port is not None else None
            failures, zombies, left = _judge(samples, http, used_confd, agent.pid, warmup, bounds)
            if agent.process.poll() is not None:
                failures.append(f"agent exited with status {agent.process.returncode}")
        finally:
            agent.stop()
    http_summary = {
        "requests": sum(r.requests for r in http),
        "non2xx": sum(r.non2xx for r in http),
        "socket_errors": sum(r.socket_errors for r in http),
        "p99_us": max(r.p99_us for r in http),
    }
    confd_summary = (
        {"sent": confd.sent, "replies": confd.replies, "bad": confd.bad}
        if agent.confd_port is not None
        else None
    )
    return SoakResult(samples, http_summary, confd_summary, zombies, left, failures, bounds)


def _drbd_node(data: Path | None) -> str:
    if data is None:
        return socket.gethostname()
    from bench.clusters import busiest_node

    return busiest_node(data / "config.data")


def render(result: SoakResult) -> str:
    lines = ["seconds  rss MiB  fds  children  http requests  confd replies"]
    for s in result.samples:
        lines.append(
            f"{s.seconds:7.1f}  {s.rss_mib:7.1f}  {s.fds:3d}  {s.children:8d}  "
            f"{s.http_requests:13,d}  {s.confd_replies:13,d}"
        )
    lines.append(f"http: {result.http}")
    lines.append(f"confd: {result.confd if result.confd is not None else 'not run'}")
    lines.append(f"children left at the end: {result.children_at_end}, zombies {result.zombies}")
    lines.append(f"bounds: {asdict(result.bounds)}")
    verdict = "PASS" if result.ok else "FAIL: " + "; ".join(result.failures)
    lines.append(verdict)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (600)")
    parser.add_argument("--interval", type=float, default=10.0, help="sample period (10 s)")
    parser.add_argument("--http-rate", type=float, default=300.0, help="requests/s (300)")
    parser.add_argument("--confd-rate", type=float, default=100.0, help="requests/s (100)")
    parser.add_argument("--warmup", type=float, default=30.0, help="growth baseline (30 s)")
    parser.add_argument("--json", type=Path, help="also write the samples and verdict here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print samples as taken")
    args = parser.parse_args(argv)
    result = run_soak(args.duration, args.interval, args.http_rate, args.confd_rate,
                      args.warmup, verbose=args.verbose)  # fmt: skip
    print(render(result))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result) | {"ok": result.ok}, indent=1) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
