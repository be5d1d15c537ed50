"""The hspace program (Ganeti's ``Program/Hspace.hs``): how many more instances fit.

Only loading, option handling and printing live here; the allocation
itself is in ``cluster``. Output is byte for byte Ganeti 3.0.2's.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from typing import TextIO

from ganeti_agent.htools import cli, globaln1, metrics, text
from ganeti_agent.htools import instance as hinst
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.cluster import (
    AllocError,
    AllocNodes,
    AllocOptions,
    CStats,
    FailStats,
    State,
    bad_nodes,
    gen_alloc_nodes,
    iterate_alloc,
    tiered_alloc,
    total_resources,
)
from ganeti_agent.htools.haskell_read import wrap_int
from ganeti_agent.htools.hsformat import fixed, show_double
from ganeti_agent.htools.instance import NO_SECONDARY, Disk, Instance
from ganeti_agent.htools.loader import ClusterData, common_suffix
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.source import ExitError, ToolDied, load_cluster, set_node_status
from ganeti_agent.htools.types import AllocPolicy, FailMode, RSpec, rspec_from_ispec


class HaskellCrash(Exception):
    """Where Ganeti's hspace dies on a Haskell runtime error: ``hspace: <message>``, exit 1."""


def _fail_name(mode: object) -> str:
    return str(getattr(mode, "name", mode))


# ---------------------------------------------------------------- printing


def _quoted(value: str) -> str:
    if all(c.isalnum() or c == "." for c in value):
        return value
    return "'" + value + "'"


def print_keys(out: TextIO, pairs: list[tuple[str, str]]) -> None:
    for key, value in pairs:
        out.write(f"HTS_{key.upper()}={_quoted(value)}\n")


def _eff(num: int, den: float) -> float:
    return hnode.div(float(num), den)


def _stats_data(cs: CStats) -> list[tuple[str, str]]:
    return [
        ("SCORE", fixed(cs.score, 8)),
        ("INST_CNT", str(cs.ninst)),
        ("MEM_FREE", str(cs.fmem)),
        ("MEM_AVAIL", str(cs.amem)),
        ("MEM_RESVD", str(cs.fmem - cs.amem)),
        ("MEM_INST", str(cs.imem)),
        ("MEM_OVERHEAD", str(cs.xmem + cs.nmem)),
        ("MEM_EFF", fixed(_eff(cs.imem, cs.tmem), 8)),
        ("DSK_FREE", str(cs.fdsk)),
        ("DSK_AVAIL", str(cs.adsk)),
        ("DSK_RESVD", str(cs.fdsk - cs.adsk)),
        ("DSK_INST", str(cs.idsk)),
        ("DSK_EFF", fixed(_eff(cs.idsk, cs.tdsk), 8)),
        ("SPN_FREE", str(cs.fspn)),
        ("SPN_INST", str(cs.ispn)),
        ("SPN_EFF", fixed(_eff(cs.ispn, cs.tspn), 8)),
        ("CPU_INST", str(cs.icpu)),
        ("CPU_EFF", fixed(_eff(cs.icpu, float(cs.vcpu)), 8)),
        ("MNODE_MEM_AVAIL", str(cs.mmem)),
        ("MNODE_DSK_AVAIL", str(cs.mdsk)),
    ]


def _spec_data(spec: RSpec, spindles: bool) -> list[tuple[str, str]]:
    data = [("MEM", str(spec.mem)), ("DSK", str(spec.dsk)), ("CPU", str(spec.cpu))]
    if spindles:
        data.append(("SPN", str(spec.spn)))
    return data


def _cluster_data(cs: CStats, spindles: bool) -> list[tuple[str, str]]:
    data = [
        ("MEM", fixed(cs.tmem, 0)),
        ("DSK", fixed(cs.tdsk, 0)),
        ("CPU", fixed(cs.tcpu, 0)),
        ("VCPU", str(cs.vcpu)),
    ]
    if spindles:
        data.append(("SPN", fixed(cs.tspn, 0)))
    return data


