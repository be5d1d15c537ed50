"""``ganeti-mon-collector``: run one collector once and print its report, like Ganeti's tool.

Subcommands, option names (GNU style: bundled short options, ``--long=value``, unique
long prefixes, ``--``), exit statuses and the shape of the messages follow Ganeti
3.0.2's ``mon-collector`` (spec section 8), so scripts written for it keep working.
Each subcommand lives in its own module and is listed in :data:`SUBCOMMAND_MODULES`.
"""

from __future__ import annotations

import getopt
import importlib
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TextIO, cast

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ganeti_agent import __version__
from ganeti_agent.core.executor import DEFAULT_SEARCH_PATH, ProcessRunner
from ganeti_agent.core.framework import Collector, as_deferred
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.report import Report, encode_json, pretty_json, timestamp_ns
from ganeti_agent.parsers.errors import ParseError

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorProcess, IReactorUNIX

    from ganeti_agent.confd.client import IConfdReactor

    class ISubcommandReactor(IConfdReactor, IReactorProcess, IReactorUNIX):
        """What subcommands need of the reactor: confd, child processes, QEMU monitors."""


PROGRAM = "mon-collector"

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "diskstats",
    "drbd",
    "inst_status_xen",
    "lv",
    "inst_status_kvm",
    "hypervisor",
    "node",
    "daemons",
    "confd",
)
"""Modules with a ``COMMAND``, or ``COMMANDS`` when one module serves several collectors."""


class CliError(Exception):
    """Ends the run: ``message`` goes to stderr after ``prefix``, with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1, prefix: str = "Error: ") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.prefix = prefix


@dataclass(frozen=True)
class Option:
    """One option of a subcommand, as its help and completion texts show it."""

    short: str
    long: str
    metavar: str
    help: str
    completion: str = "file"


@dataclass
class Invocation:
    """What a subcommand's ``run`` gets: its options (by long name), arguments and world."""

    options: dict[str, str]
    arguments: list[str]
    paths: GanetiPaths
    reactor: ISubcommandReactor
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def warn(self, message: str) -> None:
        print(message, file=self.stderr)

    def runner(self) -> ProcessRunner:
        """Runs commands found on ``PATH``, as Ganeti's tool does (stand-ins work)."""
        return ProcessRunner(
            self.reactor, self.reactor, search_path=os.environ.get("PATH", DEFAULT_SEARCH_PATH)
        )


RunFunction = Callable[[Invocation], "Report | Deferred[Report]"]


@dataclass(frozen=True)
class Subcommand:
    """A collector as a command: its options, what it does with arguments, and its run."""

    name: str
    summary: tuple[str, ...]
    options: tuple[Option, ...]
    run: RunFunction
    positional: Literal["none", "ignored"] = "none"


def subcommands() -> list[Subcommand]:
    commands: list[Subcommand] = []
    for module_name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        commands.extend(getattr(module, "COMMANDS", None) or [module.COMMAND])
    return commands


def usage_text(commands: Sequence[Subcommand]) -> str:
    lines = [
        f"Usage: {PROGRAM} {{command}} [options...] [argument...]",
        f"{PROGRAM} <command> --help to see details, or man {PROGRAM}",
        "",
        "Commands:",
    ]
    width = max(len(c.name) for c in commands)
    for command in sorted(commands, key=lambda c: c.name):
        first, *rest = command.summary
        lines.append(f" {command.name.ljust(width)} - {first}")
        lines.extend(" " * (width + 4) + line for line in rest)
    return "\n".join(lines) + "\n"


def version_text() -> str:
    return (
        f"{PROGRAM} (ganeti-agent) version {__version__}\n"
        f"compiled with python {platform.python_version()}\n"
        f"running on {platform.system().lower()} {platform.machine()}\n"
    )


def _standard_options() -> tuple[Option, ...]:
    return (
        Option("", "pretty", "", "print the report as indented JSON", "none"),
        Option("V", "version", "", "show the version of the program", "none"),
        Option("h", "help", "", "show help", "none"),
        Option("", "help-completion", "", "show completion info", "none"),
    )


def help_text(command: Subcommand) -> str:
    options = command.options + _standard_options()
    rows = []
    for option in options:
        short = f"-{option.short} {option.metavar}".rstrip() if option.short else ""
        long = f"--{option.long}" + (f"={option.metavar}" if option.metavar else "")
        rows.append((short, long, option.help))
    short_width = max(len(r[0]) for r in rows)
    long_width = max(len(r[1]) for r in rows)
    lines = [version_text().splitlines()[0], f"Usage: {PROGRAM} [OPTION...]"]
    for short, long, text in rows:
        lines.append(f"  {short.ljust(short_width)}  {long.ljust(long_width)}  {text}")
    return "\n".join(lines) + "\n"


def completion_text(command: Subcommand) -> str:
    lines = []
    for option in command.options + _standard_options():
        names = ",".join(
            n for n in (f"-{option.short}" if option.short else "", f"--{option.long}") if n
        )
        lines.append(f"{names} {option.completion}")
    if command.positional == "none":
        lines.append("file 0 0")
    return "\n".join(lines) + "\n"


