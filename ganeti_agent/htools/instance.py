"""Instances (Ganeti's ``Instance.hs``): records and the policy checks on them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ganeti_agent.htools.types import (
    LOCAL_STORAGE,
    MOVABLE_TEMPLATES,
    NO_MEMORY_STATUSES,
    RUNNING_STATUSES,
    UNIT_CPU,
    UNIT_DSK,
    UNIT_MEM,
    UNIT_SPINDLE,
    FailMode,
    IPolicy,
    ISpec,
    MinMaxISpecs,
    RSpec,
)

NO_SECONDARY = -1


@dataclass(frozen=True, slots=True)
class Disk:
    """One disk of an instance: MiB, and spindles where the cluster reports them."""

    size: int
    spindles: int | None


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance; functions below return changed copies."""

    name: str
    mem: int
    dsk: int
    disks: tuple[Disk, ...]
    vcpus: int
    run_st: str
    pnode: int
    snode: int
    disk_template: str
    spindle_use: int
    all_tags: tuple[str, ...] = ()
    auto_balance: bool = True
    forthcoming: bool = False
    alias: str = ""
    idx: int = -1
    excl_tags: tuple[str, ...] = ()
    dsrd_loc_tags: frozenset[str] = frozenset()
    location_score: int = 0
    movable: bool = True

    @property
    def is_running(self) -> bool:
        return self.run_st in RUNNING_STATUSES

    @property
    def is_offline(self) -> bool:
        return self.run_st == "ADMIN_offline"

    @property
    def uses_sec_mem(self) -> bool:
        return not self.is_offline and self.auto_balance

    @property
    def uses_local_storage(self) -> bool:
        return self.disk_template in LOCAL_STORAGE

    @property
    def has_secondary(self) -> bool:
        return self.disk_template == "drbd"

    @property
    def uses_memory(self) -> bool:
        return not self.forthcoming and self.run_st not in NO_MEMORY_STATUSES

    def total_spindles(self) -> int | None:
        total = 0
        for disk in self.disks:
            if disk.spindles is None:
                return None
            total += disk.spindles
        return total

    def spec(self) -> RSpec:
        spn = (
            self.disks[0].spindles
            if len(self.disks) == 1 and self.disks[0].spindles is not None
            else 0
        )
        return RSpec(cpu=self.vcpus, mem=self.mem, dsk=self.dsk, spn=spn)

    def all_nodes(self) -> list[int]:
        return [self.pnode, self.snode] if self.has_secondary else [self.pnode]


def create(
    name: str,
    mem: int,
    dsk: int,
    disks: tuple[Disk, ...],
    vcpus: int,
    run_st: str,
    tags: tuple[str, ...],
    auto_balance: bool,
    pnode: int,
    snode: int,
    template: str,
    spindle_use: int,
    forthcoming: bool,
    idx: int = -1,
) -> Instance:
    return Instance(
        name=name,
        mem=mem,
        dsk=dsk,
        disks=disks,
        vcpus=vcpus,
        run_st=run_st,
        pnode=pnode,
        snode=snode,
        disk_template=template,
        spindle_use=spindle_use,
        all_tags=tags,
        auto_balance=auto_balance,
        forthcoming=forthcoming,
        alias=name,
        idx=idx,
        movable=template in MOVABLE_TEMPLATES,
    )


def required_nodes(template: str) -> int:
    return 2 if template == "drbd" else 1


def shrink_by_type(inst: Instance, mode: FailMode) -> Instance | None:
    """A smaller instance for tiered allocation, or None when it cannot shrink."""
    if mode == FailMode.FailMem:
        mem = inst.mem - UNIT_MEM
        return None if mem < UNIT_MEM else dataclasses.replace(inst, mem=mem)
    if mode == FailMode.FailDisk:
        disks = tuple(Disk(d.size - UNIT_DSK, d.spindles) for d in inst.disks)
        if any(d.size < UNIT_DSK for d in disks):
            return None
        return dataclasses.replace(inst, dsk=inst.dsk - len(inst.disks) * UNIT_DSK, disks=disks)
    if mode == FailMode.FailCPU:
        vcpus = inst.vcpus - UNIT_CPU
        return None if vcpus < UNIT_CPU else dataclasses.replace(inst, vcpus=vcpus)
    if mode == FailMode.FailSpindles:
        if len(inst.disks) != 1 or inst.disks[0].spindles is None:
            return None
        spn = inst.disks[0].spindles - UNIT_SPINDLE
        if spn < UNIT_SPINDLE:
            return None
        return dataclasses.replace(inst, disks=(Disk(inst.disks[0].size, spn),))
    return None


def _cmp(a: int, b: int) -> int:
    return (a > b) - (a < b)


def _compare_ispec(which: int, inst: Instance, spec: ISpec, excl_stor: bool) -> FailMode | None:
    if which == _cmp(inst.mem, spec.mem):
        return FailMode.FailMem
    if any(which == _cmp(d.size, spec.disk_size) for d in inst.disks):
        return FailMode.FailDisk
    if which == _cmp(inst.vcpus, spec.cpu):
        return FailMode.FailCPU
    if excl_stor:
        total = inst.total_spindles()
        if total is None or which == _cmp(total, spec.spindle_use):
            return FailMode.FailSpindles
    elif which == _cmp(inst.spindle_use, spec.spindle_use):
        return FailMode.FailSpindles
    if inst.disk_template != "diskless" and which == _cmp(len(inst.disks), spec.disk_count):
        return FailMode.FailDiskCount
    return None


def _matches_minmax(inst: Instance, minmax: MinMaxISpecs, excl_stor: bool) -> FailMode | None:
    below_min = _compare_ispec(-1, inst, minmax.min_spec, excl_stor)
    if below_min is not None:
        return below_min
    return _compare_ispec(1, inst, minmax.max_spec, excl_stor)


def matches_policy(inst: Instance, policy: IPolicy, excl_stor: bool) -> FailMode | None:
    """``instMatchesPolicy``: None when the instance fits, else the failure."""
    if policy.minmax:
        # Haskell folds from the right: the last min/max pair is tried first,
        # and the result of the first pair (in file order) that is tried last wins.
        result: FailMode | None = FailMode.FailInternal
        for minmax in reversed(policy.minmax):
            if result is not None:
                result = _matches_minmax(inst, minmax, excl_stor)
        if result is not None:
            return result
    if inst.disk_template not in policy.disk_templates:
        return FailMode.FailDisk
    return None
