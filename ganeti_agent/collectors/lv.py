"""``lv`` (storage, performance): every LVM logical volume segment and its instance.

Runs Ganeti's exact ``lvs`` command line through the executor (LVM can hold a lock
for minutes, so the run has the collector's timeout and the framework's single
flight), plus ``lvs-extra-args`` from the configuration (``--driverloaded n`` on
hosts without device-mapper, ``--config ...`` filters). Volumes are paired with the
instances of this node (primary, then secondary) through their disks. Without a
cluster every ``instance`` is null; a cluster that cannot answer fails the report
with Ganeti's "Unable to obtain the list of instances" message.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.python.failure import Failure

from ganeti_agent.core.cluster import ClusterQueries, ClusterUnavailable
from ganeti_agent.core.executor import ExecutionError, ProcessResult
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError, TypedCollector
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample, family, flag
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.lvs import (
    LVS_ARGUMENTS,
    InstanceDataError,
    InstanceDisks,
    LogicalVolume,
    instance_disks,
    lv_data,
    owners,
    parse_lvs,
)

NAME = "lv"
INSTANCES_ERROR = "Unable to obtain the list of instances"


def lvs_argv(binary: str = "lvs", extra: Sequence[str] = ()) -> list[str]:
    """Ganeti's command line, with ``extra`` arguments before the field list."""
    return [binary, *LVS_ARGUMENTS[1:-2], *extra, *LVS_ARGUMENTS[-2:]]


def cluster_instances(cluster: ClusterQueries, hostname: str) -> Deferred[list[InstanceDisks]]:
    """This node's instances (primary first, then secondary) with their disks' volumes.

    Fails with ``ClusterUnavailable`` when the cluster cannot answer or its answer is
    not made of valid instance and disk objects.
    """

    def with_disks(
        lists: tuple[list[dict[str, JSON]], list[dict[str, JSON]]],
    ) -> Deferred[list[InstanceDisks]]:
        instances = [*lists[0], *lists[1]]
        asked = [cluster.instance_disks(str(instance.get("uuid"))) for instance in instances]
        gathered: Deferred[list[list[dict[str, JSON]]]] = gatherResults(asked, consumeErrors=True)
        gathered.addErrback(_first_error)
        return gathered.addCallback(lambda disks: _checked(instances, disks))

    return cluster.node_instances(hostname).addCallback(with_disks)


def _first_error(failure: Failure) -> None:
    """gatherResults wraps the failure; unwrap it so its message stays readable."""
    inner = getattr(failure.value, "subFailure", None)
    if isinstance(inner, Failure):
        inner.raiseException()
    failure.raiseException()


def _checked(
    instances: list[dict[str, JSON]], disks: list[list[dict[str, JSON]]]
) -> list[InstanceDisks]:
    result = []
    for instance, its_disks in zip(instances, disks, strict=True):
        try:
            checked = instance_disks(instance, its_disks, strict=False)
        except InstanceDataError as exc:
            raise ClusterUnavailable(f"invalid instance data from the cluster: {exc}") from None
        if checked is not None:
            result.append(checked)
    return result


@dataclass(frozen=True)
class VolumeScan:
    """The records ``lvs`` printed and this node's instances whose disks use them."""

    volumes: list[LogicalVolume]
    instances: list[InstanceDisks]


class LvCollector(TypedCollector[VolumeScan]):
    """Runs ``lvs`` at query time and maps each volume to its instance."""

    name = NAME
    category = Category.STORAGE
    kind = Kind.PERFORMANCE

    @property
    def argv(self) -> list[str]:
        binary = self.settings.option("lvs", "lvs")
        extra = shlex.split(self.settings.option("lvs-extra-args", ""))
        return lvs_argv(binary, extra)

    def available(self) -> bool:
        """Served where the ``lvs`` binary exists (Ganeti nodes always have lvm2)."""
        return self.context.find_command(self.argv[0]) is not None

    def result(self) -> Deferred[VolumeScan]:
        ran = self.context.runner.run(self.argv, self.settings.timeout)
        parsed: Deferred[list[LogicalVolume]] = ran.addCallbacks(self._parse, self._run_failed)
        return parsed.addCallback(self._with_instances)

    def _run_failed(self, failure: Failure) -> list[LogicalVolume]:
        failure.trap(ExecutionError)
        raise CollectorError(f"running command: {failure.value}")

    def _parse(self, result: ProcessResult) -> list[LogicalVolume]:
        try:
            return parse_lvs(result.stdout.decode("utf-8", "replace"))
        except ParseError as exc:
            raise CollectorError(f"cannot parse the output of lvs: {exc.reason}") from None

    def _with_instances(self, volumes: list[LogicalVolume]) -> Deferred[VolumeScan]:
        cluster = self.context.current_cluster()
        if cluster is None:
            return succeed(VolumeScan(volumes, []))

        def failed(failure: Failure) -> list[InstanceDisks]:
            failure.trap(ClusterUnavailable)
            raise CollectorError(f"{INSTANCES_ERROR}: {failure.value}")

        found = cluster_instances(cluster, self.context.hostname).addErrback(failed)
        return found.addCallback(lambda instances: VolumeScan(volumes, instances))

    def to_data(self, result: VolumeScan) -> JSON:
        return lv_data(result.volumes, result.instances)

    def samples(self, result: VolumeScan) -> Iterator[Sample]:
        return volume_samples(result)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [LvCollector(context)]


_LV = ("vg", "lv", "instance")
LV_SIZE = family("ganeti_lv_size_bytes", "gauge", "Size of the logical volume.", *_LV)
LV_SEGMENTS = family("ganeti_lv_segments", "gauge", "Number of segments of the LV.", *_LV)
LV_ACTIVE = family("ganeti_lv_active", "gauge", "1 if the LV is active (lv_attr).", *_LV)
LV_OPEN = family("ganeti_lv_open", "gauge", "1 if the LV is open (lv_attr).", *_LV)


def volume_samples(scan: VolumeScan) -> Iterator[Sample]:
    """One series per volume: its segments repeat the same labels, the first one counts."""
    for volume, owner in zip(scan.volumes, owners(scan.volumes, scan.instances), strict=True):
        labels = (volume.vg_name, volume.name, owner or "")
        yield Sample(LV_SIZE, labels, float(volume.size))
        yield Sample(LV_SEGMENTS, labels, float(volume.seg_count))
        attr = volume.attr
        if len(attr) >= 6:
            yield flag(LV_ACTIVE, labels, attr[4] == "a")
            yield flag(LV_OPEN, labels, attr[5] == "o")
