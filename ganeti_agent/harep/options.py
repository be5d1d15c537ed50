"""harep's command line, parsed by htools' GetOpt as Ganeti 3.0.2's harep parses it.

Ganeti's options come first, in its ``--help`` order: ``-L/--luxi[=SOCKET]``,
``--job-delay=SECONDS``, ``--reason=REASON``, ``--dry-run``, ``-V``, ``-h``,
``--help-completion``. Ours follow: ``-m CLUSTER`` (RAPI) with its
credentials as ganeti-move-instance takes them, ``--lock-file`` and
``-v``/``-q``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ganeti_agent.htools import cli
from ganeti_agent.htools.cli import ArgKind, OptionDef, UsageExit
from ganeti_agent.htools.haskell_read import ReadError, try_read_double, try_read_int
from ganeti_agent.rapi.client import DEFAULT_PORT

PROGRAM = "harep"
DEFAULT_JOB_DELAY = 10.0
DEFAULT_LOCK_FILE = "/var/lock/ganeti-harep.lock"


@dataclass(frozen=True)
class HarepOptions:
    luxi: str | None = None
    job_delay: float = DEFAULT_JOB_DELAY
    reason: str | None = None
    dry_run: bool = False
    master: str | None = None
    rapi_port: int = DEFAULT_PORT
    ca_file: str | None = None
    username: str | None = None
    password_file: str | None = None
    lock_file: str | None = None
    verbose: int = 1


def _keep(options: cli.HtoolsOptions, _value: str | None) -> cli.HtoolsOptions:
    """Our rows' values are read in ``parse``, not into htools' options."""
    return options


def _row(long: str, kind: ArgKind, metavar: str, text: str, completion: str) -> OptionDef:
    return OptionDef("", long, kind, metavar, text, completion, _keep)


_REQ, _NONE = ArgKind.REQUIRED, ArgKind.NONE
GANETI_OPTIONS: tuple[OptionDef, ...] = (
    cli.OPTIONS["luxi"],
    _row(
        "job-delay",
        _REQ,
        "SECONDS",
        "insert this much delay before the execution of repair jobs to allow the tool to"
        " continue processing instances",
        "float",
    ),
    _row("reason", _REQ, "REASON", "The reason to pass to the submitted jobs", "none"),
    _row(
        "dry-run",
        _NONE,
        "",
        "do not execute any commands and just report what would be done",
        "none",
    ),
    cli.OPTIONS["version"],
    cli.OPTIONS["help"],
    cli.OPTIONS["help-completion"],
)
"""Ganeti 3.0.2's harep options, in its ``--help`` order."""
EXTENSIONS: tuple[OptionDef, ...] = (
    cli.OPTIONS["master"],
    _row("rapi-port", _REQ, "PORT", f"the RAPI port [{DEFAULT_PORT}]", "integer"),
    _row("ca-file", _REQ, "FILE", "check the RAPI certificate against this PEM file", "file"),
    _row("username", _REQ, "USER", "RAPI user (with write access)", "string"),
    _row("password-file", _REQ, "FILE", "file holding the RAPI user's password", "file"),
    _row(
        "lock-file",
        _REQ,
        "FILE",
        f"one run at a time: lock this file [{DEFAULT_LOCK_FILE}]",
        "file",
    ),
    cli.OPTIONS["verbose"],
    cli.OPTIONS["quiet"],
)
"""ganeti-agent's own options, listed after Ganeti's in ``--help``."""
OPTIONS = GANETI_OPTIONS + EXTENSIONS


def help_text() -> str:
    """Ganeti's help, aligned as Ganeti aligns it, then our options in a block of their own."""
    header = f"{cli.version_line(PROGRAM)}\nUsage: {PROGRAM} [OPTION...]"
    ganeti = cli.usage_info(header, GANETI_OPTIONS)
    return ganeti + cli.usage_info("\nganeti-agent options:", EXTENSIONS)


def completion_text() -> str:
    lines = []
    for option in OPTIONS:
        spellings = [f"-{short}" for short in option.shorts]
        spellings.append(f"--{option.long}")
        lines.append(f"{','.join(spellings)} {option.completion}\n")
    return "".join(lines)


def _value_error(text: str) -> UsageExit:
    return UsageExit(
        cli.VALUE_ERROR_EXIT,
        stderr_text=f"Error while parsing command line arguments:\n{text}\n",
    )


def _apply(options: HarepOptions, option: OptionDef, value: str | None) -> HarepOptions:
    name = option.long
    try:
        if name == "luxi":
            return replace(options, luxi=cli.DEFAULT_LUXI_SOCKET if value is None else value)
        if name == "job-delay":
            assert value is not None
            return replace(options, job_delay=try_read_double("job delay", value))
        if name == "rapi-port":
            assert value is not None
            return replace(options, rapi_port=try_read_int("rapi port", value))
    except ReadError as error:
        raise _value_error(str(error)) from None
    if name == "verbose":
        return replace(options, verbose=options.verbose + 1)
    if name == "quiet":
        return replace(options, verbose=options.verbose - 1)
    if name == "dry-run":
        return replace(options, dry_run=True)
    field = {
        "reason": "reason",
        "master": "master",
        "ca-file": "ca_file",
        "username": "username",
        "password-file": "password_file",
        "lock-file": "lock_file",
    }[name]
    changes: dict[str, str | None] = {field: value}
    return replace(options, **changes)  # type: ignore[arg-type]


def parse(argv: Sequence[str]) -> HarepOptions:
    """The options, or ``UsageExit`` with harep's texts and exit codes.

    ``--help``, ``-V`` and ``--help-completion`` exit 0; getopt errors 2; bad
    values and stray arguments 1.
    """
    parsed = cli.getopt(argv, OPTIONS)
    if parsed.errors:
        raise UsageExit(
            cli.GETOPT_ERROR_EXIT,
            stderr_text="Command line error: " + "".join(parsed.errors) + "\n" + help_text(),
        )
    options = HarepOptions()
    shown = set()
    for option, value in parsed.applied:
        if option.long in ("help", "version", "help-completion"):
            shown.add(option.long)
            continue
        options = _apply(options, option, value)
    if "help" in shown:
        raise UsageExit(0, stdout_text=help_text())
    if "version" in shown:
        raise UsageExit(0, stdout_text=cli.version_text(PROGRAM))
    if "help-completion" in shown:
        raise UsageExit(0, stdout_text=completion_text())
    if parsed.arguments:
        raise UsageExit(
            cli.VALUE_ERROR_EXIT, stderr_text="Error: this program doesn't take any arguments.\n"
        )
    if options.master is not None and options.luxi is not None:
        raise UsageExit(
            cli.VALUE_ERROR_EXIT, stderr_text="Error: give either -L or -m, not both.\n"
        )
    return options
