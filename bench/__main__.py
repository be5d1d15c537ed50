"""``python -m bench`` (``make bench``): run the suite, print the table, write the results.

Order matters: footprints are taken right after start-up and in a shared idle window
before any load; the HTTP part follows, then the memory after >= 100,000 requests; the
daemons are stopped before the in-process scale part and other engineers' benchmarks,
so nothing measured competes with a leftover process for the machine's cores.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench import confd_bench, footprint, hroller, htools, http_bench, profiling, scale, stall
from bench.machine import describe
from bench.processes import (
    INACTIVE_FOR_MOND,
    AgentProcess,
    RealGaneti,
    agent_has_confd,
    ganeti_installed,
    ganeti_version,
    make_root,
    start_agent,
)
from bench.results import (
    NOT_INSTALLED,
    Row,
    Table,
    comparison_table,
    note_table,
    render_text,
    write_results,
)
from bench.wrk import have_wrk, load

PARTS = ("http", "memory", "cpu", "confd", "scale", "stall", "htools", "hroller", "profile")
SAME = "agent (same set)"
DEFAULT = "agent (default)"
REAL = "real mond"
MEMORY_REQUESTS = 100_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (about 3 minutes)")
    parser.add_argument(
        "--only", default=",".join(p for p in PARTS if p != "profile"),
        help=f"comma-separated parts out of {','.join(PARTS)} (default: all but profile)",
    )  # fmt: skip
    parser.add_argument("--no-real", action="store_true", help="do not start Ganeti's daemons")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--seconds", type=float, help="duration of each HTTP run")
    parser.add_argument("--idle-seconds", type=float, help="idle window of the CPU part")
    return parser.parse_args(argv)


class Suite:
    """The processes of one run and the tables they produced."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.parts = set(args.only.split(","))
        self.tables: list[Table] = []
        self.requests: Counter[str] = Counter()
        self.real: RealGaneti | None = None
        self.real_missing = NOT_INSTALLED if not args.no_real else "not started (--no-real)"
        self.same: AgentProcess | None = None
        self.default: AgentProcess | None = None
        self.rss_start: dict[str, float] = {}
        self.real_note = ""

    @property
    def http_seconds(self) -> float:
        return float(self.args.seconds or (3 if self.args.quick else 10))

    def log(self, message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    def start(self) -> None:
        """The two agents and, when installed, mond and confd on the like-for-like root."""
        why = None if not self.args.no_real else self.real_missing
        why = why or ganeti_installed()
        same_root: Path | None = None
        default_root: Path | None = None
        if why is None:
            same_root = self.work / "same" / "root"
            make_root(same_root, INACTIVE_FOR_MOND)
            default_root = self.work / "default" / "root"
            make_root(default_root)
            self.real = RealGaneti(same_root)
            try:
                self.log("starting ganeti-confd and ganeti-mond")
                self.real.start()
            except (RuntimeError, OSError) as exc:
                self.real.stop()
                self.real, why = None, f"failed to start: {exc}"
        if why is not None:
            self.real_missing = why if why == NOT_INSTALLED else "not running"
            self.real_note = f"real daemons not measured: {why}"
            self.log(f"real daemons: {why}")
        self.log("starting ganeti-agent twice (same set, default)")
        self.same = start_agent(self.work / "agent-same", same_root, http_bench.SAME_SET_CONFIG)
        self.default = start_agent(self.work / "agent-default", default_root, "", confd=True)

    def stop(self) -> None:
        for process in (self.same, self.default, self.real):
            if process is not None:
                process.stop()
        self.same = self.default = self.real = None

    def real_pids(self) -> list[int] | None:
        return self.real.pids() if self.real is not None else None

    def add(self, table: Table) -> None:
        """Keep a table, saying why the real side is missing when it is."""
        if self.real_note and any(self.real_missing in row for row in table.rows):
            table.notes.append(self.real_note)
        self.tables.append(table)

    def footprint_at_start(self) -> None:
        assert self.default is not None
        self.rss_start[DEFAULT] = footprint.total_rss_mib([self.default.pid])
        real = self.real_pids()
        if real:
            self.rss_start[REAL] = footprint.total_rss_mib(real)

    def cpu_part(self) -> None:
        assert self.default is not None and self.same is not None
        seconds = self.args.idle_seconds or (10 if self.args.quick else 60)
        self.log(f"idle CPU over {seconds:g} s")
        groups = {DEFAULT: [self.default.pid], SAME: [self.same.pid]}
        real = self.real_pids()
        if real:
            groups[REAL] = real
        used = footprint.idle_cpu(groups, seconds)
        rows = [
            Row(f"idle CPU, {label}", used[label], used.get(REAL, self.real_missing),
                "CPU s/min", higher_is_better=False)
            for label in (DEFAULT, SAME)
        ]  # fmt: skip
        note = f"{seconds:g} s idle window shared by all processes; real = mond + confd"
        self.add(comparison_table("CPU while idle (default intervals)", rows, [note]))

    def http_part(self) -> None:
        assert self.default is not None and self.same is not None
        self.log(f"HTTP runs of {self.http_seconds:g} s ({'wrk' if have_wrk() else 'loadgen'})")
        real_port = self.real.mond_port if self.real is not None else None
        targets = [
            http_bench.Target(SAME, self.same.port),
            http_bench.Target(DEFAULT, self.default.port),
            http_bench.Target(REAL, real_port, self.real_missing),
        ]
        table = http_bench.run(targets, self.http_seconds, self._count, (SAME, REAL))
        for target in targets:
            if target.port is not None:
                table.notes.append(f"{target.label} serves: {http_bench.served(target.port)}")
        self.add(table)

    def _count(self, label: str, requests: int) -> None:
        self.requests[label] += requests

    def _top_up(self, label: str, port: int) -> None:
        """Load ``/1/report/all`` until the process has answered 100,000 requests."""
        for _ in range(60):
            if self.requests[label] >= MEMORY_REQUESTS:
                return
            self.requests[label] += load(port, "/1/report/all", 16, 5).requests

    def memory_part(self) -> None:
        assert self.default is not None
        self.log("memory after >= 100,000 requests")
        self._top_up(DEFAULT, self.default.port)
        if self.real is not None:
            self._top_up(REAL, self.real.mond_port)
        real_after = self.real_pids()
        rows = [
            Row("RSS after start", self.rss_start[DEFAULT], self.rss_start.get(REAL,
                self.real_missing), "MiB", higher_is_better=False),
            footprint.memory_row(
                f"RSS after {self.requests[DEFAULT]:,} HTTP requests (real: "
                f"{self.requests[REAL]:,})", self.default.pid, real_after, self.real_missing),
        ]  # fmt: skip
        confd = "with confd" if agent_has_confd() else "confd not yet in this agent"
        notes = [
            f"agent: one process ({confd}, default collectors, HTTP); real: ganeti-mond + "
            "ganeti-confd resident sets summed; children of each included",
        ]
        self.add(comparison_table("Memory (resident set)", rows, notes))

    def profile_part(self) -> None:
        assert self.default is not None
        seconds = 5 if self.args.quick else 15
        for route in http_bench.ROUTES:
            self.log(f"profiling {route}")
            self.tables.append(profiling.profile_route(self.default.pid, self.default.port,
                                                       route, seconds))  # fmt: skip

    def run(self) -> None:
        needs_processes = self.parts & {"http", "memory", "cpu", "profile"}
        if needs_processes:
            self.start()
            try:
                self._run_with_processes()
            finally:
                self.stop()
        self._run_in_process()

    def _run_with_processes(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("memory", self.footprint_at_start), ("cpu", self.cpu_part),
            ("http", self.http_part), ("memory", self.memory_part),
            ("profile", self.profile_part),
        ]  # fmt: skip
        for part, step in steps:
            if part in self.parts:
                self._guarded(part, step)

    def _run_in_process(self) -> None:
        quick = self.args.quick
        if "confd" in self.parts:
            self.log("confd (bench/confd.py)")
            self.tables.append(confd_bench.confd_table(quick))
        if "scale" in self.parts:
            self.log("scale: config.data, LVs, DRBD minors")
            self._guarded("scale", lambda: self.tables.append(scale.config_table(quick)))
            self.tables.append(scale.storage_table(quick))
        if "stall" in self.parts:
            self.log("stall: the reactor while a large config.data loads")
            self._guarded("stall", lambda: self.tables.append(stall.stall_table(quick)))
        if "htools" in self.parts:
            counts = [10, 20] if quick else [10, 20, 40]
            self.log(f"htools: hspace on {counts} simulated nodes (bench/htools.py)")
            self._guarded("htools", lambda: self.tables.append(htools.htools_table(counts)))
            self._guarded("htools", lambda: self.tables.append(htools.tiny_table()))
        if "hroller" in self.parts:
            copies = [1] if quick else [1, 5]
            self.log(f"hroller: {copies} copies of a 200-node DRBD cluster (bench/hroller.py)")
            self._guarded(
                "hroller",
                lambda: self.tables.append(hroller.hroller_table(copies, 1 if quick else 3)),
            )

    def _guarded(self, part: str, step: Callable[[], None]) -> None:
        """Run one step; a failure becomes a note in the results, not a lost run."""
        try:
            step()
        except Exception as exc:
            self.log(f"{part} failed: {type(exc).__name__}: {exc}")
            self.tables.append(note_table(f"{part}: failed", f"{type(exc).__name__}: {exc}"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = describe()
    machine["ganeti (real daemons)"] = ganeti_version()
    machine["load generator"] = "wrk (1 thread)" if have_wrk() else "bench.loadgen (Python)"
    with tempfile.TemporaryDirectory(prefix="ganeti-agent-bench-") as work:
        suite = Suite(args, Path(work))
        suite.run()
    for table in suite.tables:
        print(render_text(table) + "\n")
    stem = datetime.date.today().isoformat() + ("-quick" if args.quick else "")
    command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    md, js = write_results(args.out, stem, machine, suite.tables, command.strip())
    print(f"results: {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
