"""Daemon collectors (category daemon, status): is each Ganeti daemon running, and how.

One collector per Ganeti daemon (``daemon-noded``, ``daemon-confd``, ...) plus
``daemon-ganeti-agent`` for this agent. A daemon is found through the pid file Ganeti
writes (``<run_dir>/ganeti-<daemon>.pid``); the pid must name a live process that is
that daemon, so a stale file or a reused pid never passes for a running daemon.
Each collector samples its daemon's CPU time every ``interval``, so ``cpu_usage``
covers the last interval whoever asks. Whether a daemon *should* run
comes from the node's role in the cluster (the table :data:`DAEMONS`), which the
collectors share through one :class:`RoleTracker`.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import psutil
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from ganeti_agent.confd.constants import NodeRole
from ganeti_agent.core.files import read_pid_file
from ganeti_agent.core.framework import (
    AgentContext,
    Collector,
    CollectorError,
    SampledCollector,
    TypedCollector,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample, family, flag
from ganeti_agent.core.report import Category, Kind, StatusCode, status_object

PREFIX = "daemon-"
AGENT_NAME = "ganeti-agent"
SIZE_UNIT = "B"
ROLE_MAX_AGE = 30.0
ROLE_TIMEOUT = 5.0

MASTER, CANDIDATE, OFFLINE, DRAINED, REGULAR = (
    NodeRole.MASTER,
    NodeRole.CANDIDATE,
    NodeRole.OFFLINE,
    NodeRole.DRAINED,
    NodeRole.REGULAR,
)
ROLE_NAMES: dict[int, str] = {
    MASTER: "master",
    CANDIDATE: "master candidate",
    REGULAR: "regular node",
    DRAINED: "drained node",
    OFFLINE: "offline node",
}
T = TypeVar("T")
ONLINE = frozenset({MASTER, CANDIDATE, REGULAR, DRAINED})


@dataclass(frozen=True)
class DaemonSpec:
    """A Ganeti daemon and the node roles on which it must run.

    ``on_demand`` daemons are started by Ganeti only when a feature needs them, so
    they are judged by their pid file alone: no file means not needed, a file whose
    process is gone means the daemon died.
    """

    name: str
    required_roles: frozenset[int] = frozenset()
    on_demand: bool = False

    @property
    def program(self) -> str:
        return "ganeti-" + self.name

    @property
    def collector_name(self) -> str:
        return PREFIX + self.name


DAEMONS: tuple[DaemonSpec, ...] = (
    DaemonSpec("noded", ONLINE),
    DaemonSpec("confd", frozenset({MASTER, CANDIDATE})),
    DaemonSpec("wconfd", frozenset({MASTER})),
    DaemonSpec("luxid", frozenset({MASTER})),
    DaemonSpec("rapi", frozenset({MASTER})),
    # ganeti-agent serves mond's API on mond's port, so mond is normally replaced.
    DaemonSpec("mond", on_demand=True),
    # Ganeti starts kvmd only with KVM and user shutdown enabled, metad only for
    # instance communication.
    DaemonSpec("kvmd", on_demand=True),
    DaemonSpec("metad", on_demand=True),
)


class Need(enum.Enum):
    """Whether a daemon must run on this node, as far as we can tell."""

    REQUIRED = "required"
    ON_DEMAND = "on demand"
    NOT_NEEDED = "not needed"
    UNKNOWN = "unknown"


class RoleTracker:
    """The node's role, fetched from the cluster and shared by all daemon collectors.

    ``current`` answers at once from the last answer (refreshing it in the background
    when older than ``max_age``), as listing collectors cannot wait; ``fetch`` waits for
    a fresh answer, bounded by ``timeout``, and never fails: the error is kept instead.
    """

    def __init__(self, context: AgentContext, max_age: float = ROLE_MAX_AGE) -> None:
        self.context = context
        self.max_age = max_age
        self.role: int | None = None
        self.error: str | None = None
        self._fetched_at = float("-inf")
        self._pending: Deferred[None] | None = None

    def current(self) -> int | None:
        if self._stale():
            self._refresh()
        return self.role

    def fetch(self, timeout: float = ROLE_TIMEOUT) -> Deferred[int | None]:
        if not self._stale():
            return succeed(self.role)
        answer: Deferred[int | None] = Deferred()

        def settle(_: object = None) -> None:
            if not answer.called:
                answer.callback(self.role)

        def give_up() -> None:
            if not answer.called:
                self.error = f"no answer about the node's role within {timeout:g} s"
                settle()

        timer = self.context.clock.callLater(timeout, give_up)
        self._refresh().addBoth(settle)
        answer.addBoth(lambda result: self._cancel_timer(timer, result))
        return answer

    @staticmethod
    def _cancel_timer(timer: IDelayedCall, result: T) -> T:
        if timer.active():
            timer.cancel()
        return result

    def _stale(self) -> bool:
        return self.context.clock.seconds() - self._fetched_at >= self.max_age

    def _refresh(self) -> Deferred[None]:
        if self._pending is not None:
            return self._pending
        cluster = self.context.current_cluster()
        if cluster is None:
            self.role, self.error = None, "no cluster configuration"
            return succeed(None)
        try:
            asked = cluster.node_role(self.context.hostname)
        except Exception as exc:  # a broken source must not break listing
            asked = fail(exc)
        pending: Deferred[None] = asked.addCallbacks(self._answered, self._failed)
        if not pending.called:
            self._pending = pending
            pending.addBoth(self._settled)
        return pending

    def _answered(self, role: int) -> None:
        if role not in ROLE_NAMES:
            self._failed(Failure(ValueError(f"unknown node role {role!r}")))
            return
        self.role, self.error = role, None
        self._fetched_at = self.context.clock.seconds()

    def _failed(self, failure: Failure) -> None:
        self.role = None
        self.error = f"node role of {self.context.hostname} unknown: {failure.getErrorMessage()}"
        self._fetched_at = self.context.clock.seconds()

    def _settled(self, _: None) -> None:
        self._pending = None


@dataclass(frozen=True)
class Usage:
    """A running process's figures for the report."""

    pid: int
    memory: int
    uptime: int
    cpu_usage: float
    cpu_seconds: float
    threads: int


