"""Command-line options of the htools programs, parsed as Ganeti 3.0.2 parses them.

Scripts call ``hspace`` and ``hroller`` with abbreviated options, attached
values and bundled flags, and some parse the error messages, so this module
reproduces GHC's ``System.Console.GetOpt`` in ``Permute`` mode as Ganeti's
``Ganeti.Common.parseOptsInner`` uses it, with the option table of
``Ganeti.HTools.CLI`` written once and each program listing the options it
takes (as ``Program/Hspace.hs`` and ``Program/Hroller.hs`` do).

Usage from a program::

    try:
        options = parse_options("hspace", sys.argv[1:])
    except UsageExit as stop:
        sys.exit(stop.emit(sys.stdout.buffer, sys.stderr.buffer))

``parse_options`` is pure: it returns a frozen ``HtoolsOptions`` or raises
``UsageExit`` carrying the exact stdout text, stderr text and exit code of the
real tool (``--help``, ``--version`` and ``--help-completion`` exit 0 on
stdout; getopt errors exit 2 with the usage; bad values exit 1; a stray
argument exits 1, as every htools program refuses arguments first thing).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from ganeti_agent import __version__
from ganeti_agent.htools.haskell_read import (
    ReadError,
    parse_disk_template,
    parse_unit,
    try_read_double,
    try_read_int,
)
from ganeti_agent.htools.types import DISK_TEMPLATES

TYPE_CHECKING = False  # typing's, without importing typing: start-up time of the tools
if TYPE_CHECKING:
    from typing import BinaryIO

DEFAULT_LUXI_SOCKET = "/var/run/ganeti/socket/ganeti-query"
"""Ganeti's ``Path.defaultQuerySocket`` (the query socket of ganeti-luxid)."""

GETOPT_ERROR_EXIT = 2
VALUE_ERROR_EXIT = 1


@dataclass(frozen=True)
class ResourceSpec:
    """An instance specification given on the command line (Ganeti's ``RSpec``).

    Memory and disk are MiB; ``spindles`` is 1 when the spec omits it.
    """

    cpu: int
    mem: int
    disk: int
    spindles: int


@dataclass(frozen=True)
class HtoolsOptions:
    """Every option hspace and hroller take, with Ganeti's defaults (``defaultOptions``).

    Repeatable options keep Ganeti's order: each occurrence is put in front,
    so ``simulate`` and ``offline`` list the last one given first (the
    simulation backend numbers its groups in this order: ``group-01`` comes
    from the last ``--simulate``).
    """

    print_nodes: tuple[str, ...] | None = None
    """``-p``: the fields to print; ``()`` for the default set, ``"+"`` first to add."""
    data_file: str | None = None
    disk_template: str | None = None
    spindle_use: int | None = None
    simulate: tuple[str, ...] = ()
    """``--simulate`` specs, unparsed (the simulation backend parses and reports them)."""
    master: str = ""
    """``-m``: the RAPI address; empty when not given."""
    luxi: str | None = None
    ialloc_src: str | None = None
    verbose: int = 1
    independent_groups: bool = False
    accept_existing: bool = False
    offline: tuple[str, ...] = ()
    capacity: bool = True
    """False with ``--no-capacity-checks``."""
    machine_readable: bool = False
    max_cpu: float | None = None
    max_length: int = -1
    min_disk: float = 0.0
    standard_spec: ResourceSpec | None = None
    tiered_spec: ResourceSpec | None = None
    save_cluster: str | None = None
    static_kvm_node_memory: int = 4096
    offline_maintenance: bool = False
    no_headers: bool = False
    node_tags: tuple[str, ...] | None = None
    group: str | None = None
    print_moves: bool = False
    full_evacuation: bool = False
    skip_non_redundant: bool = False
    ignore_non_redundant: bool = False
    force: bool = False
    one_step_only: bool = False
    show_help: bool = False
    show_version: bool = False
    show_completion: bool = False


class UsageExit(Exception):
    """The program must stop now, printing exactly this, with this exit code."""

    def __init__(self, code: int, stdout_text: str = "", stderr_text: str = "") -> None:
        super().__init__(stderr_text or stdout_text)
        self.code = code
        self.stdout_text = stdout_text
        self.stderr_text = stderr_text

    def emit(self, stdout: BinaryIO, stderr: BinaryIO) -> int:
        """Write both texts (arguments that were not UTF-8 come back byte for byte)."""
        for stream, text in ((stdout, self.stdout_text), (stderr, self.stderr_text)):
            if text:
                stream.write(text.encode("utf-8", "surrogateescape"))
                stream.flush()
        return self.code


