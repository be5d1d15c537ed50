"""Nodes (Ganeti's ``Node.hs``): records and the functions that place instances.

Every placement function returns a new node (a ``changed`` copy) or a
failure mode, in the order of checks of Ganeti's ``addPriEx``/``addSecExEx``:
the first failing check names the failure, and counts of failures are printed.
The exceptions are the ``record_*`` and ``apply_policy`` functions used
while loading: they change a node the loader has just copied for itself
(``copy_node``), because one copy per node instead of one per instance is
most of the loading time on large clusters.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from operator import attrgetter

from ganeti_agent.htools.hsformat import show_double
from ganeti_agent.htools.instance import Instance
from ganeti_agent.htools.types import DEF_IPOLICY, FailMode, IPolicy, LoadError

INT_RANGE = 2**63
"""A node's totals are Doubles that Ganeti truncates to its 64-bit ``Int``."""

Util = tuple[float, float, float, float]
BASE_UTIL: Util = (1.0, 1.0, 1.0, 1.0)
ZERO_UTIL: Util = (0.0, 0.0, 0.0, 0.0)


def _add_util(a: Util, b: Util) -> Util:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def _sub_util(a: Util, b: Util) -> Util:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3])


def _add_dsk_util(a: Util, b: Util, sign: int) -> Util:
    return (a[0], a[1], a[2] + b[2] if sign > 0 else a[2] - b[2], a[3])


def _add_tags(tags: dict[str, int], new: tuple[str, ...]) -> dict[str, int]:
    if not new:
        return tags
    out = dict(tags)
    for tag in new:
        out[tag] = out.get(tag, 0) + 1
    return out


def _del_tags(tags: dict[str, int], old: tuple[str, ...]) -> dict[str, int]:
    if not old:
        return tags
    out = dict(tags)
    for tag in old:
        if tag in out:
            if out[tag] > 1:
                out[tag] -= 1
            else:
                del out[tag]
    return out


def _add_pairs(
    mapping: dict[tuple[str, str], int], pairs: list[tuple[str, str]], sign: int
) -> dict[tuple[str, str], int]:
    if not pairs:
        return mapping
    out = dict(mapping)
    for pair in pairs:
        if sign > 0:
            out[pair] = out.get(pair, 0) + 1
        elif pair in out:
            if out[pair] > 1:
                out[pair] -= 1
            else:
                del out[pair]
    return out


def compute_pdsk(free: int, total: float) -> float:
    return 1.0 if total == 0 else free / total


