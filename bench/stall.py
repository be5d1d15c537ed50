"""How long the reactor stops answering while a large config.data loads.

Each measurement runs in a fresh Python process (so its peak resident set is the
load's and nothing else's): a heartbeat ``LoopingCall`` ticks every millisecond on
the real reactor, a ``ConfigSource`` loads a generated configuration, and the
longest gap between two ticks is the longest time nothing else (an HTTP request, a
confd datagram) could have been served. "at once" is the loader as it was before
stepwise parsing (one ``parse_config`` call); "in steps" is what the agent does.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.clusters import write_config
from bench.results import Table, fmt

SIZES = (10_000, 20_000)
QUICK_SIZES = (10_000,)
MODES = ("at once", "in steps")
HEARTBEAT = 0.001
WARM_UP = 0.2


def _child(path: Path, mode: str) -> dict[str, Any]:
    """In the child process: load ``path`` once under a heartbeat; the figures."""
    from twisted.internet import reactor
    from twisted.internet.task import LoopingCall

    from ganeti_agent.confd.source import ConfigSource

    source = ConfigSource(str(path), str(path.with_name("hmac.key")), reactor, use_inotify=False)
    if mode == "at once":
        source.inline_size = sys.maxsize
    gaps = {"longest": 0.0, "last": time.perf_counter()}
    started: dict[str, float] = {}

    def beat() -> None:
        now = time.perf_counter()
        gaps["longest"] = max(gaps["longest"], now - gaps["last"])
        gaps["last"] = now
        if started and source.loads + source.load_failures:
            started.setdefault("done", now)
            heartbeat.stop()
            reactor.stop()

    def begin() -> None:
        gaps["longest"] = 0.0
        started["at"] = time.perf_counter()
        source.startService()

    heartbeat = LoopingCall(beat)
    heartbeat.start(HEARTBEAT)
    reactor.callLater(WARM_UP, begin)
    reactor.run()
    source.stopService()
    return {
        "stall_s": gaps["longest"],
        "load_s": started["done"] - started["at"],
        "loaded": source.loads == 1,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(path: Path, mode: str) -> dict[str, Any]:
    """One measurement in a fresh interpreter."""
    command = [sys.executable, "-m", "bench.stall", "--child", str(path), mode]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.splitlines()[-1])
    return result


def stall_table(quick: bool) -> Table:
    """Longest reactor stall and peak RSS while loading 10k and 20k instances."""
    columns = ["instances", "file", "loader", "longest stall", "load time", "peak RSS"]
    table = Table("Reactor stall while config.data loads (fresh process each)", columns)
    with tempfile.TemporaryDirectory() as work:
        for instances in QUICK_SIZES if quick else SIZES:
            path = Path(work) / "config.data"
            size = write_config(path, instances)
            for mode in MODES:
                result = measure(path, mode)
                table.rows.append(
                    [f"{instances:,}", f"{size / 1e6:.1f} MB", mode,
                     fmt(result["stall_s"] * 1000, "ms"), fmt(result["load_s"], "s"),
                     fmt(result["peak_rss_mib"], "MiB")]
                )  # fmt: skip
                record = {"instances": instances, "bytes": size, "mode": mode}
                table.records.append({**record, **result})
    table.notes.append(
        f"Heartbeat every {HEARTBEAT * 1000:g} ms on the reactor; the stall is the longest gap "
        "between two beats from the start of the load to its end (read, parse, indexes)."
    )
    table.notes.append("'at once' is the loader before stepwise parsing, for comparison.")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stall", description=__doc__)
    parser.add_argument("--child", nargs=2, metavar=("PATH", "MODE"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(Path(args.child[0]), args.child[1])))
        return 0
    table = stall_table(args.quick)
    for row in table.rows:
        print("  ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