def _getopt_specs(command: Subcommand) -> tuple[str, list[str]]:
    shorts = ""
    longs = []
    for option in command.options + _standard_options():
        if option.short:
            shorts += option.short + (":" if option.metavar else "")
        longs.append(option.long + ("=" if option.metavar else ""))
    return shorts, longs


def _command_line_error(error: getopt.GetoptError, command: Subcommand) -> CliError:
    option = error.opt
    if "requires argument" in error.msg:
        dash = "--" if len(option) > 1 else "-"
        text = f"option `{dash}{option}' requires an argument"
    elif "not a unique prefix" in error.msg:
        text = f"option `--{option}' is ambiguous"
    else:
        dash = "--" if len(option) > 1 else "-"
        text = f"unrecognized option `{dash}{option}'"
    return CliError(f"{text}\n\n{help_text(command)}", exit_code=2, prefix="Command line error: ")


def parse_command_line(
    command: Subcommand, argv: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Options by long name (the last occurrence wins) and the positional arguments."""
    shorts, longs = _getopt_specs(command)
    by_short = {o.short: o.long for o in command.options + _standard_options() if o.short}
    try:
        pairs, arguments = getopt.gnu_getopt(list(argv), shorts, longs)
    except getopt.GetoptError as error:
        raise _command_line_error(error, command) from None
    options: dict[str, str] = {}
    for flag, value in pairs:
        name = flag[2:] if flag.startswith("--") else by_short[flag[1:]]
        options[name] = value
    return options, arguments


@dataclass
class Outcome:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


def prepare(argv: Sequence[str]) -> tuple[Subcommand, Invocation] | Outcome:
    """Handle everything that needs no collection: usage, help, version, bad options."""
    commands = subcommands()
    if not argv or argv[0] not in {c.name for c in commands}:
        if argv and argv[0] == "--help":
            return Outcome(stdout=usage_text(commands))
        if argv and argv[0] == "--version":
            return Outcome(stdout=version_text())
        if argv and argv[0] == "--help-completion":
            names = ",".join(c.name for c in commands)
            return Outcome(stdout=f"choices={names} 1 1\n")
        return Outcome(stdout=usage_text(commands), exit_code=1)
    command = next(c for c in commands if c.name == argv[0])
    try:
        options, arguments = parse_command_line(command, argv[1:])
    except CliError as error:
        return Outcome(stderr=error.prefix + error.message + "\n", exit_code=error.exit_code)
    if "help" in options:
        return Outcome(stdout=help_text(command))
    if "version" in options:
        return Outcome(stdout=version_text())
    if "help-completion" in options:
        return Outcome(stdout=completion_text(command))
    if arguments and command.positional == "none":
        joined = " ".join(arguments)
        return Outcome(
            stderr=f"Error: This program takes exactly zero arguments, got '{joined}'\n",
            exit_code=1,
        )
    from twisted.internet import reactor

    # Twisted types its global reactor with the common interfaces only (not UDP).
    every_interface = cast("ISubcommandReactor", reactor)
    return command, Invocation(options, arguments, GanetiPaths.from_environment(), every_interface)


def execute(command: Subcommand, invocation: Invocation) -> Deferred[Outcome]:
    """Run the subcommand; any failure becomes a message and an exit status, never a trace."""

    def printed(report: Report) -> Outcome:
        if "pretty" in invocation.options:
            return Outcome(stdout=pretty_json(report.to_json_object()))
        return Outcome(stdout=encode_json(report.to_json_object()).decode("utf-8") + "\n")

    def failed(failure: Failure) -> Outcome:
        error = failure.value
        if isinstance(error, CliError):
            return Outcome(stderr=f"{error.prefix}{error.message}\n", exit_code=error.exit_code)
        return Outcome(stderr=f"{PROGRAM}: {error}\n", exit_code=1)

    attempt: Deferred[Report] = as_deferred(lambda: command.run(invocation))
    return attempt.addCallbacks(printed, failed)


def _emit(outcome: Outcome) -> int:
    sys.stdout.write(outcome.stdout)
    sys.stdout.flush()
    sys.stderr.write(outcome.stderr)
    return outcome.exit_code


def main(argv: Sequence[str] | None = None) -> None:
    prepared = prepare(list(sys.argv[1:] if argv is None else argv))
    if isinstance(prepared, Outcome):
        raise SystemExit(_emit(prepared))
    command, invocation = prepared
    from twisted.internet import task

    def run(_reactor: object) -> Deferred[None]:
        return execute(command, invocation).addCallback(_exit_with)

    task.react(run)


def _exit_with(outcome: Outcome) -> None:
    code = _emit(outcome)
    if code:
        raise SystemExit(code)


def read_input(path: str) -> str:
    """An input file's text, or the error Ganeti's tool prints for it."""
    from ganeti_agent.core.files import InputError, read_text

    try:
        return read_text(path)
    except InputError as error:
        raise CliError(f"reading from file: {error}") from None


def parse_failure(error: ParseError) -> CliError:
    """Ganeti's three-line parse error: the unparsed rest, the contexts, the reason."""
    return CliError(f"{error.quoted_remaining()}\n[]\nFailed reading: {error.reason}")


def build_report(collector: Collector | type[Collector], data: JSON) -> Report:
    """A report of ``collector``'s identity around ``data``, stamped now."""
    return Report(collector.name, collector.category, collector.kind, data, timestamp_ns())