def _resources(data: list[tuple[str, str]]) -> str:
    return ", ".join(f"{k} {v}" for k, v in data)


def _have_excl(nodes: list[Node]) -> bool:
    return any(n.excl_stor for n in nodes)


def _node_field(node: Node, field: str, base: int) -> str:
    load = node.util_load
    values: dict[str, Callable[[], str]] = {
        "idx": lambda: f"{node.idx + base:4d}",
        "name": lambda: node.alias,
        "fqdn": lambda: node.name,
        "status": lambda: "-" if node.offline else ("*" if node.fail_n1 else " "),
        "tmem": lambda: fixed(node.t_mem, 0).rjust(5),
        "nmem": lambda: f"{node.n_mem:5d}",
        "xmem": lambda: f"{node.x_mem:5d}",
        "fmem": lambda: f"{node.f_mem:5d}",
        "umem": lambda: f"{node.unallocated_mem:5d}",
        "imem": lambda: f"{node.i_mem:5d}",
        "rmem": lambda: f"{node.r_mem:5d}",
        "amem": lambda: f"{node.avail_mem:5d}",
        "tdsk": lambda: fixed(node.t_dsk / 1024, 0).rjust(5),
        "fdsk": lambda: f"{node.f_dsk // 1024:5d}",
        "tcpu": lambda: fixed(node.t_cpu, 0).rjust(4),
        "ucpu": lambda: f"{node.u_cpu:4d}",
        "pcnt": lambda: f"{len(node.plist):3d}",
        "scnt": lambda: f"{len(node.slist):3d}",
        "plist": lambda: "[" + ",".join(map(str, node.plist)) + "]",
        "slist": lambda: "[" + ",".join(map(str, node.slist)) + "]",
        "pfmem": lambda: fixed(node.p_mem, 4).rjust(6),
        "pfdsk": lambda: fixed(node.p_dsk, 4).rjust(6),
        "rcpu": lambda: fixed(node.p_cpu, 2).rjust(5),
        "cload": lambda: fixed(load[0], 3).rjust(5),
        "mload": lambda: fixed(load[1], 3).rjust(5),
        "dload": lambda: fixed(load[2], 3).rjust(5),
        "nload": lambda: fixed(load[3], 3).rjust(5),
        "ptags": lambda: ",".join(f"{k}={v}" for k, v in sorted(node.p_tags.items())),
        "spindle_count": lambda: str(node.t_spindles),
        "hi_spindles": lambda: show_double(node.hi_spindles),
        "inst_spindles": lambda: show_double(node.inst_spindles),
    }
    return values[field]() if field in values else "<unknown field>"


_HEADERS = {
    "idx": ("Index", True),
    "name": ("Name", False),
    "fqdn": ("Name", False),
    "status": ("F", False),
    "tmem": ("t_mem", True),
    "nmem": ("n_mem", True),
    "xmem": ("x_mem", True),
    "fmem": ("f_mem", True),
    "umem": ("u_mem", True),
    "amem": ("a_mem", True),
    "imem": ("i_mem", True),
    "rmem": ("r_mem", True),
    "tdsk": ("t_dsk", True),
    "fdsk": ("f_dsk", True),
    "tcpu": ("pcpu", True),
    "ucpu": ("vcpu", True),
    "pcnt": ("pcnt", True),
    "scnt": ("scnt", True),
    "plist": ("primaries", True),
    "slist": ("secondaries", True),
    "pfmem": ("p_fmem", True),
    "pfdsk": ("p_fdsk", True),
    "rcpu": ("r_cpu", True),
    "cload": ("lCpu", True),
    "mload": ("lMem", True),
    "dload": ("lDsk", True),
    "nload": ("lNet", True),
    "ptags": ("PrimaryTags", False),
    "peermap": ("PeerMap", False),
    "spindle_count": ("NodeSpindles", True),
    "hi_spindles": ("MaxSpindles", True),
    "inst_spindles": ("InstSpindles", True),
}
DEFAULT_FIELDS = (
    "status",
    "name",
    "tmem",
    "nmem",
    "imem",
    "xmem",
    "fmem",
    "umem",
    "rmem",
    "tdsk",
    "fdsk",
    "tcpu",
    "ucpu",
    "pcnt",
    "scnt",
    "pfmem",
    "pfdsk",
    "rcpu",
    "cload",
    "mload",
    "dload",
    "nload",
)


