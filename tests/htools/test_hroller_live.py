"""``ganeti-hroller -L`` and ``-m``: the same answer as from the same cluster in a text file.

A real ``ganeti-hroller`` process reads the fake LUXI and RAPI servers of
``fake_ganeti``; stdout, stderr and the exit code must be what it prints
for ``-t`` on the same cluster written as text. The first case is the
README's scripting example.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IProtocolFactory
from twisted.internet.utils import getProcessOutputAndValue
from twisted.web.server import Site

from tests.htools.fake_ganeti import (
    FakeCluster,
    FakeLuxiFactory,
    FakeRapi,
    luxi_answers,
    rapi_json,
    sample_cluster,
)
from tests.support import async_test

HROLLER = [sys.executable, "-m", "ganeti_agent.htools.hroller"]


def _tagged_cluster() -> FakeCluster:
    """The sample cluster, its DRBD instances only, two nodes tagged for a reboot."""
    cluster = sample_cluster()
    cluster.instances = [i for i in cluster.instances if i.template == "drbd"]
    cluster.nodes = [
        dataclasses.replace(n, tags=(*n.tags, "needsreboot"), cpu_speed=1.0)
        if n.name in ("node2.example.com", "node5.example.com")
        else dataclasses.replace(n, cpu_speed=1.0)
        for n in cluster.nodes
    ]
    return cluster


@pytest.fixture
def work() -> Iterator[Path]:
    # Unix socket paths are short: not pytest's tmp_path.
    directory = Path(tempfile.mkdtemp(prefix="hr-live-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


async def _hroller(args: list[str]) -> tuple[bytes, bytes, int]:
    out, err, code = await getProcessOutputAndValue(
        HROLLER[0], [*HROLLER[1:], *args], env={"LC_ALL": "C.UTF-8"}, path="."
    )
    return out, err, code


async def _from_text(cluster: FakeCluster, work: Path, args: list[str]) -> tuple[bytes, bytes, int]:
    path = work / "cluster.data"
    path.write_text(cluster.to_text())
    return await _hroller([*args, "-t", str(path)])


async def _serve(description: str, factory: IProtocolFactory) -> IListeningPort:
    port: IListeningPort = await serverFromString(reactor, description).listen(factory)
    return port


async def _stop(port: IListeningPort) -> None:
    stopping = port.stopListening()
    if stopping is not None:
        await stopping


@async_test
async def test_luxi_first_reboot_group_for_a_script(work: Path) -> None:
    cluster = _tagged_cluster()
    args = ["--node-tags", "needsreboot", "--one-step-only", "--no-headers"]
    sock = work / "query.sock"
    port = await _serve(f"unix:{sock}", FakeLuxiFactory(luxi_answers(cluster)))
    try:
        live = await _hroller([*args, f"-L{sock}"])
    finally:
        await _stop(port)
    expected = await _from_text(cluster, work, args)
    assert expected[2] == 0 and expected[0] == b"node2.example.com\nnode5.example.com\n"
    assert live == expected


@async_test
async def test_rapi_reboot_groups_with_statistics(work: Path) -> None:
    cluster = _tagged_cluster()
    args = ["--print-moves", "-v"]
    port = await _serve("tcp:0:interface=127.0.0.1", Site(FakeRapi(rapi_json(cluster), None)))
    try:
        address = port.getHost()
        assert isinstance(address, IPv4Address)
        live = await _hroller([*args, "-m", f"http://127.0.0.1:{address.port}"])
    finally:
        await _stop(port)
    expected = await _from_text(cluster, work, args)
    assert expected[2] == 0 and b"TIE LF: 2" in expected[0]
    assert live == expected