@dataclass(slots=True)
class Node:
    """One node; treat as immutable (functions return changed copies)."""

    name: str
    t_mem: float
    n_mem: int
    f_mem: int
    t_dsk: float
    f_dsk: int
    t_cpu: float
    n_cpu: int
    offline: bool
    t_spindles: int
    f_spindles: int
    group: int
    excl_stor: bool
    alias: str = ""
    idx: int = -1
    i_mem: int = 0
    x_mem: int = 0
    p_mem: float = 0.0
    f_mem_forth: int = 0
    f_dsk_forth: int = 0
    t_cpu_speed: float = 1.0
    u_cpu: int = 0
    u_cpu_forth: int = 0
    f_spindles_forth: int = 0
    plist: tuple[int, ...] = ()
    plist_forth: tuple[int, ...] = ()
    slist: tuple[int, ...] = ()
    slist_forth: tuple[int, ...] = ()
    peers: dict[int, int] = field(default_factory=dict)
    fail_n1: bool = True
    r_mem: int = 0
    p_mem_forth: float = 0.0
    p_dsk: float = 0.0
    p_dsk_forth: float = 0.0
    p_rem: float = 0.0
    p_cpu: float = 0.0
    p_cpu_forth: float = 0.0
    lo_dsk: int = 0
    hi_cpu: int = 0
    hi_spindles: float = 0.0
    inst_spindles: float = 0.0
    inst_spindles_forth: float = 0.0
    is_master: bool = False
    tags: tuple[str, ...] = ()
    util_pool: Util = BASE_UTIL
    util_load: Util = ZERO_UTIL
    util_load_forth: Util = ZERO_UTIL
    p_tags: dict[str, int] = field(default_factory=dict)
    ipolicy: IPolicy = DEF_IPOLICY
    location_tags: frozenset[str] = frozenset()
    mig_tags: frozenset[str] = frozenset()
    """Migration restrictions of the node (``htools:migration:`` prefixes)."""
    rmig_tags: frozenset[str] = frozenset()
    """Migration restrictions the node accepts (its own, plus ``htools:allowmigration:``)."""
    location_score: int = 0
    instance_map: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def p_cpu_eff(self) -> float:
        """CPU load per unit of speed; a speed of 0 gives Haskell's Infinity or NaN."""
        return div(self.p_cpu, self.t_cpu_speed)

    @property
    def p_cpu_eff_forth(self) -> float:
        return div(self.p_cpu_forth, self.t_cpu_speed)

    @property
    def conflicting_primaries(self) -> int:
        return sum(self.p_tags.values()) - len(self.p_tags)

    @property
    def unallocated_mem(self) -> int:
        return math.trunc(self.t_mem) - self.n_mem - self.i_mem - max(0, self.x_mem)

    @property
    def avail_mem(self) -> int:
        return max(0, self.unallocated_mem - self.r_mem)

    @property
    def avail_disk(self) -> int:
        """``availDisk``; an Int difference, so it wraps when ``lo_dsk`` is ``minBound``."""
        if self.f_dsk < self.lo_dsk:
            return 0
        free = self.f_dsk - self.lo_dsk
        return free if free < INT_RANGE else free - 2 * INT_RANGE

    @property
    def avail_cpu(self) -> int:
        return self.hi_cpu - self.u_cpu if self.hi_cpu >= self.u_cpu else 0

    @property
    def missing_mem(self) -> int:
        return math.trunc(self.t_mem) - self.n_mem - self.i_mem - self.f_mem


_ALL_FIELDS = attrgetter(*(f.name for f in dataclasses.fields(Node)))


def copy_node(node: Node) -> Node:
    """A copy the caller may change in place (dicts and tuples in it stay shared).

    Several times cheaper than ``dataclasses.replace``, which looks up the
    fields of the class on every call.
    """
    return Node(*_ALL_FIELDS(node))


def floor_int(value: float) -> int:
    """GHC's ``floor :: Double -> Int`` (``floorDoubleInt``), for any double.

    GHC truncates with the processor's conversion, which gives ``minBound``
    for infinities, NaN and values beyond 64 bits, then subtracts one
    (wrapping) when the result is above the value. So ``Infinity`` and NaN
    floor to ``minBound`` and ``-Infinity`` to ``maxBound``; Ganeti goes on
    with those as node limits (a policy's ``vcpu_ratio``, ``--max-cpu``,
    ``--min-disk``), and so do we.
    """
    if math.isfinite(value) and -INT_RANGE <= value < INT_RANGE:
        truncated = math.trunc(value)
    else:
        truncated = -INT_RANGE
    if value < truncated:
        return truncated - 1 if truncated > -INT_RANGE else INT_RANGE - 1
    return truncated


def changed(node: Node, **fields: object) -> Node:
    """``dataclasses.replace`` for nodes, at the price of one ``copy_node``."""
    new = copy_node(node)
    for name, value in fields.items():
        setattr(new, name, value)
    return new


def _check_total(name: str, what: str, total: float) -> None:
    """Refuse a total that does not truncate to an ``Int``.

    GHC's ``truncate`` turns infinity, NaN and anything beyond 2^63 into
    ``minBound`` and Ganeti goes on with wrapped sums; following it through
    every later computation is not worth it for such input, so it stops here
    with one line instead.
    """
    if not (math.isfinite(total) and -INT_RANGE <= total < INT_RANGE):
        raise LoadError(f"node {name}: total {what} {show_double(total)} does not fit a 64-bit Int")