@dataclass(frozen=True)
class Probe:
    """What the pid file and the process table say about one daemon.

    ``usage`` is set when the daemon runs; otherwise ``started`` says whether it had
    been started (a pid file exists) and ``unknown`` whether we could not tell at all.
    """

    usage: Usage | None = None
    reason: str = ""
    started: bool = False
    unknown: bool = False


Reading = tuple[int, float, float, float]
"""One CPU reading of a process: pid, creation time, CPU seconds, when read."""


class CpuMeter:
    """CPU usage in percent of one CPU between the last two samples of the same process.

    With a single sample of a process (or of a new process behind the same pid) it is
    the lifetime average at that sample, so a report never needs to wait for a second.
    Only :meth:`sample` moves the window; reading :meth:`percent` does not.
    """

    def __init__(self) -> None:
        self._previous: Reading | None = None
        self._newest: Reading | None = None

    def sample(self, pid: int, created: float, cpu_seconds: float, now: float) -> None:
        self._previous = self._newest if self.knows(pid, created) else None
        self._newest = (pid, created, cpu_seconds, now)

    def knows(self, pid: int, created: float) -> bool:
        return self._newest is not None and self._newest[:2] == (pid, created)

    def percent(self) -> float:
        """The usage at the newest sample (0.0 before any)."""
        newest, previous = self._newest, self._previous
        if newest is None:
            return 0.0
        if previous is not None and newest[3] > previous[3]:
            used, elapsed = newest[2] - previous[2], newest[3] - previous[3]
        else:
            used, elapsed = newest[2], newest[3] - newest[1]
        return round(100.0 * max(used, 0.0) / elapsed, 2) if elapsed > 0 else 0.0


def is_program(process: psutil.Process, program: str) -> bool:
    """Whether the process runs ``program`` (a binary, or a script under an interpreter)."""
    if process.name() == program[:15]:
        return True
    return any(os.path.basename(arg) == program for arg in process.cmdline()[:2])


