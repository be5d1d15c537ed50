"""What collectors may ask about the cluster, whoever answers it.

The answers have exactly the shapes of confd's replies (spec/confd.md section 4), so a
local ``config.data`` and a remote confd are interchangeable behind this protocol: the
daemon answers from its own loaded configuration, the CLI asks master candidates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from twisted.internet.defer import Deferred

from ganeti_agent.core.jsontypes import JSON


class ClusterUnavailable(Exception):
    """No cluster configuration could be obtained (no config.data, no confd answer)."""


class ClusterQueries(Protocol):
    """Cluster questions the collectors need; each fails with ``ClusterUnavailable``."""

    def node_drbd(self, node: str) -> Deferred[list[list[JSON]]]:
        """confd NODE_DRBD (7): ``[[node, minor, instance, iv_name, role, peer], ...]``."""
        ...

    def node_instances(
        self, node: str
    ) -> Deferred[tuple[list[dict[str, JSON]], list[dict[str, JSON]]]]:
        """confd NODE_INSTANCES (8): instance objects (primary, secondary) of ``node``."""
        ...

    def instance_disks(self, instance_uuid: str) -> Deferred[list[dict[str, JSON]]]:
        """confd INSTANCE_DISKS (9): the disk objects of one instance."""
        ...

    def node_role(self, node: str) -> Deferred[int]:
        """confd NODE_ROLE_BYNAME (1): 0 master, 1 candidate, 2 offline, 3 drained, 4 regular."""
        ...

    def data_collectors(self) -> Mapping[str, bool] | None:
        """Last known activation of the data collectors (confd 11), None when unknown."""
        ...

    def enabled_hypervisors(self) -> list[str] | None:
        """The cluster's enabled hypervisors, None when unknown."""
        ...

    def collector_intervals(self) -> Mapping[str, float] | None:
        """Last known data-collector intervals (confd 11), in seconds; None when unknown."""
        ...