def create(
    name: str,
    t_mem: float,
    n_mem: int,
    f_mem: int,
    t_dsk: float,
    f_dsk: int,
    t_cpu: float,
    n_cpu: int,
    offline: bool,
    t_spindles: int,
    f_spindles: int,
    group: int,
    excl_stor: bool,
) -> Node:
    for what, total in (("memory", t_mem), ("disk", t_dsk), ("cpu", t_cpu)):
        _check_total(name, what, total)
    pdsk = compute_pdsk(f_spindles, float(t_spindles)) if excl_stor else compute_pdsk(f_dsk, t_dsk)
    return Node(
        name=name,
        alias=name,
        t_mem=t_mem,
        n_mem=n_mem,
        f_mem=f_mem,
        t_dsk=t_dsk,
        f_dsk=f_dsk,
        t_cpu=t_cpu,
        n_cpu=n_cpu,
        offline=offline,
        t_spindles=t_spindles,
        f_spindles=f_spindles,
        group=group,
        excl_stor=excl_stor,
        f_mem_forth=f_mem,
        f_dsk_forth=f_dsk,
        u_cpu=n_cpu,
        u_cpu_forth=n_cpu,
        f_spindles_forth=f_spindles,
        p_mem_forth=f_mem / t_mem if t_mem else _nan_div(f_mem),
        p_dsk=pdsk,
        p_dsk_forth=pdsk,
        p_cpu=n_cpu / t_cpu if t_cpu else _nan_div(n_cpu),
        p_cpu_forth=n_cpu / t_cpu if t_cpu else _nan_div(n_cpu),
        lo_dsk=0,
        hi_cpu=math.floor(DEF_IPOLICY.vcpu_ratio * t_cpu),
        hi_spindles=DEF_IPOLICY.spindle_ratio * t_spindles,
    )


def migration_allowed(source: Node, target: Node) -> bool:
    """``checkMigration``: may instances move from ``source`` to ``target`` (else FailMig)."""
    return source.mig_tags <= target.rmig_tags


def _nan_div(numerator: float) -> float:
    """IEEE division by zero, as Haskell's Double does it."""
    if numerator == 0:
        return math.nan
    return math.inf if numerator > 0 else -math.inf


def div(a: float, b: float) -> float:
    return a / b if b else _nan_div(a)


def apply_policy(node: Node, policy: IPolicy) -> None:
    """``setPolicy`` on a node being loaded (in place)."""
    node.ipolicy = policy
    node.hi_cpu = floor_int(policy.vcpu_ratio * node.t_cpu)
    node.hi_spindles = policy.spindle_ratio * node.t_spindles


def _spindle_use(node: Node, inst: Instance, current: float, add: bool) -> float:
    if node.excl_stor:
        return 0.0
    if not inst.uses_local_storage:
        return current
    return current + inst.spindle_use if add else current - inst.spindle_use


def _free_spindles(node: Node, inst: Instance, current: int, add: bool) -> int:
    if not node.excl_stor:
        return 0
    total = inst.total_spindles()
    if total is None:
        return -1 if add else current
    return current - total if add else current + total


def _new_pdsk(node: Node, free_sp: int, free_dsk: int) -> float:
    if node.excl_stor:
        return compute_pdsk(free_sp, float(node.t_spindles))
    return compute_pdsk(free_dsk, node.t_dsk)


def _dsrd_loc_score(node: Node, inst: Instance) -> int:
    return len(inst.dsrd_loc_tags) - len(inst.dsrd_loc_tags & node.location_tags)


def _loc_excl_pairs(node: Node, inst: Instance) -> list[tuple[str, str]]:
    return [(loc, excl) for loc in sorted(node.location_tags) for excl in inst.excl_tags]


def _unallocated_with(node: Node, i_mem: int) -> int:
    return math.trunc(node.t_mem) - node.n_mem - i_mem - max(0, node.x_mem)