def process_cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU seconds of the process itself (not of its waited-for children)."""
    times = process.cpu_times()
    return float(times.user + times.system)


class ProcessProbe:
    """Reads one process's figures with psutil: a handful of /proc reads, no waiting."""

    def __init__(
        self,
        wall_clock: Callable[[], float] = time.time,
        cpu_seconds: Callable[[psutil.Process], float] = process_cpu_seconds,
    ) -> None:
        self.wall_clock = wall_clock
        self.cpu_seconds = cpu_seconds
        self.meter = CpuMeter()

    def probe(self, pid: int, program: str | None) -> Probe:
        """``program`` None skips the identity check (used for the agent itself)."""
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                if program is not None and not is_program(process, program):
                    return Probe(
                        reason=f"pid {pid} is {process.name()!r}, not {program} (stale pid file)",
                        started=True,
                    )
                if process.status() == psutil.STATUS_ZOMBIE:
                    return Probe(reason=f"pid {pid} is a zombie (the daemon exited)", started=True)
                return Probe(usage=self._usage(process))
        except psutil.ZombieProcess:
            return Probe(reason=f"pid {pid} is a zombie (the daemon exited)", started=True)
        except psutil.NoSuchProcess:
            return Probe(reason=f"pid {pid} is not running (stale pid file)", started=True)
        except psutil.AccessDenied:
            return Probe(reason=f"no permission to inspect pid {pid}", unknown=True)

    def sample(self, pid: int, program: str | None) -> None:
        """Feed the CPU meter from ``pid`` if it is ``program``; anything else is skipped."""
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                if program is None or is_program(process, program):
                    self._sample_cpu(process)
        except psutil.Error:
            pass  # the report says what is wrong with the process

    def _sample_cpu(self, process: psutil.Process) -> float:
        cpu_seconds = self.cpu_seconds(process)
        self.meter.sample(process.pid, process.create_time(), cpu_seconds, self.wall_clock())
        return cpu_seconds

    def _usage(self, process: psutil.Process) -> Usage:
        now = self.wall_clock()
        created = process.create_time()
        if self.meter.knows(process.pid, created):
            cpu_seconds = self.cpu_seconds(process)
        else:  # not sampled yet (just started, or a new process behind the pid)
            cpu_seconds = self._sample_cpu(process)
        return Usage(
            pid=process.pid,
            memory=process.memory_info().rss,
            uptime=max(0, int(now - created)),
            cpu_usage=self.meter.percent(),
            cpu_seconds=cpu_seconds,
            threads=process.num_threads(),
        )


@dataclass(frozen=True)
class DaemonState:
    """One daemon's report before it is written: what was found, and the verdict."""

    program: str
    probe: Probe
    code: StatusCode
    message: str


def daemon_data(state: DaemonState) -> JSON:
    """The report data; the usage figures are null while the daemon is not running."""
    usage = state.probe.usage
    return {
        "daemon": state.program,
        "pid": usage.pid if usage else None,
        "memory": usage.memory if usage else None,
        "size_unit": SIZE_UNIT,
        "uptime": usage.uptime if usage else None,
        "cpu_usage": usage.cpu_usage if usage else None,
        "cpu_seconds": usage.cpu_seconds if usage else None,
        "threads": usage.threads if usage else None,
        "status": status_object(state.code, state.message),
    }


def judge(probe: Probe, need: Need, why_unknown: str) -> tuple[StatusCode, str]:
    """The status rules: 0 running, 4 not running where it must, 2 when we cannot tell."""
    if probe.usage is not None:
        return StatusCode.OK, ""
    if probe.unknown:
        return StatusCode.UNKNOWN, probe.reason
    if need is Need.REQUIRED or (need is Need.ON_DEMAND and probe.started):
        return StatusCode.BAD, f"not running: {probe.reason}"
    if need is Need.UNKNOWN:
        return StatusCode.UNKNOWN, f"not running ({probe.reason}); {why_unknown}"
    if need is Need.ON_DEMAND:
        return StatusCode.OK, f"not running ({probe.reason}); started only when needed"
    return StatusCode.OK, f"not running ({probe.reason}); not needed on this node"


