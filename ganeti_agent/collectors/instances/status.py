"""What the instance status collectors (Xen, KVM) share: the record, the verdict, the total.

Ganeti 3.0.2's ``inst-status-xen`` fixes the shape of one instance's record and the
rule turning (admin state, actual state) into a status; the KVM collector reuses both
so that a monitoring system reads the two the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure

from ganeti_agent.core.cluster import ClusterQueries, ClusterUnavailable
from ganeti_agent.core.framework import CollectorError
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample, duration_seconds, family, flag, label, number, objects
from ganeti_agent.core.report import (
    Kind,
    StatusCode,
    combine_messages,
    status_object,
    worst,
)
from ganeti_agent.core.status import status_of

ADMIN_UP = "up"
ADMIN_DOWN = "down"
ADMIN_OFFLINE = "offline"

RUNNING = "running"
BLOCKED = "blocked"
PAUSED = "paused"
SHUTDOWN = "shutdown"
CRASHED = "crashed"
DYING = "dying"
HUNG = "hung"
UNKNOWN = "unknown"

NOT_STOPPED = "The instance is not stopped as it should be"
APPEARS_HUNG = "Instance marked as running, but it appears to be hung"
NOT_RUNNING = "The instance is not running as it should be"
MARKED_OFFLINE = "The instance is marked as offline"
CONFD_PREFIX = "Can't get instance info from ConfD: "


def instance_verdict(admin_state: str, actual_state: str) -> tuple[StatusCode, str]:
    """Ganeti's per-instance rule (spec 7.5): code and message."""
    if admin_state == ADMIN_DOWN:
        if actual_state in (SHUTDOWN, DYING):
            return StatusCode.OK, ""
        return StatusCode.BAD, NOT_STOPPED
    if admin_state == ADMIN_UP:
        if actual_state == HUNG:
            return StatusCode.UNKNOWN, APPEARS_HUNG
        if actual_state in (RUNNING, BLOCKED):
            return StatusCode.OK, ""
        return StatusCode.BAD, NOT_RUNNING
    if admin_state == ADMIN_OFFLINE:
        return StatusCode.UNKNOWN, MARKED_OFFLINE
    return StatusCode.UNKNOWN, f"Unknown admin state {admin_state!r}"


PICO = 10**12


def clock_time_round_trip(seconds: float) -> float:
    """A time as Ganeti's Haskell code gives it back after storing it as picoseconds.

    ``TimeAsDoubleJSON`` rounds ``seconds * 1e12`` (a Double product) to an integer and
    converts back, so e.g. 1363620000.0 becomes 1363619999.9999998; 3.0.2 reports that.
    """
    whole, fraction = divmod(round(seconds * 1e12), PICO)
    return float(whole) + float(fraction) / 1e12


@dataclass(frozen=True)
class ConfiguredInstance:
    """The parts of a confd instance object the collectors use."""

    name: str
    uuid: str
    admin_state: str
    mtime: float
    hypervisor: str = ""

    @classmethod
    def from_object(cls, obj: Mapping[str, JSON]) -> ConfiguredInstance:
        name = obj.get("name")
        if not isinstance(name, str) or not name:
            raise ClusterUnavailable("confd sent an instance without a name")
        mtime = obj.get("mtime", 0.0)
        return cls(
            name=name,
            uuid=str(obj.get("uuid", "")),
            admin_state=str(obj.get("admin_state", "")),
            mtime=clock_time_round_trip(float(mtime)) if isinstance(mtime, int | float) else 0.0,
            hypervisor=str(obj.get("hypervisor", "")),
        )


@dataclass
class InstanceRecord:
    """One instance of the report, with Ganeti's wire keys; ``extra`` adds new fields.

    ``unseen`` says why an instance's state could not be observed (its process runs
    but cannot be asked): one that should run is then "unknown" (code 2), since
    nothing shows it is not running.
    """

    instance: ConfiguredInstance
    actual_state: str
    uptime: str | None
    state_reason: list[JSON]
    extra: dict[str, JSON] = field(default_factory=dict)
    unseen: str = ""

    @property
    def verdict(self) -> tuple[StatusCode, str]:
        admin_up = self.instance.admin_state == ADMIN_UP
        if self.unseen and admin_up and self.actual_state == UNKNOWN:
            return StatusCode.UNKNOWN, self.unseen
        return instance_verdict(self.instance.admin_state, self.actual_state)

    def to_json(self) -> dict[str, JSON]:
        code, message = self.verdict
        record: dict[str, JSON] = {
            "name": self.instance.name,
            "uuid": self.instance.uuid,
            "adminState": self.instance.admin_state,
            "actualState": self.actual_state,
            "uptime": self.uptime,
            "mtime": self.instance.mtime,
            "state_reason": self.state_reason,
            "status": status_object(code, message),
        }
        record.update(self.extra)
        return record