def record_pri(node: Node, inst: Instance) -> None:
    """``setPri`` on a node being loaded (in place, no checks).

    The instance lists (``plist``, ``plist_forth``) are the caller's: it
    builds them once per node rather than one tuple per instance.
    """
    _record_pri_forth(node, inst)
    if inst.forthcoming:
        _record_forthcoming_disk(node, inst)
        return
    new_count = node.u_cpu if inst.is_offline else node.u_cpu + inst.vcpus
    node.u_cpu = new_count
    node.p_cpu = div(new_count, node.t_cpu)
    node.util_load = _add_util(node.util_load, BASE_UTIL)
    node.inst_spindles = _spindle_use(node, inst, node.inst_spindles, True)
    node.location_score += inst.location_score + _dsrd_loc_score(node, inst)
    node.instance_map = _add_pairs(node.instance_map, _loc_excl_pairs(node, inst), 1)


def _record_pri_forth(node: Node, inst: Instance) -> None:
    f_mem_forth = node.f_mem_forth if inst.uses_memory else node.f_mem_forth - inst.mem
    count_forth = node.u_cpu_forth if inst.is_offline else node.u_cpu_forth + inst.vcpus
    node.p_tags = _add_tags(node.p_tags, inst.excl_tags)
    node.u_cpu_forth = count_forth
    node.p_cpu_forth = div(count_forth, node.t_cpu)
    node.util_load_forth = _add_util(node.util_load_forth, BASE_UTIL)
    node.f_mem_forth = f_mem_forth
    node.p_mem_forth = div(f_mem_forth, node.t_mem)
    node.inst_spindles_forth = _spindle_use(node, inst, node.inst_spindles_forth, True)


def _record_forthcoming_disk(node: Node, inst: Instance) -> None:
    """What a forthcoming instance takes from the node's forthcoming disk and spindles."""
    f_dsk_forth = node.f_dsk_forth - inst.dsk if inst.uses_local_storage else node.f_dsk_forth
    free_sp_forth = _free_spindles(node, inst, node.f_spindles_forth, True)
    node.f_dsk_forth = f_dsk_forth
    node.f_spindles_forth = free_sp_forth
    node.p_dsk_forth = _new_pdsk(node, free_sp_forth, f_dsk_forth)


def record_sec(node: Node, inst: Instance) -> None:
    """``setSec`` on a node being loaded (in place, no checks; lists as in ``record_pri``)."""
    node.util_load_forth = _add_dsk_util(node.util_load_forth, BASE_UTIL, 1)
    node.inst_spindles_forth = _spindle_use(node, inst, node.inst_spindles_forth, True)
    if inst.forthcoming:
        _record_forthcoming_disk(node, inst)
        return
    node.util_load = _add_dsk_util(node.util_load, BASE_UTIL, 1)
    node.inst_spindles = _spindle_use(node, inst, node.inst_spindles, True)


def record_peers(node: Node, instances: list[Instance]) -> None:
    """``buildPeers`` on a node being loaded (in place): memory its secondaries need."""
    peers: dict[int, int] = {}
    for i_idx in node.slist:
        inst = instances[i_idx]
        mem = inst.mem if inst.uses_sec_mem and not inst.forthcoming else 0
        peers[inst.pnode] = peers.get(inst.pnode, 0) + mem
    r_mem = max(peers.values(), default=0)
    node.peers = peers
    node.fail_n1 = node.f_mem < r_mem
    node.r_mem = r_mem
    node.p_rem = div(r_mem, node.t_mem)


