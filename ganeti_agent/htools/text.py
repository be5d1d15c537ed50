"""The text backend (Ganeti's ``Backend/Text.hs``): ``-t FILE`` and ``-S NAME``.

Parsing is pure (text in, ``ClusterData`` out); errors are ``LoadError``
with Ganeti's own messages.
"""

from __future__ import annotations

from collections.abc import Callable

from ganeti_agent.htools import instance as hinst
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.haskell_read import haskell_show_string
from ganeti_agent.htools.hsformat import fixed
from ganeti_agent.htools.instance import NO_SECONDARY, Disk, Instance
from ganeti_agent.htools.loader import (
    ClusterData,
    comma_split,
    lookup_group,
    lookup_node,
    read_double,
    read_int,
    sep_split,
)
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.types import (
    ALLOC_POLICY_RAW,
    DEF_IPOLICY,
    DISK_TEMPLATES,
    INSTANCE_STATUSES,
    IPolicy,
    ISpec,
    LoadError,
    MinMaxISpecs,
)

TYPE_CHECKING = False  # typing's, without importing typing: start-up time of the tools
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def hs_show_list(values: list[str]) -> str:
    """Haskell's ``show`` of a list of strings."""
    return "[" + ",".join(haskell_show_string(v) for v in values) + "]"


def _enum_error(type_name: str, value: str) -> LoadError:
    return LoadError(f"Invalid string value for type {type_name}: {haskell_show_string(value)}")


def _alloc_policy(raw: str) -> int:
    if raw not in ALLOC_POLICY_RAW:
        raise _enum_error("AllocPolicy", raw)
    return ALLOC_POLICY_RAW[raw]


def _disk_template(raw: str) -> str:
    if raw not in DISK_TEMPLATES:
        raise _enum_error("DiskTemplate", raw)
    return raw


def load_group(fields: list[str]) -> tuple[str, Group]:
    if len(fields) == 4:
        fields = [*fields, ""]
    if len(fields) < 5:
        raise LoadError(f"Invalid/incomplete group data: '{hs_show_list(fields)}'")
    name, uuid, policy, tags, nets = fields[:5]
    apol = _alloc_policy(policy)
    group = Group(
        name=name,
        uuid=uuid,
        alloc_policy=apol,  # type: ignore[arg-type]
        networks=tuple(comma_split(nets)),
        tags=tuple(comma_split(tags)),
    )
    return uuid, group


_NODE_DEFAULTS = ["1", "", "N", "0", "1", "1.0"]


def load_node(groups_by_uuid: dict[str, int], fields: list[str]) -> tuple[str, Node]:
    if 9 <= len(fields) < 15:
        fields = fields + _NODE_DEFAULTS[len(fields) - 9 :]
    if len(fields) < 15:
        raise LoadError(f"Invalid/incomplete node data: '{hs_show_list(fields)}'")
    name, tm, nm, fm, td, fd, tc, fo, gu, spindles, tags, excl, free_sp, nos_cpu, speed = fields[
        :15
    ]
    gdx = lookup_group(groups_by_uuid, name, gu)
    if "?" in (tm, nm, fm, td, fd, tc):
        return name, hnode.create(name, 0.0, 0, 0, 0.0, 0, 0.0, 0, True, 0, 0, gdx, False)
    vtags = tuple(comma_split(tags))
    vtm = read_double(name, tm)
    vnm = read_int(name, nm)
    vfm = read_int(name, fm)
    vtd = read_double(name, td)
    vfd = read_int(name, fd)
    vtc = read_double(name, tc)
    vnc = read_int(name, nos_cpu)
    vspindles = read_int(name, spindles)
    vspeed = read_double(name, speed)
    vfree_sp = read_int(name, free_sp)
    if excl not in ("Y", "N"):
        raise LoadError(f"Invalid exclusive_storage value for node '{name}': {excl}")
    node = hnode.create(
        name, vtm, vnm, vfm, vtd, vfd, vtc, vnc, fo == "Y", vspindles, vfree_sp, gdx, excl == "Y"
    )
    node.tags = vtags
    node.t_cpu_speed = vspeed
    node.is_master = fo == "M"
    return name, node


_INST_DEFAULTS = {10: ["1", "-", "N"], 11: ["-", "N"], 12: ["N"]}


