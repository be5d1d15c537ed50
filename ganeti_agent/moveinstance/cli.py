"""``ganeti-move-instance SOURCE DEST INSTANCE…``: the program around the mover.

Exit status: 0 every instance moved; 1 at least one move failed (each one's
result says which side failed and why); 2 the command line is wrong or a
password or CA file cannot be read (nothing was sent); 3 a pre-flight check
failed (a cluster unreachable, its certificate not verifying, the RAPI user
refused or without write access, no way to place the instances): nothing was
started on either cluster.

Progress lines go to stderr, one per step and instance (``-v`` adds the
jobs' own log messages); the results go to stdout, one line per instance.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from twisted.internet.defer import DeferredSemaphore, ensureDeferred, gatherResults
from twisted.internet.task import react

from ganeti_agent.moveinstance import options as cli_options
from ganeti_agent.moveinstance import plan
from ganeti_agent.moveinstance.mover import InstanceMover, MoveResult
from ganeti_agent.rapi.client import (
    IRapiReactor,
    RapiClient,
    RapiEndpoint,
    RapiError,
    RapiHttpError,
    policy_for_ca_file,
)

PROG = "ganeti-move-instance"
EXIT_SUCCESS = 0
EXIT_MOVE_FAILED = 1
EXIT_USAGE = 2
EXIT_PREFLIGHT = 3
#: A password file is one short line; more than this is not a password file.
MAX_PASSWORD_FILE_BYTES = 4096
MAX_LINE = 1000


class SetupError(Exception):
    """A local problem found before anything was sent (exit 2)."""


class PreflightError(Exception):
    """A cluster problem found before any move started (exit 3)."""


def read_password_file(path: str, option: str) -> str:
    """Ganeti's strict one-line file: the only non-empty line, else a clear SetupError."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_PASSWORD_FILE_BYTES + 1)
    except OSError as exc:
        raise SetupError(f"cannot read {option} {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_PASSWORD_FILE_BYTES:
        raise SetupError(f"{option} {path} is larger than {MAX_PASSWORD_FILE_BYTES} bytes")
    try:
        lines = [line for line in raw.decode("utf-8").splitlines() if line]
    except UnicodeDecodeError:
        raise SetupError(f"{option} {path} is not UTF-8 text") from None
    if not lines:
        raise SetupError(f"{option} {path}: No data in one-liner file")
    if len(lines) > 1:
        raise SetupError(f"{option} {path}: Too many lines in one-liner file")
    return lines[0]


def endpoint(cluster: str, credentials: cli_options.Credentials, side: str) -> RapiEndpoint:
    """The endpoint of one side, its password read; SetupError on a missing piece."""
    password = None
    if credentials.password_file:
        password = read_password_file(credentials.password_file, f"--{side}-password-file")
    if credentials.username is not None and password is None:
        raise SetupError(
            f"--{side}-username needs a password: give --{side}-password-file"
            " (Password not specified)"
        )
    if password is not None and not credentials.username:
        raise SetupError(
            f"--{side}-password-file needs --{side}-username (Specified password without username)"
        )
    return RapiEndpoint(
        cluster, credentials.port, credentials.username, password, credentials.ca_file
    )


def printable(text: str) -> str:
    """One bounded line: what a cluster sent cannot break or flood the terminal."""
    cleaned = "".join(char if char.isprintable() else "?" for char in text)
    return cleaned if len(cleaned) <= MAX_LINE else cleaned[:MAX_LINE] + "…"


class Console:
    """Where progress (stderr) and results (stdout) go."""

    def __init__(self, out: TextIO, err: TextIO, verbose: bool) -> None:
        self.out, self.err, self.verbose = out, err, verbose

    def progress(self, label: str, message: str) -> None:
        print(printable(f"{label}: {message}"), file=self.err, flush=True)

    def detail(self, label: str, message: str) -> None:
        if self.verbose:
            self.progress(label, message)

    def note(self, message: str) -> None:
        print(printable(message), file=self.err, flush=True)

    def result(self, message: str) -> None:
        print(printable(message), file=self.out, flush=True)


def _side_error(side: str, client: RapiClient, error: RapiError) -> PreflightError:
    name = f"{side} cluster {client.endpoint.host}"
    option = "src" if side == "Source" else "dest"
    if isinstance(error, RapiHttpError) and error.code == 401:
        return PreflightError(
            f"{name}: the RAPI refused the login (HTTP 401); check --{option}-username"
            f" and --{option}-password-file"
        )
    if isinstance(error, RapiHttpError) and error.code == 403:
        user = client.endpoint.username or "(anonymous)"
        return PreflightError(
            f"{name}: the RAPI user {user} has no write access (HTTP 403); moving an"
            " instance needs a user with write access"
        )
    return PreflightError(f"{name}: {error}")


async def _check_cluster(side: str, client: RapiClient, console: Console) -> None:
    try:
        version = await client.get_version()
        console.note(f"{side} cluster {client.endpoint.host}: RAPI version {version}")
        await client.check_write_access()
    except RapiError as exc:
        raise _side_error(side, client, exc) from None


async def preflight(
    options: cli_options.MoveOptions, source: RapiClient, dest: RapiClient, console: Console
) -> None:
    """Both clusters answer, accept the user for writing, and can place the instances."""
    await _check_cluster("Source", source, console)
    await _check_cluster("Destination", dest, console)
    if options.iallocator:
        return
    try:
        info = await dest.get_info()
    except RapiError as exc:
        raise _side_error("Destination", dest, exc) from None
    has_default = isinstance(info, dict) and bool(info.get("default_iallocator"))
    if has_default:
        return
    if len(options.instances) > 1:
        raise PreflightError(
            "When moving multiple nodes, an iallocator must be used. None was provided"
            " and the target cluster does not have a default iallocator."
        )
    if not (options.dest_primary_node or options.dest_secondary_node):
        raise PreflightError(
            "Target cluster does not have a default iallocator, please specify either"
            " destination nodes or an iallocator."
        )


async def run(
    reactor: IRapiReactor,
    options: cli_options.MoveOptions,
    source: RapiClient,
    dest: RapiClient,
    console: Console,
) -> int:
    """Pre-flight, then every move (``--parallel`` at a time); the exit status."""
    try:
        await preflight(options, source, dest, console)
    except PreflightError as exc:
        console.note(f"{PROG}: error: {exc}")
        return EXIT_PREFLIGHT
    mover = InstanceMover(
        source,
        dest,
        reactor,
        console.progress,
        source_cluster=options.source_cluster,
        detail=console.detail,
    )
    semaphore = DeferredSemaphore(options.parallel)
    moves = plan.moves_for(options)
    results: Sequence[MoveResult] = await gatherResults(
        [semaphore.run(mover.move, move) for move in moves]
    )
    console.result("Instance move results:")
    for result in results:
        console.result(result.summary())
    return EXIT_SUCCESS if all(result.succeeded for result in results) else EXIT_MOVE_FAILED


def clients(
    reactor: IRapiReactor, options: cli_options.MoveOptions
) -> tuple[RapiClient, RapiClient]:
    """The two RAPI clients; SetupError when a password or CA file is unusable."""
    pairs = (
        (options.source_cluster, options.source, "src"),
        (options.dest_cluster, options.dest, "dest"),
    )
    made = []
    for cluster, credentials, side in pairs:
        point = endpoint(cluster, credentials, side)
        try:
            policy_for_ca_file(point.ca_file)
        except RapiError as exc:
            raise SetupError(str(exc)) from None
        made.append(RapiClient(point, reactor, user_agent=f"{PROG} (ganeti-agent)"))
    return made[0], made[1]


def main(arguments: Sequence[str] | None = None) -> None:
    """The console script: parse, read the secrets, run on the reactor, exit with the status."""
    options = cli_options.parse(sys.argv[1:] if arguments is None else arguments, PROG)
    console = Console(sys.stdout, sys.stderr, options.verbose or options.debug > 0)

    async def program(reactor: IRapiReactor) -> None:
        try:
            source, dest = clients(reactor, options)
        except SetupError as exc:
            console.note(f"{PROG}: error: {exc}")
            raise SystemExit(EXIT_USAGE) from None
        try:
            status = await run(reactor, options, source, dest, console)
        except Exception as exc:
            console.note(f"{PROG}: error: unexpected {type(exc).__name__}: {exc}")
            if options.debug:
                raise
            raise SystemExit(EXIT_MOVE_FAILED) from None
        if status != EXIT_SUCCESS:
            raise SystemExit(status)

    react(lambda reactor: ensureDeferred(program(reactor)))
