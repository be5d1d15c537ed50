"""From what a live backend read to the cluster harep decides on (``loadExternalData``).

Ganeti merges the data (``mergeData``), sets each KVM node's memory to the
default ``--static-kvm-node-memory`` (4096 MiB) and warns on stderr about
nodes whose memory or disk do not add up, before any program looks at it.
harep prints the same warning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ganeti_agent.harep.errors import HarepError
from ganeti_agent.htools.live import LiveCluster
from ganeti_agent.htools.loader import ClusterData, merge_data, update_missing
from ganeti_agent.htools.types import LoadError

STATIC_KVM_NODE_MEMORY = 4096


def prepare(live: LiveCluster, warn: Callable[[str], None]) -> ClusterData:
    """The merged cluster; the "inconsistent data" warning goes to ``warn`` (stderr)."""
    try:
        merged = merge_data(live.with_static_kvm_memory(STATIC_KVM_NODE_MEMORY))
    except LoadError as error:
        raise HarepError(f"failed to load data, aborting: {error}") from None
    messages, nodes = update_missing(merged.nodes, merged.instances)
    if messages:
        warn(
            "Warning: cluster has inconsistent data:\n"
            + "".join(f"  - {message}\n" for message in messages)
            + "\n"
        )
    return dataclasses.replace(merged, nodes=nodes)
