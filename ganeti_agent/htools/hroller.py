"""The hroller program (Ganeti's ``Program/Hroller.hs``): groups of nodes to reboot together.

Loading, the master checks, choosing the smallest colouring of the reboot
graph and printing live here; the graph and its colourings are in
``graph``, the moves that empty nodes in ``evacuate``. Output is byte for
byte Ganeti 3.0.2's, ``-v -v``'s graph dump included (Haskell's ``show`` of
the adjacency array). Where the real tool dies with a Haskell runtime error
(full evacuation of a DRBD instance without secondary) we exit 1 with one
``Error:`` line instead.
"""

from __future__ import annotations

import os
import sys

from ganeti_agent.htools import cli, evacuate, ghcio, text
from ganeti_agent.htools import graph as hgraph
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.haskell_read import haskell_show_string
from ganeti_agent.htools.loader import ClusterData
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.source import ExitError, ToolDied, load_cluster, set_node_status

TYPE_CHECKING = False  # typing's, without importing typing: start-up time of the tools
if TYPE_CHECKING:
    from typing import TextIO

NO_MASTER = "No master node found (maybe not supported by backend)."

RebootGroup = tuple[list[int], evacuate.Config]


def check_master(nodes: list[Node], force: bool, err: TextIO) -> None:
    """Exactly one master node; none is only a warning with ``-f``."""
    masters = [n.name for n in nodes if n.is_master]
    if not masters:
        if not force:
            raise ExitError(NO_MASTER)
        err.write(f"Warning: {NO_MASTER}\n")
    elif len(masters) > 1:
        shown = ",".join(haskell_show_string(name) for name in masters)
        raise ExitError(f"Found more than one master node: [{shown}]")


def _save_original(options: cli.HtoolsOptions, err: TextIO, data: ClusterData) -> None:
    if options.save_cluster is None:
        return
    path = f"{options.save_cluster}.original"
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text.serialize_cluster(data))
    except OSError as error:
        raise ToolDied(ghcio.open_error(path, error, reading=False)) from None
    err.write(f"The cluster state before hroller run has been written to file '{path}'\n")


def find_group(groups: dict[int, Group], name: str) -> Group:
    """``Container.findByName``: the one group named (or with the UUID) ``name``."""
    found = [g for g in groups.values() if name in (g.name, g.uuid)]
    if len(found) != 1:
        raise ExitError("Cannot find target group.")
    return found[0]


def candidates(options: cli.HtoolsOptions, conf: evacuate.Config, group: Group | None) -> list[int]:
    """Online nodes that pass ``--skip-non-redundant``, ``--node-tags`` and ``-G``."""
    wanted_tags = options.node_tags
    chosen = []
    for node in conf.nodes:
        if node.offline:
            continue
        if options.skip_non_redundant and evacuate.non_redundant(conf, node.idx):
            continue
        if wanted_tags is not None and not set(node.tags) & set(wanted_tags):
            continue
        if group is not None and node.group != group.idx:
            continue
        chosen.append(node.idx)
    return chosen


def coloring_stats(colorings: list[tuple[str, list[list[int]]]]) -> str:
    """``getStats``: each algorithm's colour count and class sizes, best first.

    Ganeti's wording kept, ``LOOSE`` included.
    """
    by_size = sorted(colorings, key=lambda item: len(item[1]), reverse=True)
    text_out = ""
    previous = 0
    for name, classes in reversed(by_size):
        stat = f"{name}: {len(classes)} ({','.join(str(len(c)) for c in classes)})"
        if previous == 0:
            text_out = stat
        else:
            text_out += (" TIE " if previous == len(classes) else " LOOSE ") + stat
        previous = len(classes)
    return text_out


def smallest_coloring(
    graph: hgraph.Graph,
) -> tuple[list[list[int]], list[tuple[str, list[list[int]]]]]:
    """The colour classes of the algorithm with fewest colours (the first on a tie), and all."""
    colorings = [
        (name, hgraph.color_classes(algorithm(graph))) for name, algorithm in hgraph.COLORINGS
    ]
    best = colorings[0][1]
    for _, classes in colorings[1:]:
        if len(classes) < len(best):
            best = classes
    return best, colorings