def print_nodes(nodes: list[Node], fields: tuple[str, ...], base: int = 0) -> str:
    """``printNodes``; ``base`` is the loader's number of the first node."""
    if not fields:
        chosen = list(DEFAULT_FIELDS)
    elif fields[0] == "+":
        chosen = [*DEFAULT_FIELDS, *fields[1:]]
    else:
        chosen = list(fields)
    headers = [_HEADERS.get(f, ("<unknown field>", False)) for f in chosen]
    rows = [[h for h, _ in headers]] + [[_node_field(n, f, base) for f in chosen] for n in nodes]
    return metrics.print_table("", rows, [num for _, num in headers])


def _maybe_print_nodes(
    err: TextIO, fields: tuple[str, ...] | None, msg: str, nodes: list[Node], base: int
) -> None:
    if fields is None:
        return
    err.write("\n" + msg + " status:\n" + print_nodes(nodes, fields, base) + "\n")


# ---------------------------------------------------------------- loading


# ---------------------------------------------------------------- the run


def _show_alloc_nodes(alloc_nodes: AllocNodes, base: int) -> str:
    """Haskell's ``show`` of ``genAllocNodes``' answer: ``Left`` singles or ``Right`` pairs."""
    kind, targets = alloc_nodes
    if kind == "single":
        singles: list[int] = targets  # type: ignore[assignment]
        return "Left [" + ",".join(str(n + base) for n in singles) + "]"
    pairs: list[tuple[int, list[int]]] = targets  # type: ignore[assignment]
    shown = []
    for pdx, ss in pairs:
        shown.append(f"({pdx + base},[{','.join(str(s + base) for s in ss)}])")
    return "Right [" + ",".join(shown) + "]"


def inst_from_spec(spec: RSpec, template: str, spindle_use: int) -> Instance:
    return hinst.create(
        "new",
        spec.mem,
        spec.dsk,
        (Disk(spec.dsk, spec.spn),),
        spec.cpu,
        "running",
        (),
        True,
        -1,
        -1,
        template,
        spindle_use,
        False,
    )


def _tiered_spec_map(placed: list[Instance]) -> list[tuple[RSpec, int]]:
    result: list[tuple[RSpec, int]] = []
    for inst in reversed(placed):
        spec = inst.spec()
        if result and result[-1][0] == spec:
            result[-1] = (spec, result[-1][1] + 1)
        else:
            result.append((spec, 1))
    return result


def _sort_reasons(reasons: FailStats) -> FailStats:
    return sorted(reasons, key=lambda r: -r[1])


def _print_cluster_scores(out: TextIO, ini: list[Node], fin: list[Node]) -> None:
    out.write(f"  - initial cluster score: {fixed(metrics.comp_cv(ini), 8)}\n")
    out.write(f"  -   final cluster score: {fixed(metrics.comp_cv(fin), 8)}\n")


def _print_eff(out: TextIO, cs: CStats, spindles: bool) -> None:
    rows = [
        ("memory", _eff(cs.imem, cs.tmem)),
        ("disk", _eff(cs.idsk, cs.tdsk)),
        ("vcpu", _eff(cs.icpu, float(cs.vcpu))),
    ]
    if spindles:
        rows.append(("spindles", _eff(cs.ispn, cs.tspn)))
    width = max(len(n) for n, _ in rows)
    for name, value in rows:
        out.write(f"  - {name.rjust(width)} usage efficiency: {fixed(value * 100, 2).rjust(5)}%\n")


