"""Run a scenario against the fake master with Ganeti's harep or ganeti-harep; its record.

A record is, for each step: stdout, stderr, exit status, the LUXI requests
(``connect`` at each connection) and the instances' tags afterwards, all
normalised (``normalize.py``) so two programs' records compare with ``==``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.endpoints import UNIXClientEndpoint, UNIXServerEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.utils import getProcessOutputAndValue

from ganeti_agent.harep import cli, options
from tests.harep.fake_master import PROBE, MasterFactory
from tests.harep.normalize import normalize
from tests.harep.scenarios import Scenario

REAL_HAREP = "/usr/lib/ganeti/3.0/usr/bin/harep"
Record = list[dict[str, Any]]
Program = Callable[[str, tuple[str, ...]], Awaitable[tuple[str, str, int]]]


def real_harep() -> str | None:
    """Ganeti's harep, if installed (package ganeti-htools-3.0)."""
    found = os.environ.get("GANETI_HAREP") or (REAL_HAREP if os.path.exists(REAL_HAREP) else None)
    return found or shutil.which("harep")


def ganeti(binary: str) -> Program:
    async def run(socket: str, arguments: tuple[str, ...]) -> tuple[str, str, int]:
        out, err, code = await getProcessOutputAndValue(
            binary, [f"-L{socket}", *arguments], env={"TZ": "UTC"}
        )
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), code

    return run


def script(lock_file: Path) -> Program:
    """The ``ganeti-harep`` console script, as a process of its own."""

    async def run(socket: str, arguments: tuple[str, ...]) -> tuple[str, str, int]:
        argv = ["-m", "ganeti_agent.harep.cli", f"-L{socket}", f"--lock-file={lock_file}"]
        out, err, code = await getProcessOutputAndValue(
            sys.executable, [*argv, *arguments], env={"TZ": "UTC", "PATH": os.defpath}
        )
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), code

    return run


def ours(lock_file: Path) -> Program:
    """ganeti-harep in this process: the same code as the script, without the waits."""

    async def run(socket: str, arguments: tuple[str, ...]) -> tuple[str, str, int]:
        parsed = options.parse([f"-L{socket}", f"--lock-file={lock_file}", *arguments])
        out, err = io.StringIO(), io.StringIO()
        code = await cli.program(cast(cli.IHarepReactor, reactor), parsed, out, err, poll_delay=0)
        return out.getvalue(), err.getvalue(), code

    return run


async def _settle(factory: MasterFactory, socket: Path) -> None:
    """Let the server accept every connection the program made.

    The program may have closed a connection before the server accepted it.
    Connections are accepted in order, so once a probe connection made
    afterwards was seen, all were; the probe itself is not recorded.
    """
    seen = factory.probed()
    endpoint = UNIXClientEndpoint(reactor, str(socket))
    probe = await connectProtocol(endpoint, Protocol())
    assert probe.transport is not None
    probe.transport.write(PROBE)
    await seen
    probe.transport.loseConnection()


async def record(scenario: Scenario, program: Program, socket: Path) -> Record:
    master = scenario.master()
    factory = MasterFactory(master)
    port = await UNIXServerEndpoint(reactor, str(socket)).listen(factory)
    steps: Record = []
    since = int(time.time())
    try:
        for step in scenario.steps:
            step.before(master)
            factory.requests.clear()
            out, err, code = await program(str(socket), step.arguments)
            await _settle(factory, socket)
            tags = {inst.name: list(inst.tags) for inst in master.cluster.instances}
            steps.append(
                {
                    "stdout": normalize(out, since),
                    "stderr": normalize(err, since),
                    "code": code,
                    "requests": [normalize(r.decode("utf-8"), since) for r in factory.requests],
                    "tags": json.loads(normalize(json.dumps(tags, ensure_ascii=False), since)),
                }
            )
    finally:
        await port.stopListening()
    return steps