def add_pri(node: Node, inst: Instance, force: bool = False) -> Node | FailMode:
    """``addPriEx``: the node with ``inst`` as a new primary, or why not."""
    uses_disk = inst.uses_local_storage
    strict = not force
    l_cpu = node.ipolicy.vcpu_ratio
    online = not inst.is_offline
    new_mem_forth = node.f_mem_forth - inst.mem
    new_dsk_forth = node.f_dsk_forth - inst.dsk if uses_disk else node.f_dsk_forth
    new_free_sp_forth = _free_spindles(node, inst, node.f_spindles_forth, True)
    new_inst_sp_forth = _spindle_use(node, inst, node.inst_spindles_forth, True)
    new_ucpu_forth = node.u_cpu_forth + inst.vcpus if online else node.u_cpu_forth
    new_pcpu_forth = div(new_ucpu_forth, node.t_cpu)

    def forth_violation() -> FailMode | None:
        if new_mem_forth <= 0:
            return FailMode.FailMem
        if uses_disk and new_dsk_forth <= 0:
            return FailMode.FailDisk
        if uses_disk and new_dsk_forth < node.lo_dsk:
            return FailMode.FailDisk
        if uses_disk and node.excl_stor and new_free_sp_forth < 0:
            return FailMode.FailSpindles
        if uses_disk and new_inst_sp_forth > node.hi_spindles:
            return FailMode.FailDisk
        if l_cpu >= 0 and l_cpu < new_pcpu_forth:
            return FailMode.FailCPU
        return None

    def forth_fields() -> dict[str, object]:
        return {
            "p_tags": _add_tags(node.p_tags, inst.excl_tags),
            "plist_forth": (inst.idx, *node.plist_forth),
            "f_mem_forth": new_mem_forth,
            "f_dsk_forth": new_dsk_forth,
            "p_mem_forth": div(new_mem_forth, node.t_mem),
            "p_dsk_forth": _new_pdsk(node, new_free_sp_forth, new_dsk_forth),
            "u_cpu_forth": new_ucpu_forth,
            "p_cpu_forth": new_pcpu_forth,
            "util_load_forth": _add_util(node.util_load_forth, BASE_UTIL),
            "inst_spindles_forth": new_inst_sp_forth,
            "f_spindles_forth": new_free_sp_forth,
        }

    if inst.forthcoming:
        if strict:
            err = forth_violation()
            if err is not None:
                return err
        return changed(node, **forth_fields())
    new_i_mem = node.i_mem + inst.mem if inst.uses_memory else node.i_mem
    new_free_mem = _unallocated_with(node, new_i_mem)
    new_failn1 = new_free_mem <= node.r_mem
    new_dsk = node.f_dsk - inst.dsk if uses_disk else node.f_dsk
    new_free_sp = _free_spindles(node, inst, node.f_spindles, True)
    new_inst_sp = _spindle_use(node, inst, node.inst_spindles, True)
    new_ucpu = node.u_cpu + inst.vcpus if online else node.u_cpu
    new_pcpu = div(new_ucpu, node.t_cpu)
    if new_free_mem <= 0:
        return FailMode.FailMem
    if uses_disk and new_dsk <= 0:
        return FailMode.FailDisk
    if strict and uses_disk and new_dsk < node.lo_dsk:
        return FailMode.FailDisk
    if uses_disk and node.excl_stor and new_free_sp < 0:
        return FailMode.FailSpindles
    if strict and uses_disk and new_inst_sp > node.hi_spindles:
        return FailMode.FailDisk
    if strict and new_failn1 and not node.fail_n1:
        return FailMode.FailMem
    if strict and l_cpu >= 0 and l_cpu < new_pcpu:
        return FailMode.FailCPU
    if strict and any(tag in node.p_tags for tag in inst.excl_tags):
        return FailMode.FailTags
    if strict:
        err = forth_violation()
        if err is not None:
            return err
    return changed(
        node,
        plist=(inst.idx, *node.plist),
        i_mem=new_i_mem,
        f_dsk=new_dsk,
        fail_n1=new_failn1,
        p_mem=div(new_free_mem, node.t_mem),
        p_dsk=_new_pdsk(node, new_free_sp, new_dsk),
        u_cpu=new_ucpu,
        p_cpu=new_pcpu,
        util_load=_add_util(node.util_load, BASE_UTIL),
        inst_spindles=new_inst_sp,
        f_spindles=new_free_sp,
        location_score=node.location_score + inst.location_score + _dsrd_loc_score(node, inst),
        instance_map=_add_pairs(node.instance_map, _loc_excl_pairs(node, inst), 1),
        **forth_fields(),
    )