def _print_fr_scores(out: TextIO, ini: list[Node], fin: list[Node], reasons: FailStats) -> None:
    if not reasons:
        # With nothing tried (-l 0), Ganeti takes the head of an empty list.
        raise HaskellCrash("Prelude.head: empty list")
    out.write(f"  - most likely failure reason: {_fail_name(reasons[0][0])}\n")
    _print_cluster_scores(out, ini, fin)
    _print_eff(out, total_resources(fin), _have_excl(fin))


def _alloc_info(cini: CStats, cfin: CStats) -> list[tuple[str, tuple[int, float, int, int, int]]]:
    rini = (cini.icpu, cini.ncpu, cini.imem, cini.idsk, cini.ispn)
    rfin = (
        cfin.icpu - cini.icpu,
        cfin.ncpu - cini.ncpu,
        cfin.imem - cini.imem,
        cfin.idsk - cini.idsk,
        cfin.ispn - cini.ispn,
    )
    runa = (
        wrap_int(cfin.vcpu - cfin.icpu),  # an Int in Ganeti; vcpu is beyond it after -Infinity
        cfin.tcpu - cfin.ncpu,
        math.trunc(cfin.tmem) - cfin.imem,
        math.trunc(cfin.tdsk) - cfin.idsk,
        math.trunc(cfin.tspn) - cfin.ispn,
    )
    return [("USED", rini), ("POOL", rfin), ("UNAV", runa)]


def _save(options: cli.HtoolsOptions, err: TextIO, ext: str, msg: str, data: ClusterData) -> None:
    if options.save_cluster is None:
        return
    path = f"{options.save_cluster}.{ext}"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.serialize_cluster(data))
    err.write(f"The cluster state {msg} has been written to file '{path}'\n")


def _print_alloc_map(
    err: TextIO, verbose: int, descr: str, nodes: list[Node], placed: list[Instance]
) -> None:
    if verbose <= 1:
        return
    excl = _have_excl(nodes)
    rows = []
    for inst in reversed(placed):
        spn = inst.total_spindles()
        rows.append(
            [
                inst.name,
                nodes[inst.pnode].name,
                "" if inst.snode == NO_SECONDARY else nodes[inst.snode].name,
                str(inst.mem),
                str(inst.dsk),
                str(inst.vcpus),
                ("?" if spn is None else str(spn)) if excl else "",
            ]
        )
    err.write(descr + " map\n")
    if rows:
        table = metrics.format_table(rows, [False, False, False, True, True, True, True])
        err.write("".join(" " + " ".join(r) + "\n" for r in table))


