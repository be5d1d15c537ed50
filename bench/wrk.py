"""Run wrk (or, without it, :mod:`bench.loadgen` in a second process) and parse its figures.

A generated Lua script prints one JSON line with exact p50/p99 from wrk's histogram and,
when asked, stops each thread after a number of responses (for "after N requests").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MARKER = "BENCH-JSON "

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"socket_errors":%d,'
    .. '"p50_us":%d,"p99_us":%d,"max_us":%d}\\n',
    "BENCH-JSON ", summary.requests, summary.duration, summary.bytes, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""

_LIMIT = """
local limit = {limit}
local seen = 0
response = function(status, headers, body)
  seen = seen + 1
  if seen >= limit then wrk.thread:stop() end
end
"""


@dataclass(frozen=True)
class HttpFigures:
    """Result of one load run."""

    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    bytes_per_response: float
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _figures(data: dict[str, int], tool: str) -> HttpFigures:
    requests = max(data["requests"], 0)
    return HttpFigures(
        requests=requests,
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["socket_errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        bytes_per_response=data["bytes"] / requests if requests else 0.0,
        tool=tool,
    )


def run_wrk(
    port: int, path: str, connections: int, seconds: float, max_requests: int = 0
) -> HttpFigures:
    """wrk with one thread against 127.0.0.1:port (one core for wrk, the rest for servers)."""
    script = _DONE + (_LIMIT.format(limit=max_requests) if max_requests else "")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    try:
        completed = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
             "-s", script_path, f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        )  # fmt: skip
    finally:
        Path(script_path).unlink(missing_ok=True)
    for line in completed.stdout.splitlines():
        if line.startswith(MARKER):
            return _figures(json.loads(line[len(MARKER) :]), "wrk")
    raise RuntimeError(f"wrk printed no figures: {completed.stdout!r} {completed.stderr!r}")


def run_loadgen(
    port: int, path: str, connections: int, seconds: float, max_requests: int = 0
) -> HttpFigures:
    """The Python generator in a child process (less precise; used without wrk)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "127.0.0.1", str(port), path,
         "-c", str(connections), "-d", str(seconds), "-n", str(max_requests)],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    return _figures(json.loads(completed.stdout.strip().splitlines()[-1]), "bench.loadgen")


def load(
    port: int, path: str, connections: int, seconds: float, max_requests: int = 0
) -> HttpFigures:
    """HTTP load with the best generator available."""
    runner = run_wrk if have_wrk() else run_loadgen
    return runner(port, path, connections, seconds, max_requests)