def add_sec(
    node: Node, inst: Instance, pdx: int, force: bool = False, ignore_disks: bool = False
) -> Node | FailMode:
    """``addSecExEx``: the node with ``inst`` as a new secondary, or why not."""
    strict = not force
    sec_mem = inst.mem if inst.uses_sec_mem else 0
    new_peem = node.peers.get(pdx, 0) + sec_mem
    new_dsk_forth = node.f_dsk_forth - inst.dsk
    new_free_sp_forth = _free_spindles(node, inst, node.f_spindles_forth, True)
    new_inst_sp_forth = _spindle_use(node, inst, node.inst_spindles_forth, True)

    def forth_violation() -> FailMode | None:
        if not inst.has_secondary:
            return FailMode.FailDisk
        if new_dsk_forth <= 0 or new_dsk_forth < node.lo_dsk:
            return FailMode.FailDisk
        if node.excl_stor and new_free_sp_forth < 0:
            return FailMode.FailSpindles
        if new_inst_sp_forth > node.hi_spindles:
            return FailMode.FailDisk
        if sec_mem >= node.f_mem_forth:
            return FailMode.FailMem
        return None

    forth_fields: dict[str, object] = {
        "slist_forth": (inst.idx, *node.slist_forth),
        "f_dsk_forth": new_dsk_forth,
        "p_dsk_forth": _new_pdsk(node, new_free_sp_forth, new_dsk_forth),
        "util_load_forth": _add_dsk_util(node.util_load_forth, BASE_UTIL, 1),
        "inst_spindles_forth": new_inst_sp_forth,
        "f_spindles_forth": new_free_sp_forth,
    }
    if inst.forthcoming:
        if strict:
            err = forth_violation()
            if err is not None:
                return err
        return changed(node, **forth_fields)
    old_mem = node.unallocated_mem
    new_dsk = node.f_dsk - inst.dsk
    new_free_sp = _free_spindles(node, inst, node.f_spindles, True)
    new_inst_sp = _spindle_use(node, inst, node.inst_spindles, True)
    new_rmem = max(node.r_mem, new_peem)
    new_failn1 = old_mem <= new_rmem
    if not inst.has_secondary:
        return FailMode.FailDisk
    if not ignore_disks and new_dsk <= 0:
        return FailMode.FailDisk
    if strict and new_dsk < node.lo_dsk:
        return FailMode.FailDisk
    if node.excl_stor and new_free_sp < 0:
        return FailMode.FailSpindles
    if strict and new_inst_sp > node.hi_spindles:
        return FailMode.FailDisk
    if strict and sec_mem >= old_mem:
        return FailMode.FailMem
    if strict and new_failn1 and not node.fail_n1:
        return FailMode.FailMem
    if strict:
        err = forth_violation()
        if err is not None:
            return err
    peers = dict(node.peers)
    peers[pdx] = new_peem
    return changed(
        node,
        slist=(inst.idx, *node.slist),
        f_dsk=new_dsk,
        peers=peers,
        fail_n1=new_failn1,
        r_mem=new_rmem,
        p_dsk=_new_pdsk(node, new_free_sp, new_dsk),
        p_rem=div(new_rmem, node.t_mem),
        util_load=_add_dsk_util(node.util_load, BASE_UTIL, 1),
        inst_spindles=new_inst_sp,
        f_spindles=new_free_sp,
        **forth_fields,
    )


def _delete_first(items: tuple[int, ...], value: int) -> tuple[int, ...]:
    if value not in items:
        return items
    pos = items.index(value)
    return items[:pos] + items[pos + 1 :]


