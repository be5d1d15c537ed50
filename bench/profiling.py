"""Where the agent spends its time on the hot path: py-spy on the running process.

py-spy (``pip install py-spy``) samples the agent from outside while wrk loads one
route; the table lists the functions with the most samples, self and inclusive, so a
finding names a line of code rather than a guess.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench.results import Table, note_table
from bench.wrk import load

TOP = 12


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def _aggregate(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Total samples, and samples per function as leaf (self) and anywhere (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, own, inclusive


def profile_route(pid: int, port: int, route: str, seconds: float) -> Table:
    """py-spy record for ``seconds`` while wrk loads ``route`` with 16 connections."""
    title = f"Profile: {route} under load (py-spy, 16 connections)"
    spy = py_spy()
    if spy is None:
        return note_table(title, "py-spy not installed (.venv/bin/pip install py-spy)")
    with tempfile.TemporaryDirectory() as work:
        raw = Path(work) / "profile.txt"
        recorder = subprocess.Popen(
            [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "250",
             "-f", "raw", "-o", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        loader = threading.Thread(target=load, args=(port, route, 16, seconds))
        loader.start()
        loader.join()
        recorder.wait(seconds + 30)
        if not raw.exists():
            return note_table(title, f"py-spy wrote no profile (exit {recorder.returncode})")
        total, own, inclusive = _aggregate(raw)
    table = Table(title, ["share of samples", "kind", "function (file:line)"])
    for kind, counter in (("self", own), ("inclusive", inclusive)):
        interesting = [
            (frame, count)
            for frame, count in counter.most_common()
            if kind == "self" or "ganeti_agent" in frame or "klein" in frame
        ][:TOP]
        for frame, count in interesting:
            table.rows.append([f"{100 * count / total:.1f}%", kind, frame])
            table.records.append({"kind": kind, "frame": frame, "samples": count})
    table.notes.append(f"{total:,} samples; inclusive rows list ganeti_agent and klein frames only")
    return table
