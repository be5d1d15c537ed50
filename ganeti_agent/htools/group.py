"""Node groups (Ganeti's ``Group.hs``)."""

from __future__ import annotations

from dataclasses import dataclass

from ganeti_agent.htools.types import DEF_IPOLICY, AllocPolicy, IPolicy


@dataclass(frozen=True, slots=True)
class Group:
    """A node group: allocation policy, instance policy, and its index in the cluster."""

    name: str
    uuid: str
    alloc_policy: AllocPolicy
    networks: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    ipolicy: IPolicy = DEF_IPOLICY
    idx: int = -1

    @property
    def is_allocable(self) -> bool:
        return self.alloc_policy != AllocPolicy.unallocable