def run(options: cli.HtoolsOptions, out: TextIO, err: TextIO) -> int:
    data = load_cluster(options, err)
    nodes = set_node_status(options, data.nodes)
    instances = data.instances
    machine = options.machine_readable
    verbose = options.verbose
    if not data.ipolicy.disk_templates:
        raise ExitError("null list of disk templates received from cluster")
    template = options.disk_template or data.ipolicy.disk_templates[0]
    req_nodes = 2 if template == "drbd" else 1
    suffix = common_suffix(data.nodes, instances)
    spindle_use = (
        options.spindle_use if options.spindle_use is not None else data.ipolicy.std.spindle_use
    )
    if suffix and verbose > 1:
        err.write(f"Note: Stripping common suffix of '{suffix}' from names\n")
    _maybe_print_nodes(err, options.print_nodes, "Initial cluster", nodes, data.node_index_base)
    if verbose > 2:
        err.write(f"Initial coefficients: overall {fixed(metrics.comp_cv(nodes), 8)}\n")
        err.write(metrics.print_stats("  ", nodes))
    ini_stats = total_resources(nodes)
    excl = _have_excl(nodes)
    if machine:
        print_keys(out, [("CLUSTER_" + k, v) for k, v in _cluster_data(ini_stats, True)])
        print_keys(out, [("CLUSTER_NODES", str(len(data.nodes)))])
        print_keys(out, [("INI_" + k, v) for k, v in _stats_data(ini_stats)])
    else:
        out.write(
            f"The cluster has {len(data.nodes)} nodes and the following resources:\n"
            f"  {_resources(_cluster_data(ini_stats, excl))}.\n"
        )
        count = ini_stats.ninst
        out.write(f"There are {count if count > 0 else 'no'} initial instances on the cluster.\n")

    opts = AllocOptions(capacity=options.capacity, accept_existing=options.accept_existing)
    bad = bad_nodes(nodes)
    bad_groups = [
        g for g in sorted(data.groups) if not globaln1.redundant_group(opts, nodes, instances, g)
    ]
    if verbose > 3 and bad:
        err.write("Bad nodes: " + "[" + ",".join(f'"{n.name}"' for n in bad) + "]\n")
    if verbose > 3 and bad_groups:
        err.write(
            "Bad groups: [" + ",".join(f'"{data.groups[g].name}"' for g in bad_groups) + "]\n"
        )
    groups = dict(data.groups)
    if not options.accept_existing:
        for n in bad:
            groups[n.group] = dataclasses.replace(
                groups[n.group], alloc_policy=AllocPolicy.unallocable
            )
    if options.independent_groups:
        for g in bad_groups:
            groups[g] = dataclasses.replace(groups[g], alloc_policy=AllocPolicy.unallocable)
        opts = dataclasses.replace(opts, ignore_groups=tuple(bad_groups))
    remaining = any(g.is_allocable for g in groups.values())
    stop = not (options.accept_existing or (options.independent_groups and remaining) or not bad)
    limit = None if options.max_length == -1 else options.max_length
    alloc_nodes = gen_alloc_nodes(groups, nodes, req_nodes, True)
    if verbose > 3:
        err.write(f"Allocatable nodes: {_show_alloc_nodes(alloc_nodes, data.node_index_base)}\n")

    minmaxes = data.ipolicy.minmax
    if options.tiered_spec is not None:
        t = options.tiered_spec
        tspecs = [RSpec(cpu=t.cpu, mem=t.mem, dsk=t.disk, spn=t.spindles)]
    else:
        tspecs = [rspec_from_ispec(m.max_spec) for m in minmaxes]
    if not tspecs:
        raise ExitError("Empty list of specs received from the cluster")
    initial = State(nodes, instances, [])

    def run_phase(compute: Callable[[], tuple[FailStats, State]]) -> tuple[FailStats, State]:
        if stop:
            return [(FailMode.FailN1, 1)], initial
        try:
            return compute()
        except AllocError as exc:
            raise ExitError(f"failure during allocation: {exc}") from None

    def tiered() -> tuple[FailStats, State]:
        reasons: FailStats = []
        state = initial
        for spec in tspecs:
            if limit is not None and limit <= len(state.placed):
                continue
            sub_limit = None if limit is None else limit - len(state.placed)
            reasons, state = tiered_alloc(
                opts, state, sub_limit, inst_from_spec(spec, template, spindle_use), alloc_nodes
            )
        return reasons, state

    treasons, tstate = run_phase(tiered)
    _phase_output(options, out, err, data, tstate, tspecs[0], template, "Tiered", req_nodes)
    spec_map = _tiered_spec_map(tstate.placed)
    treasons = _sort_reasons(treasons)
    trl_nodes = tstate.nodes
    if machine:
        print_keys(out, [("TRL_" + k, v) for k, v in _stats_data(total_resources(trl_nodes))])
        print_keys(
            out, [("TSPEC", " ".join(f"{s.mem},{s.dsk},{s.cpu},{s.spn}={c}" for s, c in spec_map))]
        )
        for kind, info in _alloc_info(total_resources(nodes), total_resources(trl_nodes)):
            print_keys(
                out,
                [
                    (f"KM_{kind}_CPU", str(info[0])),
                    (f"KM_{kind}_NPU", show_double(info[1])),
                    (f"KM_{kind}_MEM", str(info[2])),
                    (f"KM_{kind}_DSK", str(info[3])),
                    (f"KM_{kind}_SPN", str(info[4])),
                ],
            )
    else:
        out.write("Tiered allocation results:\n")
        if not spec_map:
            out.write("  - no instances allocated\n")
        for spec, cnt in spec_map:
            described = _resources(_spec_data(spec, _have_excl(nodes)))
            out.write(f"  - {cnt:3d} instances of spec {described}\n")
        _print_fr_scores(out, nodes, trl_nodes, treasons)

    std = options.standard_spec
    ispec = (
        RSpec(cpu=std.cpu, mem=std.mem, dsk=std.disk, spn=std.spindles)
        if std is not None
        else rspec_from_ispec(data.ipolicy.std)
    )
    sreasons, sstate = run_phase(
        lambda: iterate_alloc(
            opts, initial, limit, inst_from_spec(ispec, template, spindle_use), alloc_nodes
        )
    )
    _phase_output(options, out, err, data, sstate, ispec, template, "Standard", req_nodes)
    sreasons = _sort_reasons(sreasons)
    allocs = len(sstate.placed)
    fin_nodes = sstate.nodes
    if machine:
        fin = total_resources(fin_nodes)
        if len(instances) + allocs != fin.ninst:
            counted = len(instances) + allocs
            raise ExitError(
                f"internal inconsistency, allocated ({counted}) != counted ({fin.ninst})\n"
            )
        print_keys(out, [("FIN_" + k, v) for k, v in _stats_data(fin)])
        total = len(instances) + allocs
        print_keys(
            out,
            [
                ("ALLOC_USAGE", fixed(hnode.div(float(len(instances)), float(total)), 8)),
                ("ALLOC_INSTANCES", str(allocs)),
                ("ALLOC_FAIL_REASON", _fail_name(sreasons[0][0]).upper()),
            ],
        )
        print_keys(out, [(f"ALLOC_{_fail_name(m)}_CNT", str(c)) for m, c in sreasons])
        print_keys(out, [("OK", "1")])
    else:
        out.write("Normal (fixed-size) allocation results:\n")
        out.write(f"  - {allocs:3d} instances allocated\n")
        _print_fr_scores(out, nodes, fin_nodes, sreasons)
    return 0


