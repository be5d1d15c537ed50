"""``inst-status-kvm`` (instance, status): ``inst-status-xen``'s report for KVM nodes.

Ganeti's KVM hypervisor keeps, per instance, a pid file (``kvm-hypervisor/pid/<name>``)
and a QMP monitor socket (``kvm-hypervisor/ctrl/<name>.qmp``). The process (checked in
``/proc/<pid>/cmdline`` to be that instance's QEMU) says whether it runs, its uptime,
RSS and CPU time; QMP ``query-status`` says running, paused or shut down, and silence
within the timeout says hung.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import IReactorTime, IReactorUNIX
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure

from ganeti_agent.collectors.instances.reason_trail import read_trail
from ganeti_agent.collectors.instances.status import (
    ADMIN_UP,
    CRASHED,
    HUNG,
    PAUSED,
    RUNNING,
    SHUTDOWN,
    UNKNOWN,
    ConfiguredInstance,
    InstanceRecord,
    hypervisor_enabled,
    instance_samples,
    node_primary_instances,
    report_data,
)
from ganeti_agent.core.files import InputError, read_pid_file
from ganeti_agent.core.framework import AgentContext, Collector, CollectorSettings
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample
from ganeti_agent.core.report import Category, Kind

NAME = "inst-status-kvm"
DEFAULT_QMP_TIMEOUT = 5.0
KVM_HYPERVISORS = frozenset({"kvm"})
MONITOR_UNREACHABLE = "Instance marked as running, but its QMP monitor cannot be asked"

QMP_STATES = {
    "running": RUNNING,
    "shutdown": SHUTDOWN,
    "guest-panicked": CRASHED,
    "internal-error": CRASHED,
    "io-error": CRASHED,
    "watchdog": CRASHED,
    **{
        state: PAUSED
        for state in (
            "paused",
            "suspended",
            "prelaunch",
            "debug",
            "inmigrate",
            "postmigrate",
            "finish-migrate",
            "save-vm",
            "restore-vm",
            "colo",
        )
    },
}
"""QEMU's run states (``query-status``) in Ganeti's actual-state vocabulary."""


@dataclass(frozen=True)
class ProcessInfo:
    """What /proc says of an instance's QEMU process."""

    pid: int
    uptime: float
    rss: int
    cpu_time: float


def format_uptime(seconds: float) -> str:
    """Uptime in ``xm uptime``'s words: ``15 days, 20:57:07``, ``1 day, 0:00:01``, ``0:00:42``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    if days == 0:
        return clock
    return f"{days} day{'s' if days > 1 else ''}, {clock}"


def instance_of_cmdline(cmdline: bytes) -> str | None:
    """The instance a QEMU command line belongs to (``-name NAME[,options]``), as Ganeti checks."""
    arguments = cmdline.decode("utf-8", "replace").split("\0")
    for index, argument in enumerate(arguments[:-1]):
        if argument == "-name":
            return arguments[index + 1].split(",")[0]
    return None


def parse_proc_stat(text: str) -> tuple[float, float, int, int]:
    """``(utime, stime, starttime, rss)`` in ticks/pages from ``/proc/<pid>/stat``.

    The command name may hold spaces and parentheses, so fields are counted after the
    last ``)``.
    """
    fields = text[text.rindex(")") + 2 :].split()
    return float(fields[11]), float(fields[12]), int(fields[19]), int(fields[21])


def boot_time(proc_root: str) -> float:
    with open(os.path.join(proc_root, "stat"), encoding="ascii", errors="replace") as handle:
        for line in handle:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise ValueError("no btime line in stat")


def read_pid(path: str) -> int | None:
    """The pid in Ganeti's pid file of an instance; None when there is no usable one."""
    try:
        return read_pid_file(path)
    except InputError:
        return None


def process_info(proc_root: str, pid: int, instance: str, now: float) -> ProcessInfo | None:
    """The instance's QEMU process, or None if ``pid`` is gone or is another program."""
    base = os.path.join(proc_root, str(pid))
    try:
        with open(os.path.join(base, "cmdline"), "rb") as handle:
            if instance_of_cmdline(handle.read(1024 * 1024)) != instance:
                return None
        with open(os.path.join(base, "stat"), encoding="utf-8", errors="replace") as handle:
            utime, stime, start, rss = parse_proc_stat(handle.read())
        ticks = os.sysconf("SC_CLK_TCK")
        started = boot_time(proc_root) + start / ticks
    except (OSError, ValueError, IndexError):
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    return ProcessInfo(pid, now - started, rss * page, (utime + stime) / ticks)


class QmpError(Exception):
    """The monitor answered, but not with a status."""


