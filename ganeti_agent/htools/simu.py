"""The simulation backend (Ganeti's ``Backend/Simu.hs``): ``--simulate``."""

from __future__ import annotations

from ganeti_agent.htools import haskell_read
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.haskell_read import ReadError
from ganeti_agent.htools.loader import ClusterData, read_int, sep_split
from ganeti_agent.htools.types import ALLOC_POLICY_RAW, AllocPolicy, LoadError

_ABBREV = {"p": AllocPolicy.preferred, "a": AllocPolicy.last_resort, "u": AllocPolicy.unallocable}


def parse_unit(text: str) -> int:
    """``parseUnit``: a size with an optional unit, in MiB (truncated)."""
    try:
        return haskell_read.parse_unit(text)
    except ReadError as error:
        raise LoadError(str(error)) from None


def _annotated(what: str, text: str) -> int:
    try:
        return parse_unit(text)
    except LoadError as err:
        raise LoadError(f"{what}: {err}") from None


def _read_bool(owner: str, text: str) -> bool:
    stripped = text.lstrip()
    if stripped in ("True", "False"):
        return stripped == "True"
    raise LoadError(f"{owner}: cannot parse string '{text}'")


def parse_desc(desc: str) -> tuple[AllocPolicy, int, int, int, int, int, bool]:
    fields = sep_split(",", desc)
    if len(fields) == 5:
        fields.append("1")
    if len(fields) == 6:
        fields.append("False")
    if len(fields) != 7:
        raise LoadError(
            "Invalid cluster specification, expected 6 comma-separated sections (allocation "
            "policy, node count, disk size, memory size, number of CPUs, spindles) but got "
            f"{len(sep_split(',', desc))}: '{desc}'"
        )
    policy, count, disk, mem, cpu, spindles, excl = fields
    if policy in ALLOC_POLICY_RAW:
        apol = ALLOC_POLICY_RAW[policy]
    elif policy in _ABBREV:
        apol = _ABBREV[policy]
    else:
        raise LoadError(f"Cannot parse AllocPolicy abbreviation '{policy}'")
    return (
        apol,
        read_int("node count", count),
        _annotated("disk size", disk),
        _annotated("memory size", mem),
        read_int("cpu count", cpu),
        read_int("spindles", spindles),
        _read_bool("exclusive storage", excl),
    )


def parse_data(descs: list[str]) -> ClusterData:
    """One group per description, nodes ``node-GG-NNN``, no instances."""
    groups: dict[int, Group] = {}
    nodes: list[hnode.Node] = []
    for gidx, desc in enumerate(descs, start=1):
        apol, count, disk, mem, cpu, spindles, excl = parse_desc(desc)
        for pos in range(1, count + 1):
            node = hnode.create(
                f"node-{gidx:02d}-{pos:03d}",
                float(mem),
                0,
                mem,
                float(disk),
                disk,
                float(cpu),
                1,
                False,
                spindles,
                0,
                gidx,
                excl,
            )
            node.is_master = gidx == 1 and pos == 1
            node.idx = len(nodes)
            nodes.append(node)
        groups[gidx] = Group(
            name=f"group-{gidx:02d}", uuid=f"fake-uuid-{gidx:02d}", alloc_policy=apol, idx=gidx
        )
    return ClusterData(groups, nodes, [], node_index_base=1)