def load_inst(
    nodes_by_name: dict[str, int], fields: list[str], idx: int = -1
) -> tuple[str, Instance]:
    if len(fields) in _INST_DEFAULTS:
        fields = fields + _INST_DEFAULTS[len(fields)]
    if len(fields) < 13:
        raise LoadError(f"Invalid/incomplete instance data: '{hs_show_list(fields)}'")
    name, mem, dsk, vcpus, status, auto_bal, pnode, snode, dt, tags, su, spindles, forth = fields[
        :13
    ]
    pidx = lookup_node(nodes_by_name, name, pnode)
    sidx = NO_SECONDARY if snode == "" else lookup_node(nodes_by_name, name, snode)
    vmem = read_int(name, mem)
    dsize = read_int(name, dsk)
    vvcpus = read_int(name, vcpus)
    if status not in INSTANCE_STATUSES:
        raise _enum_error("InstanceStatus", status)
    if auto_bal not in ("Y", "N"):
        raise LoadError(f"Invalid auto_balance value '{auto_bal}' for instance {name}")
    if dt not in DISK_TEMPLATES:
        shown = haskell_show_string(dt)
        raise LoadError(f"Instance {name}: Invalid string value for type DiskTemplate: {shown}")
    spindle_use = read_int(name, su)
    vspindles = None if spindles == "-" else read_int(name, spindles)
    if forth not in ("Y", "N"):
        raise LoadError(f"Invalid forthcoming value '{forth}' for instance {name}")
    inst = hinst.create(
        name,
        vmem,
        dsize,
        (Disk(dsize, vspindles),),
        vvcpus,
        status,
        tuple(comma_split(tags)),
        auto_bal == "Y",
        pidx,
        sidx,
        dt,
        spindle_use,
        forth == "Y",
        idx,
    )
    if inst.has_secondary and sidx == pidx:
        raise LoadError(f"Instance {name} has same primary and secondary node - {pnode}")
    return name, inst


def load_ispec(owner: str, fields: list[str]) -> ISpec:
    if len(fields) < 6:
        raise LoadError(f"Invalid ispec data for {owner}: {hs_show_list(fields)}")
    return ISpec(
        mem=read_int(owner + "/memsize", fields[0]),
        cpu=read_int(owner + "/cpucount", fields[1]),
        disk_size=read_int(owner + "/disksize", fields[2]),
        disk_count=read_int(owner + "/diskcount", fields[3]),
        nic_count=read_int(owner + "/niccount", fields[4]),
        spindle_use=read_int(owner + "/spindleuse", fields[5]),
    )


def load_ipolicy(fields: list[str]) -> tuple[str, IPolicy]:
    if len(fields) < 6:
        raise LoadError(f"Invalid ipolicy data: '{hs_show_list(fields)}'")
    owner, std, minmax_text, templates, vcpu_ratio, spindle_ratio = fields[:6]
    stdspec = load_ispec(owner + "/stdspec", comma_split(std))
    specs = sep_split(";", minmax_text)
    if len(specs) % 2:
        raise LoadError(f"Odd number of min/max specs for {owner}")
    minmax = tuple(
        MinMaxISpecs(
            load_ispec(owner + "/minspec", comma_split(specs[k])),
            load_ispec(owner + "/maxspec", comma_split(specs[k + 1])),
        )
        for k in range(0, len(specs), 2)
    )
    dts = tuple(_disk_template(t) for t in comma_split(templates))
    return owner, IPolicy(
        minmax=minmax,
        std=stdspec,
        disk_templates=dts,
        vcpu_ratio=read_double(owner + "/vcpu_ratio", vcpu_ratio),
        spindle_ratio=read_double(owner + "/spindle_ratio", spindle_ratio),
    )


def _load_tabular(
    lines: list[str], convert: Callable[[list[str]], tuple[str, T]]
) -> tuple[dict[str, int], list[T]]:
    names: dict[str, int] = {}
    items: list[T] = []
    for pos, line in enumerate(lines):
        key, item = convert(sep_split("|", line))
        names[key] = pos
        items.append(item)
    return names, items


def _sections(text: str) -> list[list[str]]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return []
    sections: list[list[str]] = [[]]
    for line in lines:
        if line == "":
            sections.append([])
        else:
            sections[-1].append(line)
    return sections