class ArgKind(Enum):
    """GetOpt's ``ArgDescr``: no value, a required one, or an optional attached one."""

    NONE = "none"
    REQUIRED = "required"
    OPTIONAL = "optional"


Apply = Callable[[HtoolsOptions, str | None], HtoolsOptions]


@dataclass(frozen=True)
class OptionDef:
    """One row of the option table (``OptDescr`` plus its completion type)."""

    shorts: str
    long: str
    kind: ArgKind
    metavar: str
    description: str
    completion: str
    apply: Apply


class _ValueError(Exception):
    """An option value Ganeti refuses (``Bad`` from the option's updater)."""


def _split_commas(text: str) -> tuple[str, ...]:
    """Ganeti's ``sepSplit ','``: empty text gives no items, a trailing comma one empty."""
    if not text:
        return ()
    return tuple(text.split(","))


def _with(options: HtoolsOptions, field: str, value: object) -> HtoolsOptions:
    """``options`` with one field changed; the option table pairs each field with its converter.

    The field is named at run time, so mypy cannot match the value with its type here.
    """
    changes: dict[str, object] = {field: value}
    return dataclasses.replace(options, **changes)  # type: ignore[arg-type]


def _setter(field: str, convert: Callable[[str], object] = str) -> Apply:
    def apply(options: HtoolsOptions, value: str | None) -> HtoolsOptions:
        assert value is not None
        return _with(options, field, convert(value))

    return apply


def _flag(field: str, value: object = True) -> Apply:
    def apply(options: HtoolsOptions, _: str | None) -> HtoolsOptions:
        return _with(options, field, value)

    return apply


def _prepend(field: str) -> Apply:
    def apply(options: HtoolsOptions, value: str | None) -> HtoolsOptions:
        assert value is not None
        current: tuple[str, ...] = getattr(options, field)
        return _with(options, field, (value, *current))

    return apply


def _read(convert: Callable[[str], object]) -> Callable[[str], object]:
    def checked(value: str) -> object:
        try:
            return convert(value)
        except ReadError as error:
            raise _ValueError(str(error)) from None

    return checked


def _verbosity(step: int) -> Apply:
    def apply(options: HtoolsOptions, _: str | None) -> HtoolsOptions:
        return dataclasses.replace(options, verbose=options.verbose + step)

    return apply


def _print_nodes(options: HtoolsOptions, value: str | None) -> HtoolsOptions:
    text = value or ""
    prefix: tuple[str, ...] = ()
    if text.startswith("+"):
        prefix, text = ("+",), text[1:]
    return dataclasses.replace(options, print_nodes=prefix + _split_commas(text))


def _luxi(options: HtoolsOptions, value: str | None) -> HtoolsOptions:
    return dataclasses.replace(options, luxi=DEFAULT_LUXI_SOCKET if value is None else value)


def _machine_readable(options: HtoolsOptions, value: str | None) -> HtoolsOptions:
    """``parseYesNo True``: no value means yes."""
    if value is None or value == "yes":
        return dataclasses.replace(options, machine_readable=True)
    if value == "no":
        return dataclasses.replace(options, machine_readable=False)
    raise _ValueError(f"Invalid choice '{value}', pass one of 'yes' or 'no'")


def _spindle_use(options: HtoolsOptions, value: str | None) -> HtoolsOptions:
    assert value is not None
    spindles = _read(lambda text: try_read_int("parsing spindle-use", text))(value)
    assert isinstance(spindles, int)
    if spindles < 0:
        raise _ValueError("Invalid value of the spindle-use (expected >= 0)")
    return dataclasses.replace(options, spindle_use=spindles)


def _max_cpu(options: HtoolsOptions, value: str | None) -> HtoolsOptions:
    assert value is not None
    ratio = _read(lambda text: try_read_double("parsing max-cpu", text))(value)
    assert isinstance(ratio, float)
    if ratio <= 0:
        raise _ValueError("Invalid value of the max-cpu ratio, expected >0")
    return dataclasses.replace(options, max_cpu=ratio)


