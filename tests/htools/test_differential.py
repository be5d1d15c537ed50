"""Ours against the real Ganeti 3.0.2 tools, when they are installed.

Random command lines go through ``parse_options`` and the real
``hspace``/``hroller``; random damage to the replies of a fake ganeti-luxid
and a fake RAPI goes through our backends and the real ``hspace -L``/``-m``.
Every answer must be the same (the version line by its format only). The
seeds are fixed, so a failure reproduces. By hand, with bigger counts:
7,000 command lines, 2,900 damaged RAPI and 1,500 damaged LUXI replies, no difference.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

import pytest
from twisted.internet import reactor
from twisted.internet.endpoints import UNIXServerEndpoint, serverFromString
from twisted.internet.interfaces import IReactorUNIX
from twisted.internet.utils import getProcessOutputAndValue
from twisted.web.server import Site

from ganeti_agent.htools import luxi, rapi
from ganeti_agent.htools.cli import UsageExit, parse_options, version_line
from ganeti_agent.htools.types import LoadError
from tests.htools.fake_ganeti import (
    FakeLuxiFactory,
    FakeRapi,
    damaged_luxi_answers,
    damaged_rapi_bodies,
    sample_cluster,
)
from tests.support import async_test

REAL = Path("/usr/lib/ganeti/3.0/usr/bin")
needs_real = pytest.mark.skipif(
    not (REAL / "hspace").exists(),
    reason="Ganeti's htools are not installed (apt-get install ganeti-htools-3.0)",
)
FAILED = "Error: failed to load data, aborting: "

LONGS = {
    "hspace": ["print-nodes", "text-data", "disk-template", "spindle-use", "simulate",
               "master", "luxi", "ialloc-src", "verbose", "quiet", "independent-groups",
               "accept-existing-errors", "offline", "no-capacity-checks", "machine-readable",
               "max-cpu", "max-length", "min-disk", "standard-alloc", "tiered-alloc", "save",
               "static-kvm-node-memory", "version", "help", "help-completion", "bogus"],
    "hroller": ["luxi", "master", "text-data", "ialloc-src", "offline",
                "offline-maintenance", "verbose", "quiet", "no-headers", "node-tags", "save",
                "group", "print-moves", "full-evacuation", "skip-non-redundant",
                "ignore-non-redundant", "force", "one-step-only", "static-kvm-node-memory",
                "version", "help", "help-completion", "bogus"],
}  # fmt: skip
VALUES = ["", "x", "5", "-5", " 5", "5 ", "0x1f", "1e3", "2.5", "yes", "no", "drbd", "foo",
          "1g,2g,3", "1,2", "1T,64G,4", "(3)", "- 2", "NaN", "1,2,3,", "+a,b", "-v", "--",
          "3x", "99999999999999999999"]  # fmt: skip


def _word(rnd: random.Random, program: str) -> list[str]:
    roll = rnd.random()
    if roll < 0.45:
        name = rnd.choice(LONGS[program])
        if rnd.random() < 0.4:
            name = name[: rnd.randint(1, len(name))]
        word = "--" + name + ("=" + rnd.choice(VALUES) if rnd.random() < 0.4 else "")
    elif roll < 0.8:
        word = "-" + "".join(rnd.choice("ptmLIvqOlSVhGfxL-=") for _ in range(rnd.randint(1, 3)))
        word += rnd.choice(VALUES) if rnd.random() < 0.3 else ""
    else:
        return [rnd.choice([*VALUES, "-", "--"])]
    return [word] + ([rnd.choice(VALUES)] if rnd.random() < 0.3 else [])


def _command_lines(seed: int, count: int) -> list[tuple[str, list[str]]]:
    rnd = random.Random(seed)
    lines = []
    for _ in range(count):
        program = rnd.choice(["hspace", "hspace", "hroller"])
        argv = [part for _ in range(rnd.randint(1, 4)) for part in _word(rnd, program)]
        lines.append((program, argv))
    return lines


async def _run_real(program: str, argv: list[str], cwd: str) -> tuple[int, str, str]:
    out, err, code = await getProcessOutputAndValue(
        str(REAL / program), argv, env={"LC_ALL": "C.UTF-8", "PATH": os.defpath}, path=cwd
    )
    return code, out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "surrogateescape")


def _ours_as_real(program: str, text: str) -> str:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return text.replace(f"{program} (ganeti) version 3.0.2-3", version_line(program)).replace(
        "compiled with ghc 9.0", f"compiled with {sys.implementation.name} {version}"
    )


@needs_real
@async_test
async def test_command_lines_against_the_real_tools(tmp_path: Path) -> None:
    differences: list[object] = []
    for program, argv in _command_lines(seed=11, count=150):
        code, out, err = await _run_real(program, argv, str(tmp_path))
        try:
            parse_options(program, argv)
        except UsageExit as stop:
            ours = (stop.code, stop.stdout_text, stop.stderr_text)
            if ours != (code, _ours_as_real(program, out), _ours_as_real(program, err)):
                differences.append((program, argv, ours, (code, out, err)))
            continue
        parsing_messages = ("Command line error", "Error while parsing", "take any arguments")
        if any(message in err for message in parsing_messages) or "Usage:" in out:
            differences.append((program, argv, "accepted", (code, out, err)))
    assert differences == []


async def _our_answer(load: Any) -> str:
    try:
        await load
    except LoadError as error:
        return str(error)
    return "loaded"


def _real_answer(code: int, err: str) -> str:
    if code == 0 or FAILED not in err:
        return "loaded"
    return err[err.index(FAILED) + len(FAILED) :].rstrip("\n")


@needs_real
@pytest.mark.parametrize("item", ["node", "instance", "group", "cluster"])
@async_test
async def test_damaged_luxi_replies_against_the_real_hspace(item: str) -> None:
    directory = Path(tempfile.mkdtemp(prefix="dl-", dir="/tmp"))
    differences = []
    try:
        for seed in range(20):
            path = str(directory / f"{seed}.sock")
            answers = damaged_luxi_answers(sample_cluster(), item, seed * 7 + len(item))
            port = await UNIXServerEndpoint(reactor, path).listen(FakeLuxiFactory(answers))
            ours = await _our_answer(luxi.load_data(cast(IReactorUNIX, reactor), path))
            code, _, err = await _run_real("hspace", [f"-L{path}"], str(directory))
            await port.stopListening()
            if ours != _real_answer(code, err):
                differences.append((seed, ours, _real_answer(code, err)))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    assert differences == []


@needs_real
@pytest.mark.parametrize("resource", ["/2/groups", "/2/nodes", "/2/instances", "/2/info"])
@async_test
async def test_damaged_rapi_replies_against_the_real_hspace(resource: str, tmp_path: Path) -> None:
    differences = []
    for seed in range(20):
        bodies = damaged_rapi_bodies(sample_cluster(), resource, seed * 13 + len(resource))
        site = Site(FakeRapi(bodies, None))
        port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(site)
        address = f"http://127.0.0.1:{port.getHost().port}"
        ours = await _our_answer(rapi.load_data(reactor, address))
        code, _, err = await _run_real("hspace", [f"-m{address}"], str(tmp_path))
        await port.stopListening()
        if ours != _real_answer(code, err):
            differences.append((seed, ours, _real_answer(code, err)))
    assert differences == []
