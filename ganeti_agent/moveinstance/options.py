"""The command line of ``ganeti-move-instance``: Ganeti 3.0.2's options, checks and messages.

Every option of ``tools/move-instance --help`` is accepted with the same
meaning, and every combination it refuses is refused with the same text (on
stderr after the usage line, exit status 2, as optparse does). What differs
is what users reported as bugs: ``--opportunistic-tries`` left out means 0
instead of a crash, ``--dest-rapi-port`` defaults to ``--src-rapi-port`` as
its help promises, ``--net`` values left empty mean "unset", bad ``-B``/
``-H``/``--net`` values are a usage error instead of a traceback, and
``--keep-source-instance`` and ``--net-map`` are new.
"""

from __future__ import annotations

import optparse
from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass, field
from typing import NoReturn

from ganeti_agent.core.jsontypes import JSONObject
from ganeti_agent.moveinstance import params
from ganeti_agent.rapi.client import DEFAULT_PORT

USAGE = "%prog [--debug|--verbose] <source-cluster> <dest-cluster> <instance...>"
#: Ganeti's ``DEFAULT_OPPORTUNISTIC_RETRY_INTERVAL``, in seconds.
DEFAULT_OPPORTUNISTIC_DELAY = 30
#: Templates whose disks are files on the nodes: Ganeti cannot stream them to another cluster.
UNMOVABLE_TEMPLATES = frozenset({"file", "sharedfile", "gluster"})
#: How many instances one command may name, and how many may move at once.
MAX_INSTANCES = 10000
MAX_PARALLEL = 64


def _check_key_values(
    option: optparse.Option, opt: str, value: str
) -> dict[str, params.ParamValue]:
    try:
        return params.split_key_values(opt, value)
    except params.ParameterError as exc:
        raise optparse.OptionValueError(str(exc)) from None


def _check_ident_key_values(
    option: optparse.Option, opt: str, value: str
) -> tuple[str, params.IdentGroup]:
    try:
        return params.split_ident_key_values(opt, value)
    except params.ParameterError as exc:
        raise optparse.OptionValueError(str(exc)) from None


class _Option(optparse.Option):
    """optparse's Option with Ganeti's ``keyval`` and ``identkeyval`` types."""

    TYPES = (*optparse.Option.TYPES, "keyval", "identkeyval")
    TYPE_CHECKER = copy(optparse.Option.TYPE_CHECKER)
    TYPE_CHECKER["keyval"] = _check_key_values
    TYPE_CHECKER["identkeyval"] = _check_ident_key_values


@dataclass(frozen=True)
class Credentials:
    """How to reach one cluster's RAPI; the password is read later, at pre-flight."""

    port: int
    ca_file: str | None
    username: str | None
    password_file: str | None


@dataclass(frozen=True)
class MoveOptions:
    """Everything the command line asked for, checked."""

    source_cluster: str
    dest_cluster: str
    instances: tuple[str, ...]
    source: Credentials
    dest: Credentials
    debug: int = 0
    verbose: bool = False
    iallocator: str | None = None
    beparams: JSONObject = field(default_factory=dict)
    hvparams: JSONObject = field(default_factory=dict)
    osparams: JSONObject = field(default_factory=dict)
    nics: list[JSONObject] = field(default_factory=list)
    net_map: dict[str, str] = field(default_factory=dict)
    dest_instance_name: str | None = None
    dest_primary_node: str | None = None
    dest_secondary_node: str | None = None
    dest_disk_template: str | None = None
    compress: str = "none"
    parallel: int = 1
    opportunistic_tries: int = 0
    opportunistic_delay: int = DEFAULT_OPPORTUNISTIC_DELAY
    keep_source_instance: bool = False