def parse_ispec(description: str, text: str) -> ResourceSpec:
    """Ganeti's ``parseISpecString``: ``disk,ram,cpu[,spindles]`` with unit suffixes.

    Raises ``ValueError`` with Ganeti's message.
    """
    parts = _split_commas(text)
    if not 3 <= len(parts) <= 4:
        raise ValueError(f"Invalid {description} specification: '{text}', expected disk,ram,cpu")
    parsers: tuple[tuple[str, Callable[[str], int]], ...] = (
        ("disk", parse_unit),
        ("memory", parse_unit),
        ("cpus", lambda part: try_read_int(f"{description} specs cpus", part)),
        ("spindles", lambda part: try_read_int(f"{description} specs spindles", part)),
    )
    values: list[int] = []
    for part, (what, parse) in zip(parts, parsers, strict=False):
        try:
            values.append(parse(part))
        except ReadError as error:
            message = str(error)
            if what in ("disk", "memory"):
                message = f"{description} specs {what}: {message}"
            raise ValueError(message) from None
    disk, mem, cpu = values[:3]
    spindles = values[3] if len(values) == 4 else 1
    return ResourceSpec(cpu=cpu, mem=mem, disk=disk, spindles=spindles)


def _spec(field: str, description: str) -> Apply:
    def apply(options: HtoolsOptions, value: str | None) -> HtoolsOptions:
        assert value is not None
        try:
            spec = parse_ispec(description, value)
        except ValueError as error:
            raise _ValueError(str(error)) from None
        return _with(options, field, spec)

    return apply


def _numeric(field: str, name: str, reader: Callable[[str, str], object]) -> Apply:
    return _setter(field, _read(lambda text: reader(name, text)))


_NONE, _REQ, _OPT = ArgKind.NONE, ArgKind.REQUIRED, ArgKind.OPTIONAL

