"""Is this node a Xen host, and which toolstack command (``xl`` or ``xm``) answers?

Ganeti 3.0 lists its Xen collectors on every node, KVM ones included (Ganeti issue
926); ganeti-agent lists them only in a Xen control domain, which the kernel says in
``/proc/xen/capabilities`` (``control_d``). A PV guest also has ``/proc/xen`` but not that
word, and a KVM host has neither.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure

from ganeti_agent.core.executor import (
    CommandFailed,
    CommandNotFound,
    CommandRunner,
    ExecutionError,
    ProcessResult,
)

XL = "xl"
XM = "xm"
TOOLSTACK_CHOICES = ("auto", XL, XM)


def is_xen_control_domain(proc_root: str = "/proc") -> bool:
    """Whether this kernel runs as Xen's dom0 (``control_d`` in ``xen/capabilities``)."""
    try:
        with open(os.path.join(proc_root, "xen", "capabilities"), "rb") as handle:
            return b"control_d" in handle.read(4096)
    except OSError:
        return False


def toolstack_commands(choice: str) -> tuple[str, ...]:
    """Commands to try in order: ``auto`` prefers ``xl`` (Xen >= 4.5) and falls back to ``xm``."""
    if choice == "auto":
        return (XL, XM)
    if choice in (XL, XM):
        return (choice,)
    raise ValueError(f"toolstack must be one of {', '.join(TOOLSTACK_CHOICES)}, not {choice!r}")


class Toolstack:
    """Runs ``xl``/``xm`` subcommands, remembering which one exists on this node."""

    def __init__(self, runner: CommandRunner, choice: str = "auto") -> None:
        self.runner = runner
        self.commands = toolstack_commands(choice)
        self._found: str | None = None

    def run(self, arguments: Sequence[str], timeout: float) -> Deferred[ProcessResult]:
        candidates = (self._found,) if self._found is not None else self.commands
        return self._try(list(candidates), list(arguments), timeout)

    def _try(
        self, candidates: list[str], arguments: list[str], timeout: float
    ) -> Deferred[ProcessResult]:
        if not candidates:
            return fail(CommandNotFound((self.commands[-1], *arguments), "not found"))
        command, rest = candidates[0], candidates[1:]

        def found(result: ProcessResult) -> ProcessResult:
            self._found = command
            return result

        def missing(failure: Failure) -> Deferred[ProcessResult] | Failure:
            if rest and failure.check(CommandNotFound):
                return self._try(rest, arguments, timeout)
            return failure

        attempt = self.runner.run([command, *arguments], timeout)
        return attempt.addCallbacks(found, missing)


def haskell_process_error(error: ExecutionError) -> str:
    """How Ganeti's ``readProcess`` failures read (``show IOError``), for the same messages."""
    program = error.argv[0] if error.argv else "?"
    if isinstance(error, CommandNotFound):
        missing = "does not exist (No such file or directory)"
        return f"{program}: readCreateProcess: posix_spawnp: {missing}"
    if isinstance(error, CommandFailed):
        quoted = " ".join(f'"{argument}"' for argument in error.argv[1:])
        return f"readCreateProcess: {program} {quoted} (exit {error.exit_code}): failed"
    return str(error)