def build_parser(prog: str) -> optparse.OptionParser:
    """The parser, options in the order of Ganeti's ``--help``, then ours."""
    parser = optparse.OptionParser(usage=USAGE, prog=prog, option_class=_Option)
    add = parser.add_option
    add("-d", "--debug", default=0, action="count", help="Increase debugging level")
    add(
        "-v",
        "--verbose",
        default=False,
        action="store_true",
        help="Increase the verbosity of the operation",
    )
    add(
        "-I",
        "--iallocator",
        metavar="<NAME>",
        default=None,
        type="string",
        help="Place the instance on the destination with the <NAME> iallocator plugin",
    )
    add(
        "-B",
        "--backend-parameters",
        dest="beparams",
        type="keyval",
        default={},
        help="Backend parameters",
    )
    add(
        "-H",
        "--hypervisor-parameters",
        dest="hvparams",
        type="keyval",
        default={},
        help="Hypervisor parameters",
    )
    add("-O", "--os-parameters", dest="osparams", type="keyval", default={}, help="OS parameters")
    add(
        "--net",
        dest="nics",
        action="append",
        type="identkeyval",
        default=[],
        help="NIC parameters (N:key=value,...; an empty value unsets the key)",
    )
    _add_cluster_options(parser)
    add(
        "--dest-instance-name",
        help="Instance name on the destination cluster (only when moving exactly one instance)",
    )
    add(
        "--dest-primary-node",
        help="Primary node on the destination cluster (only when moving exactly one instance)",
    )
    add(
        "--dest-secondary-node",
        help="Secondary node on the destination cluster (only when moving exactly one instance)",
    )
    add("--dest-disk-template", default=None, help="Disk template on the destination cluster")
    add(
        "--compress",
        default="none",
        help="Compression during the move (both clusters must support the mode)",
    )
    add(
        "-p",
        "--parallel",
        type="int",
        default=1,
        metavar="<number>",
        help="How many instances move at the same time",
    )
    add(
        "--opportunistic-tries",
        type="int",
        metavar="<number>",
        help="Opportunistic creation attempts (iallocator over the nodes not locked at the"
        " moment; quicker, maybe a worse placement) before a normal one; default 0",
    )
    add(
        "--opportunistic-delay",
        type="int",
        metavar="<number>",
        help="Seconds between opportunistic creation attempts",
    )
    add(
        "--keep-source-instance",
        action="store_true",
        default=False,
        help="Keep the instance on the source cluster, stopped, after the move",
    )
    add(
        "--net-map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="Move NICs on link or network OLD to link or network NEW (repeatable;"
        " works for any number of instances)",
    )
    return parser


def _add_cluster_options(parser: optparse.OptionParser) -> None:
    add = parser.add_option
    add(
        "--src-rapi-port",
        type="int",
        default=DEFAULT_PORT,
        help=f"Source cluster RAPI port (default {DEFAULT_PORT})",
    )
    add("--src-ca-file", help="Source cluster's Certificate Authority (CA), a PEM file")
    add("--src-username", default=None, help="Source cluster username")
    add("--src-password-file", help="File holding the source cluster password")
    add(
        "--dest-rapi-port",
        type="int",
        default=None,
        help="Destination cluster RAPI port (default: the source cluster's port)",
    )
    add("--dest-ca-file", help="Destination cluster's CA, a PEM file (default: the source's)")
    add(
        "--dest-username", default=None, help="Destination cluster username (default: the source's)"
    )
    add(
        "--dest-password-file",
        help="File holding the destination cluster password (default: the source's)",
    )


def _fail(parser: optparse.OptionParser, message: str) -> NoReturn:
    parser.error(message)
    raise AssertionError("optparse's error() returned")  # pragma: no cover


def _check_allocator(parser: optparse.OptionParser, values: optparse.Values) -> None:
    if values.iallocator and (values.dest_primary_node or values.dest_secondary_node):
        _fail(parser, "Destination node and iallocator options exclude each other")
    if not values.iallocator and (values.opportunistic_tries or 0) > 0:
        _fail(parser, "Opportunistic instance creation can only be used with an iallocator")


def _check_opportunistic(parser: optparse.OptionParser, values: optparse.Values) -> None:
    if values.opportunistic_tries is not None:
        if values.opportunistic_tries < 0:
            _fail(parser, "Number of opportunistic creation attempts must be >= 0")
        if values.opportunistic_delay is not None and values.opportunistic_delay <= 0:
            _fail(
                parser,
                "The delay between two successive creation attempts must be greater than zero",
            )
    elif values.opportunistic_delay is not None:
        _fail(parser, "Opportunistic delay can only be specified when opportunistic tries are used")


def _check_instance_options(
    parser: optparse.OptionParser, values: optparse.Values, count: int
) -> None:
    if count > 1:
        if any(
            (
                values.dest_instance_name,
                values.dest_primary_node,
                values.dest_secondary_node,
                values.hvparams,
                values.beparams,
                values.osparams,
                values.nics,
            )
        ):
            _fail(
                parser,
                "The options --dest-instance-name, --dest-primary-node,"
                " --dest-secondary-node, --hypervisor-parameters,"
                " --backend-parameters, --os-parameters and --net can"
                " only be used when moving exactly one instance",
            )
        return
    try:
        values.hvparams = params.force_types(values.hvparams, params.HYPERVISOR_TYPES)
        values.beparams = params.force_types(values.beparams, params.BACKEND_TYPES)
        values.nics = params.parse_nic_option(values.nics) if values.nics else []
    except params.ParameterError as exc:
        _fail(parser, str(exc))


def _net_map(parser: optparse.OptionParser, entries: Sequence[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for entry in entries:
        old, separator, new = entry.partition("=")
        if not separator or not old or not new:
            _fail(parser, f"--net-map takes OLD=NEW, not {entry!r}")
        if old in mapping:
            _fail(parser, f"--net-map maps {old!r} twice")
        mapping[old] = new
    return mapping


def _check_ours(parser: optparse.OptionParser, values: optparse.Values, count: int) -> None:
    if values.dest_disk_template in UNMOVABLE_TEMPLATES:
        _fail(
            parser,
            f"Disk template {values.dest_disk_template} is file-based and"
            " cannot be moved between clusters",
        )
    if count > MAX_INSTANCES:
        _fail(parser, f"At most {MAX_INSTANCES} instances can be named at once")
    if values.parallel > MAX_PARALLEL:
        _fail(parser, f"At most {MAX_PARALLEL} moves can run at the same time")
    for side in ("src", "dest"):
        port = getattr(values, f"{side}_rapi_port")
        if port is not None and not 0 < port < 65536:
            _fail(parser, f"--{side}-rapi-port must be between 1 and 65535")
        if getattr(values, f"{side}_password_file") and getattr(values, f"{side}_username") == "":
            _fail(parser, "Specified password without username")


def parse(arguments: Sequence[str], prog: str = "ganeti-move-instance") -> MoveOptions:
    """Parse and check a command line; on a mistake, print usage and why, exit 2."""
    parser = build_parser(prog)
    values, positional = parser.parse_args(list(arguments))
    if len(positional) < 3:
        _fail(parser, "Not enough arguments")
    source_cluster, dest_cluster, *instances = positional
    if not values.src_ca_file:
        _fail(parser, "Missing source cluster CA file")
    if values.parallel < 1:
        _fail(parser, "Number of simultaneous moves must be >= 1")
    _check_allocator(parser, values)
    _check_opportunistic(parser, values)
    _check_instance_options(parser, values, len(instances))
    _check_ours(parser, values, len(instances))
    net_map = _net_map(parser, values.net_map)
    source = Credentials(
        values.src_rapi_port, values.src_ca_file, values.src_username, values.src_password_file
    )
    dest = Credentials(
        values.dest_rapi_port or values.src_rapi_port,
        values.dest_ca_file or values.src_ca_file,
        values.dest_username if values.dest_username is not None else values.src_username,
        values.dest_password_file or values.src_password_file,
    )
    return MoveOptions(
        source_cluster=source_cluster,
        dest_cluster=dest_cluster,
        instances=tuple(instances),
        source=source,
        dest=dest,
        debug=values.debug,
        verbose=values.verbose,
        iallocator=values.iallocator,
        beparams=values.beparams,
        hvparams=values.hvparams,
        osparams=values.osparams,
        nics=values.nics,
        net_map=net_map,
        dest_instance_name=values.dest_instance_name,
        dest_primary_node=values.dest_primary_node,
        dest_secondary_node=values.dest_secondary_node,
        dest_disk_template=values.dest_disk_template,
        compress=values.compress,
        parallel=values.parallel,
        opportunistic_tries=values.opportunistic_tries or 0,
        opportunistic_delay=(
            values.opportunistic_delay
            if values.opportunistic_delay is not None
            else DEFAULT_OPPORTUNISTIC_DELAY
        ),
        keep_source_instance=values.keep_source_instance,
    )