OPTIONS: dict[str, OptionDef] = {
    "print-nodes": OptionDef(
        "p", "print-nodes", _OPT, "FIELDS", "print the final node list", "none", _print_nodes
    ),
    "text-data": OptionDef(
        "t", "text-data", _REQ, "FILE", "the cluster data FILE", "file", _setter("data_file")
    ),
    "disk-template": OptionDef(
        "",
        "disk-template",
        _REQ,
        "TEMPLATE",
        "select the desired disk template",
        "choices=" + ",".join(DISK_TEMPLATES),
        _setter("disk_template", _read(parse_disk_template)),
    ),
    "spindle-use": OptionDef(
        "",
        "spindle-use",
        _REQ,
        "SPINDLES",
        "select how many virtual spindle instances use [default read from cluster]",
        "float",
        _spindle_use,
    ),
    "simulate": OptionDef(
        "",
        "simulate",
        _REQ,
        "SPEC",
        "simulate an empty cluster, given as 'alloc_policy,num_nodes,disk,ram,cpu'",
        "string",
        _prepend("simulate"),
    ),
    "master": OptionDef(
        "m",
        "master",
        _REQ,
        "ADDRESS",
        "collect data via RAPI at the given ADDRESS",
        "host",
        _setter("master"),
    ),
    "luxi": OptionDef(
        "L",
        "luxi",
        _OPT,
        "SOCKET",
        f"collect data via Luxi, optionally using the given SOCKET path [{DEFAULT_LUXI_SOCKET}]",
        "file",
        _luxi,
    ),
    "ialloc-src": OptionDef(
        "I",
        "ialloc-src",
        _REQ,
        "FILE",
        "Specify an iallocator spec as the cluster data source",
        "file",
        _setter("ialloc_src"),
    ),
    "verbose": OptionDef(
        "v", "verbose", _NONE, "", "increase the verbosity level", "none", _verbosity(1)
    ),
    "quiet": OptionDef(
        "q", "quiet", _NONE, "", "decrease the verbosity level", "none", _verbosity(-1)
    ),
    "independent-groups": OptionDef(
        "",
        "independent-groups",
        _NONE,
        "",
        "Consider groups independently",
        "none",
        _flag("independent_groups"),
    ),
    "accept-existing-errors": OptionDef(
        "",
        "accept-existing-errors",
        _NONE,
        "",
        "Accept existing N+1 violations; just don't add new ones",
        "none",
        _flag("accept_existing"),
    ),
    "offline": OptionDef(
        "O", "offline", _REQ, "NODE", "set node as offline", "onenode", _prepend("offline")
    ),
    "no-capacity-checks": OptionDef(
        "",
        "no-capacity-checks",
        _NONE,
        "",
        "disable capacity checks (like global N+1 redundancy)",
        "none",
        _flag("capacity", False),
    ),
    "machine-readable": OptionDef(
        "",
        "machine-readable",
        _OPT,
        "CHOICE",
        "enable machine readable output (pass either 'yes' or 'no' to explicitly control"
        " the flag, or without an argument defaults to yes)",
        "choices=yes,no",
        _machine_readable,
    ),
    "max-cpu": OptionDef(
        "",
        "max-cpu",
        _REQ,
        "RATIO",
        "maximum virtual-to-physical cpu ratio for nodes (from 0 upwards)"
        " [default read from cluster]",
        "float",
        _max_cpu,
    ),
    "max-length": OptionDef(
        "l",
        "max-length",
        _REQ,
        "N",
        "cap the solution at this many balancing or allocation rounds (useful for very"
        " unbalanced clusters or empty clusters)",
        "integer",
        _numeric("max_length", "max solution length", try_read_int),
    ),
    "min-disk": OptionDef(
        "",
        "min-disk",
        _REQ,
        "RATIO",
        "minimum free disk space for nodes (between 0 and 1) [0]",
        "float",
        _numeric("min_disk", "min free disk space", try_read_double),
    ),
    "standard-alloc": OptionDef(
        "",
        "standard-alloc",
        _REQ,
        "STDSPEC",
        "enable standard specs allocation, given as 'disk,ram,cpu'",
        "string",
        _spec("standard_spec", "standard"),
    ),
    "tiered-alloc": OptionDef(
        "",
        "tiered-alloc",
        _REQ,
        "TSPEC",
        "enable tiered specs allocation, given as 'disk,ram,cpu'",
        "string",
        _spec("tiered_spec", "tiered"),
    ),
    "save": OptionDef(
        "S",
        "save",
        _REQ,
        "FILE",
        "Save cluster state at the end of the processing to FILE",
        "none",
        _setter("save_cluster"),
    ),
    "static-kvm-node-memory": OptionDef(
        "",
        "static-kvm-node-memory",
        _REQ,
        "N",
        "use static node memory [in MB] on KVM instead of value reported by hypervisor."
        " Use 0 to take value reported from hypervisor.",
        "integer",
        _numeric("static_kvm_node_memory", "static node memory", try_read_int),
    ),
    "offline-maintenance": OptionDef(
        "",
        "offline-maintenance",
        _NONE,
        "",
        "Schedule offline maintenance, i.e., pretend that all instance are offline.",
        "none",
        _flag("offline_maintenance"),
    ),
    "no-headers": OptionDef(
        "", "no-headers", _NONE, "", "do not show a header line", "none", _flag("no_headers")
    ),
    "node-tags": OptionDef(
        "",
        "node-tags",
        _REQ,
        "TAG,...",
        "Restrict to nodes with the given tags",
        "string",
        _setter("node_tags", _split_commas),
    ),
    "group": OptionDef(
        "G",
        "group",
        _REQ,
        "ID",
        "the target node group (name or UUID)",
        "onegroup",
        _setter("group"),
    ),
    "print-moves": OptionDef(
        "",
        "print-moves",
        _NONE,
        "",
        "print the moves of the instances",
        "none",
        _flag("print_moves"),
    ),
    "full-evacuation": OptionDef(
        "",
        "full-evacuation",
        _NONE,
        "",
        "fully evacuate the nodes to be rebooted",
        "none",
        _flag("full_evacuation"),
    ),
    "skip-non-redundant": OptionDef(
        "",
        "skip-non-redundant",
        _NONE,
        "",
        "Skip nodes that host a non-redundant instance",
        "none",
        _flag("skip_non_redundant"),
    ),
    "ignore-non-redundant": OptionDef(
        "",
        "ignore-non-redundant",
        _NONE,
        "",
        "Pretend that there are no non-redundant instances in the cluster",
        "none",
        _flag("ignore_non_redundant"),
    ),
    "force": OptionDef(
        "f",
        "force",
        _NONE,
        "",
        "force the execution of this program, even if warnings would otherwise prevent it",
        "none",
        _flag("force"),
    ),
    "one-step-only": OptionDef(
        "",
        "one-step-only",
        _NONE,
        "",
        "Only do the first step",
        "none",
        _flag("one_step_only"),
    ),
    "version": OptionDef(
        "V",
        "version",
        _NONE,
        "",
        "show the version of the program",
        "none",
        _flag("show_version"),
    ),
    "help": OptionDef("h", "help", _NONE, "", "show help", "none", _flag("show_help")),
    "help-completion": OptionDef(
        "",
        "help-completion",
        _NONE,
        "",
        "show completion info",
        "none",
        _flag("show_completion"),
    ),
}
"""Every option once, keyed by its long name (``Ganeti.HTools.CLI``)."""