def remove_pri(node: Node, inst: Instance) -> Node:
    uses_disk = inst.uses_local_storage
    online = not inst.is_offline
    new_mem_forth = node.f_mem_forth + inst.mem
    new_dsk_forth = node.f_dsk_forth + inst.dsk if uses_disk else node.f_dsk_forth
    new_free_sp_forth = _free_spindles(node, inst, node.f_spindles_forth, False)
    new_ucpu_forth = node.u_cpu_forth - inst.vcpus if online else node.u_cpu_forth
    forth_fields: dict[str, object] = {
        "p_tags": _del_tags(node.p_tags, inst.excl_tags),
        "plist_forth": _delete_first(node.plist_forth, inst.idx),
        "f_mem_forth": new_mem_forth,
        "f_dsk_forth": new_dsk_forth,
        "p_mem_forth": div(new_mem_forth, node.t_mem),
        "p_dsk_forth": _new_pdsk(node, new_free_sp_forth, new_dsk_forth),
        "u_cpu_forth": new_ucpu_forth,
        "p_cpu_forth": div(new_ucpu_forth, node.t_cpu),
        "util_load_forth": _sub_util(node.util_load_forth, BASE_UTIL),
        "inst_spindles_forth": _spindle_use(node, inst, node.inst_spindles_forth, False),
        "f_spindles_forth": new_free_sp_forth,
    }
    if inst.forthcoming:
        return changed(node, **forth_fields)
    new_i_mem = node.i_mem - inst.mem if inst.uses_memory else node.i_mem
    new_free_mem = _unallocated_with(node, new_i_mem)
    new_dsk = node.f_dsk + inst.dsk if uses_disk else node.f_dsk
    new_free_sp = _free_spindles(node, inst, node.f_spindles, False)
    new_ucpu = node.u_cpu - inst.vcpus if online else node.u_cpu
    return changed(
        node,
        plist=_delete_first(node.plist, inst.idx),
        i_mem=new_i_mem,
        f_dsk=new_dsk,
        fail_n1=new_free_mem <= node.r_mem,
        p_mem=div(new_free_mem, node.t_mem),
        p_dsk=_new_pdsk(node, new_free_sp, new_dsk),
        u_cpu=new_ucpu,
        p_cpu=div(new_ucpu, node.t_cpu),
        util_load=_sub_util(node.util_load, BASE_UTIL),
        inst_spindles=_spindle_use(node, inst, node.inst_spindles, False),
        f_spindles=new_free_sp,
        location_score=node.location_score - inst.location_score - _dsrd_loc_score(node, inst),
        instance_map=_add_pairs(node.instance_map, _loc_excl_pairs(node, inst), -1),
        **forth_fields,
    )


def remove_sec(node: Node, inst: Instance) -> Node:
    uses_disk = inst.uses_local_storage
    new_dsk_forth = node.f_dsk_forth + inst.dsk if uses_disk else node.f_dsk_forth
    new_free_sp_forth = _free_spindles(node, inst, node.f_spindles_forth, False)
    forth_fields: dict[str, object] = {
        "slist_forth": _delete_first(node.slist_forth, inst.idx),
        "f_dsk_forth": new_dsk_forth,
        "p_dsk_forth": _new_pdsk(node, new_free_sp_forth, new_dsk_forth),
        "util_load_forth": _add_dsk_util(node.util_load_forth, BASE_UTIL, -1),
        "inst_spindles_forth": _spindle_use(node, inst, node.inst_spindles_forth, False),
        "f_spindles_forth": new_free_sp_forth,
    }
    if inst.forthcoming:
        return changed(node, **forth_fields)
    new_dsk = node.f_dsk + inst.dsk if uses_disk else node.f_dsk
    new_free_sp = _free_spindles(node, inst, node.f_spindles, False)
    old_peem = node.peers.get(inst.pnode, 0)
    new_peem = old_peem - inst.mem if inst.uses_sec_mem else old_peem
    peers = dict(node.peers)
    if new_peem > 0:
        peers[inst.pnode] = new_peem
    else:
        peers.pop(inst.pnode, None)
    new_rmem = node.r_mem if old_peem < node.r_mem else max(peers.values(), default=0)
    return changed(
        node,
        slist=_delete_first(node.slist, inst.idx),
        f_dsk=new_dsk,
        peers=peers,
        fail_n1=node.unallocated_mem <= new_rmem,
        r_mem=new_rmem,
        p_dsk=_new_pdsk(node, new_free_sp, new_dsk),
        p_rem=div(new_rmem, node.t_mem),
        util_load=_add_dsk_util(node.util_load, BASE_UTIL, -1),
        inst_spindles=_spindle_use(node, inst, node.inst_spindles, False),
        f_spindles=new_free_sp,
        **forth_fields,
    )
