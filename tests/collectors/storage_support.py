"""A fake cluster for the storage collectors: confd-shaped answers, or failures."""

from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.defer import Deferred, fail, succeed

from ganeti_agent.core.cluster import ClusterUnavailable
from ganeti_agent.core.jsontypes import JSON

Instances = tuple[list[dict[str, JSON]], list[dict[str, JSON]]]


class StorageCluster:
    """Answers NODE_DRBD, NODE_INSTANCES and INSTANCE_DISKS from fixed data."""

    def __init__(
        self,
        drbd: list[list[JSON]] | None = None,
        instances: Instances = ([], []),
        disks: dict[str, list[dict[str, JSON]]] | None = None,
        error: str | None = None,
    ) -> None:
        self.drbd = drbd or []
        self.instances = instances
        self.disks = disks or {}
        self.error = error
        self.asked: list[tuple[str, str]] = []

    def _answer(self, question: str, query: str, value: object) -> Deferred[object]:
        self.asked.append((question, query))
        if self.error is not None:
            return fail(ClusterUnavailable(self.error))
        return succeed(value)

    def node_drbd(self, node: str) -> Deferred[list[list[JSON]]]:
        return self._answer("node_drbd", node, self.drbd)  # type: ignore[return-value]

    def node_instances(self, node: str) -> Deferred[Instances]:
        return self._answer("node_instances", node, self.instances)  # type: ignore[return-value]

    def instance_disks(self, instance_uuid: str) -> Deferred[list[dict[str, JSON]]]:
        disks = self.disks.get(instance_uuid, [])
        return self._answer("instance_disks", instance_uuid, disks)  # type: ignore[return-value]

    def node_role(self, node: str) -> Deferred[int]:
        return succeed(2)

    def data_collectors(self) -> Mapping[str, bool] | None:
        return None

    def enabled_hypervisors(self) -> list[str] | None:
        return None

    def collector_intervals(self) -> Mapping[str, float] | None:
        return None