_GENERIC = ("version", "help", "help-completion")

PROGRAM_OPTIONS: dict[str, tuple[str, ...]] = {
    "hspace": (
        "print-nodes",
        "text-data",
        "disk-template",
        "spindle-use",
        "simulate",
        "master",
        "luxi",
        "ialloc-src",
        "verbose",
        "quiet",
        "independent-groups",
        "accept-existing-errors",
        "offline",
        "no-capacity-checks",
        "machine-readable",
        "max-cpu",
        "max-length",
        "min-disk",
        "standard-alloc",
        "tiered-alloc",
        "save",
        "static-kvm-node-memory",
        *_GENERIC,
    ),
    "hroller": (
        "luxi",
        "master",
        "text-data",
        "ialloc-src",
        "offline",
        "offline-maintenance",
        "verbose",
        "quiet",
        "no-headers",
        "node-tags",
        "save",
        "group",
        "print-moves",
        "full-evacuation",
        "skip-non-redundant",
        "ignore-non-redundant",
        "force",
        "one-step-only",
        "static-kvm-node-memory",
        *_GENERIC,
    ),
}
"""The options of each program, in the order its ``--help`` lists them."""


def program_options(program: str) -> tuple[OptionDef, ...]:
    """The option table of one program."""
    return tuple(OPTIONS[name] for name in PROGRAM_OPTIONS[program])


# --- GetOpt ------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    """What getopt found: options with their values, leftover arguments, errors."""

    applied: tuple[tuple[OptionDef, str | None], ...]
    arguments: tuple[str, ...]
    errors: tuple[str, ...]


def _format_short(option: OptionDef, short: str) -> str:
    if option.kind is ArgKind.REQUIRED:
        return f"-{short} {option.metavar}"
    if option.kind is ArgKind.OPTIONAL:
        return f"-{short}[{option.metavar}]"
    return f"-{short}"


def _format_long(option: OptionDef) -> str:
    if option.kind is ArgKind.REQUIRED:
        return f"--{option.long}={option.metavar}"
    if option.kind is ArgKind.OPTIONAL:
        return f"--{option.long}[={option.metavar}]"
    return f"--{option.long}"


def usage_info(header: str, options: Sequence[OptionDef]) -> str:
    """GetOpt's ``usageInfo``: the header, then one aligned row per option."""
    rows = [
        (", ".join(_format_short(o, s) for s in o.shorts), _format_long(o), o.description)
        for o in options
    ]
    short_width = max((len(row[0]) for row in rows), default=0)
    long_width = max((len(row[1]) for row in rows), default=0)
    lines = [header]
    lines += [
        f"  {shorts.ljust(short_width)}  {longs.ljust(long_width)}  {text}"
        for shorts, longs, text in rows
    ]
    return "".join(line + "\n" for line in lines)


def _long_option(
    body: str, rest: list[str], options: Sequence[OptionDef]
) -> tuple[tuple[OptionDef, str | None] | None, str | None, str | None]:
    """Returns (option and value, error, unrecognised) for ``--body``."""
    name, equals, value = body.partition("=")
    exact = [o for o in options if o.long == name]
    matches = exact or [o for o in options if o.long.startswith(name)]
    shown = f"--{name}"
    if not matches:
        return None, None, f"--{body}"
    if len(matches) > 1:
        header = f"option `{shown}' is ambiguous; could be one of:"
        return None, usage_info(header, matches), None
    option = matches[0]
    if option.kind is ArgKind.NONE:
        if equals:
            return None, f"option `{shown}' doesn't allow an argument\n", None
        return (option, None), None, None
    if option.kind is ArgKind.OPTIONAL:
        return (option, value if equals else None), None, None
    if equals:
        return (option, value), None, None
    if not rest:
        return None, f"option `{shown}' requires an argument {option.metavar}\n", None
    return (option, rest.pop(0)), None, None