class GanetiDaemonCollector(SampledCollector, TypedCollector[DaemonState]):
    """The status of one Ganeti daemon on this node."""

    category = Category.DAEMON
    kind = Kind.STATUS

    def __init__(self, context: AgentContext, spec: DaemonSpec, roles: RoleTracker) -> None:
        self.name = spec.collector_name
        super().__init__(context)
        self.spec = spec
        self.roles = roles
        self.probe = ProcessProbe()

    @property
    def pid_file(self) -> str:
        default = os.path.join(self.context.paths.run_dir, f"{self.spec.program}.pid")
        return self.settings.option("pid-file", default)

    def _required_option(self) -> str:
        value = self.settings.option("required", "auto").strip().lower()
        if value not in ("auto", "yes", "no"):
            raise CollectorError(f"[collector:{self.name}] required: expected auto, yes or no")
        return value

    def need(self, role: int | None) -> Need:
        required = self._required_option()
        if required == "yes":
            return Need.REQUIRED
        if required == "no":
            return Need.NOT_NEEDED
        if self.spec.on_demand:
            return Need.ON_DEMAND
        if role is None:
            return Need.UNKNOWN
        return Need.REQUIRED if role in self.spec.required_roles else Need.NOT_NEEDED

    def available(self) -> bool:
        """Listed where it must run, and wherever its pid file says it was started."""
        if self.context.current_cluster() is None:
            return False
        if os.path.exists(self.pid_file):
            return True
        try:
            return self.need(self.roles.current()) is Need.REQUIRED
        except CollectorError:
            return True  # listed, so that its report shows the configuration error

    def result(self) -> Deferred[DaemonState]:
        return self.roles.fetch().addCallback(self._report)

    def to_data(self, result: DaemonState) -> JSON:
        return daemon_data(result)

    def samples(self, result: DaemonState) -> Iterator[Sample]:
        return daemon_samples(result)

    def _report(self, role: int | None) -> DaemonState:
        need = self.need(role)
        probe = self._probe()
        why = self.roles.error or "the node's role is unknown"
        code, message = judge(probe, need, why)
        if role is not None and need is Need.NOT_NEEDED and probe.usage is None:
            message = message.replace("on this node", f"on a {ROLE_NAMES[role]}")
        return DaemonState(self.spec.program, probe, code, message)

    def sample(self) -> None:
        """One CPU reading of the daemon; a missing or bad pid file is for the report."""
        try:
            pid = read_pid_file(self.pid_file)
        except CollectorError:
            return
        if pid is not None:
            self.probe.sample(pid, self.spec.program)

    def _probe(self) -> Probe:
        path = self.pid_file
        try:
            pid = read_pid_file(path)
        except CollectorError as exc:
            return Probe(reason=str(exc), unknown=True)
        if pid is None:
            return Probe(reason=f"no pid file {path}")
        return self.probe.probe(pid, self.spec.program)


class AgentDaemonCollector(SampledCollector, TypedCollector[DaemonState]):
    """This agent's own process: answering at all means it runs."""

    name = PREFIX + AGENT_NAME
    category = Category.DAEMON
    kind = Kind.STATUS

    def __init__(self, context: AgentContext) -> None:
        super().__init__(context)
        self.probe = ProcessProbe()

    def sample(self) -> None:
        self.probe.sample(os.getpid(), None)

    def result(self) -> DaemonState:
        probe = self.probe.probe(os.getpid(), None)
        code, message = judge(probe, Need.REQUIRED, "")
        return DaemonState(AGENT_NAME, probe, code, message)

    def to_data(self, result: DaemonState) -> JSON:
        return daemon_data(result)

    def samples(self, result: DaemonState) -> Iterator[Sample]:
        return daemon_samples(result)


def collectors(context: AgentContext) -> Iterable[Collector]:
    roles = RoleTracker(context)
    built: list[Collector] = [GanetiDaemonCollector(context, spec, roles) for spec in DAEMONS]
    built.append(AgentDaemonCollector(context))
    return built


_DAEMON = ("daemon",)
DAEMON_STATUS = family(
    "ganeti_daemon_status_code",
    "gauge",
    "Ganeti status code of the daemon (0 OK, 2 unknown, 4 not running where it must).",
    *_DAEMON,
)
DAEMON_RUNNING = family("ganeti_daemon_running", "gauge", "1 if the daemon runs.", *_DAEMON)
DAEMON_MEMORY = family("ganeti_daemon_resident_memory_bytes", "gauge", "Resident memory.", *_DAEMON)
DAEMON_UPTIME = family(
    "ganeti_daemon_uptime_seconds", "gauge", "Time since the daemon started.", *_DAEMON
)
DAEMON_CPU_USAGE = family(
    "ganeti_daemon_cpu_usage_percent",
    "gauge",
    "CPU used over the collector's last sampling interval, percent of one CPU.",
    *_DAEMON,
)
DAEMON_CPU_SECONDS = family(
    "ganeti_daemon_cpu_seconds_total",
    "counter",
    "User and system CPU seconds of the daemon's process since it started.",
    *_DAEMON,
)
DAEMON_THREADS = family("ganeti_daemon_threads", "gauge", "Number of threads.", *_DAEMON)


def daemon_samples(state: DaemonState) -> Iterator[Sample]:
    """Status and usage of one daemon; the usage only while it runs."""
    daemon = (state.program,)
    yield Sample(DAEMON_STATUS, daemon, float(state.code))
    usage = state.probe.usage
    yield flag(DAEMON_RUNNING, daemon, usage is not None)
    if usage is None:
        return
    yield Sample(DAEMON_MEMORY, daemon, float(usage.memory))
    yield Sample(DAEMON_UPTIME, daemon, float(usage.uptime))
    yield Sample(DAEMON_CPU_USAGE, daemon, float(usage.cpu_usage))
    yield Sample(DAEMON_CPU_SECONDS, daemon, float(usage.cpu_seconds))
    yield Sample(DAEMON_THREADS, daemon, float(usage.threads))