def _phase_output(
    options: cli.HtoolsOptions,
    out: TextIO,
    err: TextIO,
    data: ClusterData,
    state: State,
    spec: RSpec,
    template: str,
    name: str,
    req_nodes: int,
) -> None:
    excl = _have_excl(state.nodes)
    prefix = "SPEC" if name == "Standard" else "TSPEC_INI"
    if options.machine_readable:
        print_keys(out, [(f"{prefix}_{k}", v) for k, v in _spec_data(spec, True)])
        print_keys(out, [(f"{prefix}_RQN", str(req_nodes))])
        print_keys(out, [(f"{prefix}_DISK_TEMPLATE", template)])
    else:
        descr = "Standard (fixed-size)" if name == "Standard" else "Tiered (initial size)"
        out.write(
            f"{descr} instance spec is:\n  {_resources(_spec_data(spec, excl))}, "
            f"using disk template '{template}'.\n"
        )
    _print_alloc_map(err, options.verbose, f"{name} allocation", state.nodes, state.placed)
    _maybe_print_nodes(
        err, options.print_nodes, f"{name} allocation", state.nodes, data.node_index_base
    )
    _save(
        options,
        err,
        name.lower(),
        f"after {name.lower()} allocation",
        dataclasses.replace(data, nodes=state.nodes, instances=state.instances),
    )


def main(argv: list[str] | None = None) -> int:
    """The ``ganeti-hspace`` console script."""
    sys.setrecursionlimit(100000)
    args = sys.argv[1:] if argv is None else argv
    try:
        options = cli.parse_options("hspace", args)
    except cli.UsageExit as stop:
        return stop.emit(sys.stdout.buffer, sys.stderr.buffer)
    try:
        return run(options, sys.stdout, sys.stderr)
    except ExitError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except (HaskellCrash, ToolDied) as exc:
        sys.stdout.flush()
        sys.stderr.write(f"hspace: {exc}\n")
        return 1
    except RecursionError:
        sys.stdout.flush()
        sys.stderr.write("Error: tiered allocation recursed too deep (too many shrink steps)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