def _short_option(
    letter: str, tail: str, rest: list[str], options: Sequence[OptionDef]
) -> tuple[tuple[OptionDef, str | None] | None, str | None, str | None]:
    """Returns (option and value, error, unrecognised) for ``-letter tail``."""
    found = [o for o in options if letter in o.shorts]
    if not found:
        if tail:
            rest.insert(0, "-" + tail)
        return None, None, f"-{letter}"
    option = found[0]
    if option.kind is ArgKind.NONE:
        if tail:
            rest.insert(0, "-" + tail)
        return (option, None), None, None
    if option.kind is ArgKind.OPTIONAL:
        return (option, tail or None), None, None
    if tail:
        return (option, tail), None, None
    if not rest:
        return None, f"option `-{letter}' requires an argument {option.metavar}\n", None
    return (option, rest.pop(0)), None, None


def getopt(argv: Sequence[str], options: Sequence[OptionDef]) -> _Parsed:
    """GHC's ``getOpt Permute``: options anywhere, ``--`` ends them."""
    rest = list(argv)
    applied: list[tuple[OptionDef, str | None]] = []
    arguments: list[str] = []
    errors: list[str] = []
    unrecognised: list[str] = []
    while rest:
        word = rest.pop(0)
        if word == "--":
            arguments += rest
            break
        if word.startswith("--"):
            found, error, unknown = _long_option(word[2:], rest, options)
        elif word.startswith("-") and len(word) > 1:
            found, error, unknown = _short_option(word[1], word[2:], rest, options)
        else:
            arguments.append(word)
            continue
        if found is not None:
            applied.append(found)
        if error is not None:
            errors.append(error)
        if unknown is not None:
            unrecognised.append(unknown)
    errors += [f"unrecognized option `{word}'\n" for word in unrecognised]
    return _Parsed(tuple(applied), tuple(arguments), tuple(errors))


# --- the texts of --help, --version, --help-completion --------------------------


def version_line(program: str) -> str:
    """``<program> (ganeti-agent) version <v>``, in the place of ``(ganeti) version 3.0.2``."""
    return f"{program} (ganeti-agent) version {__version__}"


def version_text(program: str) -> str:
    """The ``-V`` text, in the three lines of Ganeti's ``versionInfo``."""
    import platform  # only -V needs it; a millisecond of start-up for every run otherwise

    implementation = sys.implementation.name
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        f"{version_line(program)}\n"
        f"compiled with {implementation} {python}\n"
        f"running on {sys.platform} {platform.machine()}\n"
    )


def help_text(program: str) -> str:
    """The ``--help`` text (``usageHelp``)."""
    header = f"{version_line(program)}\nUsage: {program} [OPTION...]"
    return usage_info(header, program_options(program))


def completion_text(program: str) -> str:
    """The ``--help-completion`` text: each option's spellings and value type."""
    lines = []
    for option in program_options(program):
        spellings = [f"-{short}" for short in option.shorts] + [f"--{option.long}"]
        lines.append(f"{','.join(spellings)} {option.completion}\n")
    return "".join(lines)


# --- the entry point -----------------------------------------------------------


def parse_options(program: str, argv: Sequence[str]) -> HtoolsOptions:
    """Parse ``argv`` (without the program name) as Ganeti's ``program`` would.

    Raises ``UsageExit`` for ``--help``, ``--version``, ``--help-completion``
    (exit 0, text on stdout), getopt errors (exit 2), bad values (exit 1) and
    arguments that are not options (exit 1); ``program`` is ``"hspace"`` or
    ``"hroller"``.
    """
    table = program_options(program)
    parsed = getopt(argv, table)
    if parsed.errors:
        raise UsageExit(
            GETOPT_ERROR_EXIT,
            stderr_text="Command line error: " + "".join(parsed.errors) + "\n" + help_text(program),
        )
    options = HtoolsOptions()
    for option, value in parsed.applied:
        try:
            options = option.apply(options, value)
        except _ValueError as error:
            raise UsageExit(
                VALUE_ERROR_EXIT,
                stderr_text=f"Error while parsing command line arguments:\n{error}\n",
            ) from None
    if options.show_help:
        raise UsageExit(0, stdout_text=help_text(program))
    if options.show_version:
        raise UsageExit(0, stdout_text=version_text(program))
    if options.show_completion:
        raise UsageExit(0, stdout_text=completion_text(program))
    if parsed.arguments:
        raise UsageExit(
            VALUE_ERROR_EXIT, stderr_text="Error: This program doesn't take any arguments.\n"
        )
    return options