class QmpStatusProtocol(LineOnlyReceiver):
    """Greeting, ``qmp_capabilities``, ``query-status``; fires ``status`` with the run state."""

    delimiter = b"\n"
    MAX_LENGTH = 1024 * 1024

    def __init__(self) -> None:
        self.status: Deferred[str] = Deferred()
        self.stage = "greeting"

    def _send(self, command: str) -> None:
        if self.transport is not None:
            self.transport.write(json.dumps({"execute": command}).encode("ascii") + b"\n")

    def lineReceived(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return self._fail(f"not JSON: {line[:80]!r}")
        if not isinstance(message, dict) or "event" in message:
            return None
        if "error" in message:
            return self._fail(f"error: {message['error']}")
        if self.stage == "greeting" and "QMP" in message:
            self.stage = "capabilities"
            self._send("qmp_capabilities")
        elif self.stage == "capabilities" and "return" in message:
            self.stage = "status"
            self._send("query-status")
        elif self.stage == "status" and "return" in message:
            answer = message["return"]
            status = answer.get("status") if isinstance(answer, dict) else None
            if not isinstance(status, str):
                return self._fail("query-status returned no status")
            self._finish(status)
        return None

    def _finish(self, status: str) -> None:
        if not self.status.called:
            self.status.callback(status)
        if self.transport is not None:
            self.transport.loseConnection()

    def _fail(self, message: str) -> None:
        if not self.status.called:
            self.status.errback(QmpError(message))
        if self.transport is not None:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if not self.status.called:
            self.status.errback(QmpError("the monitor closed the connection"))


@dataclass(frozen=True)
class QmpOutcome:
    """``status`` when QMP answered; otherwise whether the monitor was reachable at all."""

    status: str | None = None
    reachable: bool = False
    silent: bool = False
    error: str | None = None


def query_status(
    unix: IReactorUNIX, clock: IReactorTime, path: str, timeout: float
) -> Deferred[QmpOutcome]:
    """Ask the monitor at ``path`` for the run state; never fails, never waits past timeout."""
    protocol = QmpStatusProtocol()
    endpoint = UNIXClientEndpoint(unix, path, timeout=max(1, int(timeout)))
    connecting: Deferred[QmpStatusProtocol] = connectProtocol(endpoint, protocol)

    def connected(_: QmpStatusProtocol) -> Deferred[QmpOutcome]:
        answered = protocol.status
        answered.addTimeout(timeout, clock)

        def silent(failure: Failure) -> QmpOutcome:
            if protocol.transport is not None:
                protocol.transport.abortConnection()  # type: ignore[attr-defined]
            if failure.check(TimeoutError):
                return QmpOutcome(reachable=True, silent=True)
            return QmpOutcome(reachable=True, error=str(failure.value))

        return answered.addCallbacks(lambda status: QmpOutcome(status, True), silent)

    def unreachable(failure: Failure) -> QmpOutcome:
        failure.trap(ConnectError, OSError)
        return QmpOutcome(error=str(failure.value))

    return connecting.addCallbacks(connected, unreachable)


def kvm_actual_state(
    instance: ConfiguredInstance, info: ProcessInfo | None, had_pid_file: bool, qmp: QmpOutcome
) -> str:
    """The instance's state from its process and its monitor."""
    if info is None:
        if instance.admin_state == ADMIN_UP and had_pid_file:
            return CRASHED
        return SHUTDOWN
    if qmp.status is not None:
        return QMP_STATES.get(qmp.status, UNKNOWN)
    if qmp.silent:
        return HUNG
    return UNKNOWN


class InstStatusKvmCollector(Collector):
    """Status, uptime, memory and CPU time of this node's primary KVM instances."""

    name = NAME
    category = Category.INSTANCE
    kind = Kind.STATUS

    def __init__(self, context: AgentContext, settings: CollectorSettings | None = None) -> None:
        super().__init__(context, settings)
        self.qmp_timeout = float(self.settings.option("qmp-timeout", str(DEFAULT_QMP_TIMEOUT)))

    def available(self) -> bool:
        """Where Ganeti runs KVM instances, or could: a KVM host that is in a cluster.

        A cluster that does not enable KVM has no KVM instances to report, whatever the
        host has; without the cluster's answer the host decides.
        """
        enabled = hypervisor_enabled(self.context.current_cluster(), KVM_HYPERVISORS)
        if enabled is not None:
            return enabled
        paths = self.context.paths
        if os.path.isdir(os.path.join(paths.kvm_hypervisor_dir, "pid")):
            return True
        return os.path.exists("/dev/kvm") and paths.has_cluster_files()

    def collect(self) -> Deferred[JSON]:
        return Deferred.fromCoroutine(self._collect())

    async def _collect(self) -> JSON:
        instances = await node_primary_instances(
            self.context.current_cluster(), self.context.hostname, KVM_HYPERVISORS
        )
        records = [await self._record(instance) for instance in instances]
        return report_data(records)

    async def _record(self, instance: ConfiguredInstance) -> InstanceRecord:
        root = self.context.paths.kvm_hypervisor_dir
        pid = read_pid(os.path.join(root, "pid", instance.name))
        now = self.context.clock.seconds()
        info = None
        if pid is not None:
            info = process_info(self.context.proc_root, pid, instance.name, now)
        qmp = QmpOutcome()
        if info is not None:
            socket = os.path.join(root, "ctrl", instance.name + ".qmp")
            qmp = await self._ask_monitor(socket)
        state = kvm_actual_state(instance, info, pid is not None, qmp)
        extra: dict[str, JSON] = {
            "pid": info.pid if info else None,
            "uptimeSeconds": int(info.uptime) if info else None,
            "rss": info.rss if info else None,
            "cpuTime": info.cpu_time if info else None,
            "qmpStatus": qmp.status,
        }
        if qmp.error is not None:
            extra["qmpError"] = qmp.error
        return InstanceRecord(
            instance,
            state,
            format_uptime(info.uptime) if info else None,
            read_trail(self.context.paths, instance.name),
            extra,
            unseen=MONITOR_UNREACHABLE if info is not None and qmp.error is not None else "",
        )

    async def _ask_monitor(self, socket: str) -> QmpOutcome:
        unix = self.context.unix
        if unix is None:
            return QmpOutcome(error="this context cannot connect to UNIX sockets")
        return await query_status(unix, self.context.clock, socket, self.qmp_timeout)

    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        return instance_samples(data)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [InstStatusKvmCollector(context)]