def report_data(records: Sequence[InstanceRecord]) -> dict[str, JSON]:
    """``{"instances": [...], "status": ...}``: worst code, combined messages."""
    verdicts = [record.verdict for record in records]
    code = worst(code for code, _ in verdicts)
    message = combine_messages([message for _, message in verdicts])
    return {
        "instances": [record.to_json() for record in records],
        "status": status_object(code, message),
    }


def failed_data(code: StatusCode, message: str) -> dict[str, JSON]:
    """No instances, one status: what 3.0.2 reports when the hypervisor cannot be asked."""
    return {"instances": [], "status": status_object(code, message)}


def primary_instances(
    answer: tuple[Sequence[Mapping[str, JSON]], Sequence[Mapping[str, JSON]]],
    hypervisors: Collection[str] | None = None,
) -> list[ConfiguredInstance]:
    """The node's primary instances in confd's order, forthcoming ones left out.

    With ``hypervisors``, only instances run by one of them are kept: a KVM instance is
    not "shut down" for the Xen collector, nor a Xen domain for the KVM one. An instance
    object without a ``hypervisor`` member (hand-written test data) is kept.
    """
    primaries, _secondaries = answer
    instances = [
        ConfiguredInstance.from_object(obj) for obj in primaries if not obj.get("forthcoming")
    ]
    if hypervisors is None:
        return instances
    return [i for i in instances if not i.hypervisor or i.hypervisor in hypervisors]


def node_primary_instances(
    cluster: ClusterQueries | None, node: str, hypervisors: Collection[str] | None = None
) -> Deferred[list[ConfiguredInstance]]:
    """Ask the cluster for ``node``'s primary instances; failures are ``CollectorError``."""
    if cluster is None:
        return fail(CollectorError(CONFD_PREFIX + "no cluster configuration is known"))

    def unavailable(failure: Failure) -> list[ConfiguredInstance]:
        failure.trap(ClusterUnavailable)
        raise CollectorError(CONFD_PREFIX + str(failure.value))

    asked = cluster.node_instances(node)
    return asked.addCallback(primary_instances, hypervisors).addErrback(unavailable)


def hypervisor_enabled(cluster: ClusterQueries | None, hypervisors: Collection[str]) -> bool | None:
    """Whether the cluster enables one of ``hypervisors``; None when that is not known."""
    enabled = cluster.enabled_hypervisors() if cluster is not None else None
    if enabled is None:
        return None
    return any(name in hypervisors for name in enabled)


INSTANCE_STATUS = family(
    "ganeti_instance_status_code",
    "gauge",
    "Ganeti status code of the instance (0 OK, 2 unknown, 4 needs intervention).",
    "instance",
)
INSTANCE_INFO = family(
    "ganeti_instance_info",
    "gauge",
    "Primary instance of this node with its states as labels; always 1.",
    "instance",
    "uuid",
    "admin_state",
    "actual_state",
)
INSTANCE_RUNNING = family(
    "ganeti_instance_running", "gauge", "1 if the instance is running (or blocked).", "instance"
)
INSTANCE_ADMIN_UP = family(
    "ganeti_instance_admin_up", "gauge", "1 if the instance should be running.", "instance"
)
INSTANCE_UPTIME = family(
    "ganeti_instance_uptime_seconds", "gauge", "Uptime of the instance.", "instance"
)
INSTANCE_MTIME = family(
    "ganeti_instance_config_mtime_seconds",
    "gauge",
    "Last modification of the instance's configuration.",
    "instance",
)


def instance_samples(data: JSON) -> Iterator[Sample]:
    """The series of inst-status-xen and inst-status-kvm, which share one data shape."""
    if not isinstance(data, Mapping):
        return
    for instance in objects(data.get("instances")):
        name = (label(instance.get("name")),)
        admin, actual = instance.get("adminState"), instance.get("actualState")
        yield Sample(
            INSTANCE_INFO, (*name, label(instance.get("uuid")), label(admin), label(actual)), 1.0
        )
        code, _message = status_of(Kind.STATUS, instance)
        yield Sample(INSTANCE_STATUS, name, float(code))
        if actual is not None:
            yield flag(INSTANCE_RUNNING, name, actual in (RUNNING, BLOCKED))
        if admin is not None:
            yield flag(INSTANCE_ADMIN_UP, name, admin == ADMIN_UP)
        uptime = duration_seconds(instance.get("uptime"))
        if uptime is not None:
            yield Sample(INSTANCE_UPTIME, name, uptime)
        mtime = number(instance.get("mtime"))
        if mtime is not None:
            yield Sample(INSTANCE_MTIME, name, mtime)