def parse_data(text: str) -> ClusterData:
    """``parseData``: the cluster as written in the file, before merging."""
    sections = _sections(text)
    if len(sections) < 4:
        raise LoadError(
            f"Invalid format of the input file: {len(sections)} sections instead of 4 or more"
        )
    glines, nlines, ilines, ctags = sections[:4]
    pollines = sections[4] if len(sections) > 4 else []
    ktg, groups = _load_tabular(glines, load_group)
    import dataclasses

    groups = [dataclasses.replace(g, idx=k) for k, g in enumerate(groups)]
    ktn, nodes = _load_tabular(nlines, lambda f: load_node(ktg, f))
    for k, n in enumerate(nodes):
        n.idx = k
    instances = [load_inst(ktn, sep_split("|", line), k)[1] for k, line in enumerate(ilines)]
    cpol = DEF_IPOLICY
    group_map = dict(enumerate(groups))
    for line in pollines:
        owner, ipol = load_ipolicy(sep_split("|", line))
        if owner == "":
            cpol = ipol
            continue
        found = [g for g in group_map.values() if g.name == owner]
        if not found:
            raise LoadError(f"Unknown group '{owner}'")
        grp = found[0]
        group_map[grp.idx] = dataclasses.replace(grp, ipolicy=ipol)
    return ClusterData(group_map, nodes, instances, list(ctags), cpol)


def _show_double_ratio(value: float) -> str:
    from ganeti_agent.htools.hsformat import show_double

    return show_double(value)


def serialize_ispec(spec: ISpec) -> str:
    return ",".join(
        str(v)
        for v in (
            spec.mem,
            spec.cpu,
            spec.disk_size,
            spec.disk_count,
            spec.nic_count,
            spec.spindle_use,
        )
    )


def serialize_ipolicy(owner: str, pol: IPolicy) -> str:
    minmax = ";".join(
        serialize_ispec(m.min_spec) + ";" + serialize_ispec(m.max_spec) for m in pol.minmax
    )
    return "|".join(
        [
            owner,
            serialize_ispec(pol.std),
            minmax,
            ",".join(pol.disk_templates),
            _show_double_ratio(pol.vcpu_ratio),
            _show_double_ratio(pol.spindle_ratio),
        ]
    )


def _c_fixed6(value: float) -> str:
    """``printf "%f"`` of a Haskell Double (shortest digits: ``1.0``)."""
    from ganeti_agent.htools.hsformat import fixed_shortest

    return fixed_shortest(value)


def serialize_cluster(data: ClusterData) -> str:
    """``serializeCluster``: the text that ``-S`` writes."""
    groups = sorted(data.groups.values(), key=lambda g: g.idx)
    gdata = "".join(
        f"{g.name}|{g.uuid}|{g.alloc_policy.name}|{','.join(g.tags)}|{','.join(g.networks)}\n"
        for g in groups
    )
    ndata = ""
    for n in data.nodes:
        flag = "Y" if n.offline else ("M" if n.is_master else "N")
        ndata += (
            f"{n.name}|{fixed(n.t_mem, 0)}|{n.n_mem}|{n.f_mem}|{fixed(n.t_dsk, 0)}|{n.f_dsk}|"
            f"{fixed(n.t_cpu, 0)}|{flag}|{data.groups[n.group].uuid}|{n.t_spindles}|"
            f"{','.join(n.tags)}|{'Y' if n.excl_stor else 'N'}|{n.f_spindles}|{n.n_cpu}|"
            f"{_c_fixed6(n.t_cpu_speed)}\n"
        )
    idata = ""
    for inst in data.instances:
        snode = "" if inst.snode == NO_SECONDARY else data.nodes[inst.snode].name
        spn = inst.total_spindles()
        idata += (
            f"{inst.name}|{inst.mem}|{inst.dsk}|{inst.vcpus}|{inst.run_st}|"
            f"{'Y' if inst.auto_balance else 'N'}|{data.nodes[inst.pnode].name}|{snode}|"
            f"{inst.disk_template}|{','.join(inst.all_tags)}|{inst.spindle_use}|"
            f"{'-' if spn is None else spn}|{'Y' if inst.forthcoming else 'N'}\n"
        )
    tdata = "".join(t + "\n" for t in data.tags)
    pdata = serialize_ipolicy("", data.ipolicy) + "\n"
    pdata += "".join(serialize_ipolicy(g.name, g.ipolicy) + "\n" for g in groups)
    return "\n".join([gdata, ndata, idata, tdata, pdata])
