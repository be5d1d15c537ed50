"""Basic htools types: failure modes, instance specs and policies, disk templates."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FailMode(enum.IntEnum):
    """Why an allocation step failed; the order is Haskell's ``Enum`` order."""

    FailMem = 0
    FailDisk = 1
    FailCPU = 2
    FailN1 = 3
    FailTags = 4
    FailMig = 5
    FailDiskCount = 6
    FailSpindles = 7
    FailInternal = 8


class AllocPolicy(enum.IntEnum):
    """Group allocation policy; the order is the preference order."""

    preferred = 0
    last_resort = 1
    unallocable = 2


ALLOC_POLICY_RAW = {
    "preferred": AllocPolicy.preferred,
    "last_resort": AllocPolicy.last_resort,
    "unallocable": AllocPolicy.unallocable,
}

# Ganeti's DiskTemplate in its Enum order (minBound..maxBound).
DISK_TEMPLATES = (
    "diskless",
    "file",
    "sharedfile",
    "plain",
    "blockdev",
    "drbd",
    "rbd",
    "ext",
    "gluster",
)
LOCAL_STORAGE = frozenset({"drbd", "plain"})
MOVABLE_TEMPLATES = frozenset({"drbd", "blockdev", "sharedfile", "gluster", "rbd", "ext"})
# diskTemplateMovable: the templates whose instances can change primary freely.
SHARED_MOVABLE = frozenset({"diskless", "sharedfile", "rbd", "ext", "gluster"})

INSTANCE_STATUSES = (
    "ADMIN_down",
    "ADMIN_offline",
    "ERROR_down",
    "ERROR_up",
    "ERROR_nodedown",
    "ERROR_nodeoffline",
    "running",
    "USER_down",
    "ERROR_wrongnode",
)
RUNNING_STATUSES = frozenset({"running", "ERROR_up"})
NO_MEMORY_STATUSES = frozenset({"ADMIN_down", "ADMIN_offline", "ERROR_down", "USER_down"})

UNIT_MEM = 64
UNIT_DSK = 256
UNIT_CPU = 1
UNIT_SPINDLE = 1


@dataclass(frozen=True, slots=True)
class ISpec:
    """An instance spec of a policy (min, max or standard)."""

    mem: int
    cpu: int
    disk_size: int
    disk_count: int
    nic_count: int
    spindle_use: int


@dataclass(frozen=True, slots=True)
class MinMaxISpecs:
    """One range of a policy: the smallest and the largest instance it allows."""

    min_spec: ISpec
    max_spec: ISpec


@dataclass(frozen=True, slots=True)
class IPolicy:
    """An instance policy: bounds, standard spec, templates, ratios."""

    minmax: tuple[MinMaxISpecs, ...]
    std: ISpec
    disk_templates: tuple[str, ...]
    vcpu_ratio: float
    spindle_ratio: float


@dataclass(frozen=True, slots=True)
class RSpec:
    """A requested instance size, as hspace reports it."""

    cpu: int
    mem: int
    dsk: int
    spn: int


DEF_STD_ISPEC = ISpec(128, 1, 1024, 1, 1, 1)
DEF_MIN_ISPEC = ISpec(128, 1, 1024, 1, 1, 1)
DEF_MAX_ISPEC = ISpec(32768, 8, 1024 * 1024, 16, 8, 12)
DEF_IPOLICY = IPolicy(
    minmax=(MinMaxISpecs(DEF_MIN_ISPEC, DEF_MAX_ISPEC),),
    std=DEF_STD_ISPEC,
    disk_templates=DISK_TEMPLATES,
    vcpu_ratio=4.0,
    spindle_ratio=32.0,
)


def rspec_from_ispec(spec: ISpec) -> RSpec:
    return RSpec(cpu=spec.cpu, mem=spec.mem, dsk=spec.disk_size, spn=spec.spindle_use)


class LoadError(Exception):
    """A cluster description could not be loaded; the message is Ganeti's."""
