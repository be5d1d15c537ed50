"""Where hspace and hroller get their cluster: Ganeti's ``loadExternalData`` and node status.

Both programs choose the backend the same way (RAPI, LUXI, simulation, text
file, iallocator request), print the same consistency warnings and apply
``-O``, ``--max-cpu`` and ``--min-disk`` the same way, so that lives here,
apart from either program.
"""

from __future__ import annotations

import dataclasses

from ganeti_agent.htools import cli, ghcio, simu, text
from ganeti_agent.htools import node as hnode
from ganeti_agent.htools.loader import ClusterData, merge_data, update_missing
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.types import LoadError

TYPE_CHECKING = False  # typing's, without importing typing: start-up time of the tools
if TYPE_CHECKING:
    from typing import TextIO


class ExitError(Exception):
    """Stop with ``Error: <message>`` on stderr and exit code 1."""


class ToolDied(Exception):
    """Stop with ``<program>: <message>`` on stderr and exit code 1.

    That is how a GHC program reports an IO error nobody caught, such as
    Ganeti's tools on a file they cannot open for writing or decode.
    """


def read_text_file(path: str) -> str:
    """The file as Ganeti's ``readFile`` gives it: decoded strictly, newlines untouched.

    GHC decodes with the locale's encoding (UTF-8, or ASCII under the C
    locale) and fails on the first invalid sequence with ``hGetContents``'s
    error, which Ganeti does not catch; it does not translate ``\r\n`` either.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise LoadError(ghcio.open_error(path, exc)) from None
    decoded = ghcio.decode_like_ghc(raw)
    if decoded is None:
        raise ToolDied(f"{path}: hGetContents: invalid argument (invalid byte sequence)")
    return decoded


def _live_data(options: cli.HtoolsOptions) -> ClusterData:
    """The cluster over RAPI (``-m``) or LUXI (``-L``), static KVM node memory applied.

    Twisted is imported here only: the file and simulation backends start
    without it.
    """
    from ganeti_agent.htools import live, luxi, rapi

    if options.master:
        master = options.master
        cluster = live.run_once(lambda reactor: rapi.load_data(reactor, master))
    else:
        assert options.luxi is not None
        path = options.luxi
        cluster = live.run_once(lambda reactor: luxi.load_data(reactor, path))
    return cluster.with_static_kvm_memory(options.static_kvm_node_memory)


def _show_warnings(err: TextIO, messages: list[str]) -> None:
    """``maybeShowWarnings``: nothing when the cluster is consistent."""
    if messages:
        err.write("Warning: cluster has inconsistent data:\n")
        err.write("".join(f"  - {m}\n" for m in messages) + "\n")


def _ialloc_data(options: cli.HtoolsOptions, err: TextIO) -> ClusterData:
    """``IAlloc.loadData``: the cluster part of an iallocator request (``-`` is stdin).

    Like Ganeti's ``readRequest``, a request ``hail`` would refuse stops the
    program with its own message, and the request's warnings are printed
    at once, whatever the verbosity.
    """
    from ganeti_agent.htools import ialloc

    assert options.ialloc_src is not None
    text = ialloc.read_request_text(options.ialloc_src)
    try:
        messages, cluster = ialloc.parse_data(text)
    except ialloc.RequestError as exc:
        raise ExitError(str(exc)) from None
    _show_warnings(err, messages)
    return cluster.with_static_kvm_memory(options.static_kvm_node_memory)


def load_cluster(options: cli.HtoolsOptions, err: TextIO) -> ClusterData:
    """``loadExternalData``: RAPI, LUXI, simulation, text file, iallocator request, in order."""
    chosen = [options.master != "", options.luxi is not None, options.data_file is not None]
    if sum(chosen) > 1:
        raise ExitError("Only one of the rapi, luxi, and data files options should be given.")
    try:
        if options.master or options.luxi is not None:
            raw = _live_data(options)
        elif options.simulate:
            raw = simu.parse_data(list(options.simulate))
        elif options.data_file is not None:
            raw = text.parse_data(read_text_file(options.data_file))
        elif options.ialloc_src is not None:
            raw = _ialloc_data(options, err)
        else:
            raise LoadError("No backend selected! Exiting.")
        merged = merge_data(raw)
    except LoadError as exc:
        raise ExitError(f"failed to load data, aborting: {exc}") from None
    messages, nodes = update_missing(merged.nodes, merged.instances)
    if options.verbose != 0:
        _show_warnings(err, messages)
    return dataclasses.replace(merged, nodes=nodes)


def _lookup(names: list[str], wanted: str) -> str | None:
    if wanted in names:
        return wanted
    partial = [n for n in names if n.startswith(wanted + ".")]
    return partial[0] if len(partial) == 1 else None


def set_node_status(options: cli.HtoolsOptions, nodes: list[Node]) -> list[Node]:
    names = [n.name for n in nodes]
    found = [(_lookup(names, o), o) for o in options.offline]
    wrong = [o for f, o in found if f is None]
    if wrong:
        raise ExitError(f"wrong node name(s) set as offline: {','.join(wrong)}\n")
    offline = {f for f, _ in found}
    result = []
    for node in nodes:
        changed = hnode.copy_node(node)
        if options.max_cpu is not None:
            changed.ipolicy = dataclasses.replace(node.ipolicy, vcpu_ratio=options.max_cpu)
            changed.hi_cpu = hnode.floor_int(options.max_cpu * node.t_cpu)
        changed.lo_dsk = hnode.floor_int(options.min_disk * node.t_dsk)
        if node.name in offline:
            changed.offline = True
        result.append(changed)
    return result
