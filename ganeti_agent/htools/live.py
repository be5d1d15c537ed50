"""What the live backends (LUXI and RAPI) share: the cluster they return and its policy.

Both read the same objects as Ganeti's ``Backend/Luxi.hs`` and
``Backend/Rapi.hs`` and hand back what the text backend hands back (a
``ClusterData`` before ``merge_data``), plus the cluster's default
hypervisor, which Ganeti sets on every node it loads live (the text format
has none) and which decides whether ``--static-kvm-node-memory`` applies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure

from ganeti_agent.htools.group import Group
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.loader import ClusterData
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.textjson import (
    JSObject,
    JSONError,
    JSValue,
    field_of,
    read_double,
    read_enum,
    read_int,
    read_list,
    read_object,
)
from ganeti_agent.htools.types import (
    DISK_TEMPLATES,
    INSTANCE_STATUSES,
    IPolicy,
    ISpec,
    LoadError,
    MinMaxISpecs,
)

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTCP, IReactorUNIX

    class ILiveReactor(IReactorTCP, IReactorUNIX):
        """A real reactor as the live backends use it: RAPI over TCP, LUXI over a socket."""


HYPERVISORS = ("xen-pvm", "xen-hvm", "kvm", "fake", "chroot", "lxc")
ALLOC_POLICIES = ("preferred", "last_resort", "unallocable")

read_hypervisor = read_enum("Hypervisor", HYPERVISORS)
read_disk_template = read_enum("DiskTemplate", DISK_TEMPLATES)
read_instance_status = read_enum("InstanceStatus", INSTANCE_STATUSES)
read_alloc_policy = read_enum("AllocPolicy", ALLOC_POLICIES)

T = TypeVar("T")


@dataclass(frozen=True)
class LiveCluster:
    """A cluster as a live backend read it.

    ``data`` is what ``text.parse_data`` returns for the same cluster
    (groups, nodes, instances, cluster tags, cluster policy; the master node
    marked); ``hypervisor`` is the cluster's ``default_hypervisor``.
    """

    data: ClusterData
    hypervisor: str

    def with_static_kvm_memory(self, static_node_memory: int) -> ClusterData:
        """The data with ``--static-kvm-node-memory`` applied (``setStaticKvmNodeMem``).

        On KVM, Ganeti replaces each node's own memory by this value (0 keeps
        what the node reported); the text backend has no hypervisor, so
        there it never applies. Changing it before ``merge_data`` is the same
        as Ganeti's change in ``updateMissing``: nothing in between reads it.
        """
        if self.hypervisor != "kvm" or static_node_memory <= 0:
            return self.data
        nodes = [dataclasses.replace(n, n_mem=static_node_memory) for n in self.data.nodes]
        return dataclasses.replace(self.data, nodes=nodes)


def run_once(load: Callable[[ILiveReactor], Deferred[T]]) -> T:
    """Run the reactor for one load and return its result, for a synchronous program.

    ``load`` gets the reactor (e.g. ``lambda r: luxi.load_data(r, path)``).
    The reactor can run only once per process, which suits hspace: it
    loads one cluster, then computes. Any failure comes back as
    ``LoadError`` with one line of text; Ctrl-C as ``KeyboardInterrupt``.
    Programs pick the backend in Ganeti's order: RAPI (``-m``), LUXI
    (``-L``), simulation, text file, iallocator request.
    """
    from twisted.internet import reactor

    outcome: list[T | Failure] = []

    def start() -> None:
        loading = maybeDeferred(load, cast("ILiveReactor", reactor))
        loading.addBoth(outcome.append)
        loading.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    if not outcome:
        raise KeyboardInterrupt
    result = outcome[0]
    if isinstance(result, Failure):
        error = result.value
        if isinstance(error, LoadError):
            raise error
        raise LoadError(f"{type(error).__name__}: {error}".splitlines()[0])
    return result


def _show_key_set(keys: Sequence[str]) -> str:
    return "[" + ",".join(f'"{key}"' for key in sorted(keys)) + "]"


def _record(fields: Sequence[str], build: Callable[[JSObject], T]) -> Callable[[JSValue], T]:
    """A record read as Ganeti's generated ``readJSONfromDict`` reads it.

    Every field must be present and convert; keys beyond the record's are refused.
    """

    def read(value: JSValue) -> T:
        obj = read_object(value)
        result = build(obj)
        extra = sorted(set(obj.keys()) - set(fields))
        if extra:
            raise JSONError(
                f"Superfluous dictionary keys: {_show_key_set(extra)}, but only "
                f"{_show_key_set(fields)} allowed."
            )
        return result

    return read


_ISPEC_FIELDS = (
    "memory-size",
    "cpu-count",
    "disk-size",
    "disk-count",
    "nic-count",
    "spindle-use",
)


def _build_ispec(obj: JSObject) -> ISpec:
    mem, cpu, disk_size, disk_count, nic_count, spindle_use = (
        field_of(obj, key, read_int) for key in _ISPEC_FIELDS
    )
    return ISpec(mem, cpu, disk_size, disk_count, nic_count, spindle_use)


read_ispec = _record(_ISPEC_FIELDS, _build_ispec)
read_minmax = _record(
    ("min", "max"),
    lambda obj: MinMaxISpecs(field_of(obj, "min", read_ispec), field_of(obj, "max", read_ispec)),
)


def _build_ipolicy(obj: JSObject) -> IPolicy:
    minmax = field_of(obj, "minmax", read_list(read_minmax))
    std = field_of(obj, "std", read_ispec)
    templates = field_of(obj, "disk-templates", read_list(read_disk_template))
    vcpu_ratio = field_of(obj, "vcpu-ratio", read_double)
    spindle_ratio = field_of(obj, "spindle-ratio", read_double)
    return IPolicy(
        minmax=tuple(minmax),
        std=std,
        disk_templates=tuple(templates),
        vcpu_ratio=vcpu_ratio,
        spindle_ratio=spindle_ratio,
    )


read_ipolicy = _record(
    ("minmax", "std", "disk-templates", "vcpu-ratio", "spindle-ratio"), _build_ipolicy
)
"""An instance policy as Ganeti stores it in JSON (htools' ``IPolicy``)."""


def index_by_name(items: Sequence[tuple[str, T]]) -> tuple[dict[str, int], list[T]]:
    """Ganeti's ``assignIndices``: positions in order; a repeated name maps to its last."""
    return {name: position for position, (name, _) in enumerate(items)}, [item for _, item in items]


def assemble(
    groups: Sequence[tuple[str, Group]],
    nodes: Sequence[Node],
    instances: Sequence[Instance],
    cluster_tags: Sequence[str],
    cluster_policy: IPolicy,
    master: str | None,
    nodes_by_name: dict[str, int],
) -> ClusterData:
    """Number everything and mark the master (``assignIndices``, ``setMaster``).

    An iallocator request names no master (``None``): no node is marked.
    """
    if master is not None and master not in nodes_by_name:
        raise LoadError(f"Master node {master} unknown")
    master_position = -1 if master is None else nodes_by_name[master]
    numbered_nodes = []
    for position, node in enumerate(nodes):
        numbered = dataclasses.replace(node, idx=position)
        numbered.is_master = numbered.is_master or position == master_position
        numbered_nodes.append(numbered)
    return ClusterData(
        groups={position: dataclasses.replace(g, idx=position) for position, (_, g) in
                enumerate(groups)},
        nodes=numbered_nodes,
        instances=[dataclasses.replace(inst, idx=position) for position, inst in
                   enumerate(instances)],
        tags=list(cluster_tags),
        ipolicy=cluster_policy,
    )  # fmt: skip