def plan(
    options: cli.HtoolsOptions, conf: evacuate.Config, classes: list[list[int]]
) -> list[RebootGroup]:
    """Split the colour classes until each group can really go down at once."""
    targets = [n.idx for n in conf.nodes if not n.offline]
    groups: list[RebootGroup]
    if options.ignore_non_redundant:
        groups = [(members, conf) for members in classes]
    else:
        groups = []
        for members in classes:
            parts = evacuate.partition_non_redundant(members, targets, conf)
            if parts is None:
                raise ExitError("Not enough capacity to move non-redundant instances")
            groups.extend(parts)
    if not options.full_evacuation:
        return groups
    migrated = []
    for members, group_conf in groups:
        after = evacuate.migrate_off_nodes(members, group_conf)
        if after is None:
            raise ExitError("Failed to migrate instances off nodes")
        migrated.append((members, after))
    split = []
    for members, group_conf in migrated:
        parts = evacuate.partition_secondaries(members, targets, group_conf)
        if parts is None:
            raise ExitError("Not enough capacity to move secondaries")
        split.extend(parts)
    return split


def order_groups(
    groups: list[RebootGroup], wanted: set[int], nodes: list[Node]
) -> list[RebootGroup]:
    """Candidates only, larger groups first, the master last in the last group."""
    kept = [([n for n in members if n in wanted], conf) for members, conf in groups]
    kept.sort(key=lambda item: len(item[0]), reverse=True)
    plain: list[RebootGroup] = []
    with_master: list[RebootGroup] = []
    for members, conf in kept:
        others = [n for n in members if not nodes[n].is_master]
        masters = [n for n in members if nodes[n].is_master]
        (with_master if masters else plain).append((others + masters, conf))
    return plain + with_master


def _move_lines(original: evacuate.Config, final: evacuate.Config) -> list[str]:
    lines = []
    for inst, pnode, snode in evacuate.moves(original, final):
        if snode is None:
            lines.append(f"  {inst.name} {pnode.name}")
        else:
            lines.append(f"  {inst.name} {pnode.name} {snode.name}")
    return lines


def run(options: cli.HtoolsOptions, out: TextIO, err: TextIO) -> int:
    data = load_cluster(options, err)
    check_master(data.nodes, options.force, err)
    nodes = set_node_status(options, data.nodes)
    _save_original(options, err, data)
    group = None if options.group is None else find_group(data.groups, options.group)
    conf = evacuate.Config(nodes, data.instances)
    chosen = candidates(options, conf, group)
    if options.offline_maintenance:
        graph = hgraph.node_graph(chosen, conf.instances)
    else:
        graph = hgraph.reboot_node_graph(nodes, chosen, conf.instances)
    if graph is None:
        raise ExitError("Cannot create node graph")
    if options.verbose > 2:
        out.write(f"Node Graph: {hgraph.show_graph(graph)}\n")
    classes, colorings = smallest_coloring(graph)
    try:
        planned = plan(options, conf, classes)
    except evacuate.EvacuationError as exc:
        raise ExitError(str(exc)) from None
    groups = order_groups(planned, set(chosen), nodes)
    if options.verbose > 1:
        out.write(coloring_stats(colorings) + "\n")
    if options.one_step_only:
        if not options.no_headers:
            out.write("'First Reboot Group'\n")
        groups = groups[:1]
    elif not options.no_headers:
        out.write("'Node Reboot Groups'\n")
    for members, final in groups:
        names = [nodes[n].name for n in members]
        if options.one_step_only:
            out.write("".join(f"{name}\n" for name in names))
        else:
            out.write(",".join(names) + "\n")
        if options.print_moves:
            out.write("".join(f"{line}\n" for line in _move_lines(conf, final)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``ganeti-hroller`` console script."""
    args = sys.argv[1:] if argv is None else argv
    try:
        options = cli.parse_options("hroller", args)
    except cli.UsageExit as stop:
        return stop.emit(sys.stdout.buffer, sys.stderr.buffer)
    try:
        code = run(options, sys.stdout, sys.stderr)
        sys.stdout.flush()
        return code
    except ExitError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except ToolDied as exc:
        sys.stdout.flush()
        sys.stderr.write(f"hroller: {exc}\n")
        return 1
    except BrokenPipeError:
        # The reader went away (``| head``): Ganeti's hroller then ends
        # quietly with 0; Python must not fail again flushing at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
