"""``ganeti-hspace -L`` and ``-m``: the same answer as from the same cluster in a text file.

A real ``ganeti-hspace`` process reads the cluster from the fake LUXI and
RAPI servers of ``fake_ganeti``; its output must be byte for byte what it
prints for ``-t`` on the same cluster written as text.
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

HSPACE = [sys.executable, "-m", "ganeti_agent.htools.hspace"]
ARGS = ["--machine-readable", "-v", "-v", "-p", "--tiered-alloc=4096,1024,2"]


@pytest.fixture
def work() -> Iterator[Path]:
    # Unix socket paths are short: not pytest's tmp_path.
    directory = Path(tempfile.mkdtemp(prefix="hs-live-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


async def _hspace(args: list[str]) -> tuple[bytes, bytes, int]:
    out, err, code = await getProcessOutputAndValue(
        HSPACE[0], [*HSPACE[1:], *args], env={"LC_ALL": "C.UTF-8"}, path="."
    )
    return out, err, code


async def _from_text(
    cluster: FakeCluster, work: Path, node_memory: int | None = None
) -> tuple[bytes, bytes, int]:
    """hspace on the cluster as a text file; ``node_memory`` replaces every node's own memory."""
    lines = cluster.to_text().split("\n")
    if node_memory is not None:
        names = {node.name for node in cluster.nodes}
        for k, line in enumerate(lines):
            fields = line.split("|")
            if fields[0] in names and len(fields) > 2:
                fields[2] = str(node_memory)
                lines[k] = "|".join(fields)
    path = work / "cluster.data"
    path.write_text("\n".join(lines))
    return await _hspace(["-t", str(path), *ARGS])


async def _serve(description: str, factory: IProtocolFactory) -> IListeningPort:
    port: IListeningPort = await serverFromString(reactor, description).listen(factory)
    return port


async def _stop(port: IListeningPort) -> None:
    stopping = port.stopListening()
    if stopping is not None:
        await stopping


@async_test
async def test_luxi_cluster_gives_the_text_file_answer(work: Path) -> None:
    cluster = sample_cluster()
    sock = work / "query.sock"
    port = await _serve(f"unix:{sock}", FakeLuxiFactory(luxi_answers(cluster)))
    try:
        live = await _hspace([f"-L{sock}", *ARGS])
    finally:
        await _stop(port)
    expected = await _from_text(cluster, work)
    assert expected[2] == 0 and b"HTS_OK=1" in expected[0]
    assert live == expected


@async_test
async def test_luxi_on_kvm_uses_the_static_node_memory(work: Path) -> None:
    cluster = dataclasses.replace(sample_cluster(), hypervisor="kvm")
    sock = work / "query.sock"
    port = await _serve(f"unix:{sock}", FakeLuxiFactory(luxi_answers(cluster)))
    try:
        live = await _hspace([f"-L{sock}", "--static-kvm-node-memory=2048", *ARGS])
    finally:
        await _stop(port)
    # Offline nodes too: Ganeti sets the memory on every node of a KVM cluster.
    assert live == await _from_text(cluster, work, node_memory=2048)
    assert live != await _from_text(cluster, work)


@async_test
async def test_rapi_cluster_gives_the_text_file_answer(work: Path) -> None:
    cluster = sample_cluster()
    # The RAPI does not report CPU speeds; Ganeti then assumes 1.0.
    cluster.nodes = [dataclasses.replace(n, cpu_speed=1.0) for n in cluster.nodes]
    port = await _serve("tcp:0:interface=127.0.0.1", Site(FakeRapi(rapi_json(cluster), None)))
    try:
        address = port.getHost()
        assert isinstance(address, IPv4Address)
        live = await _hspace(["-m", f"http://127.0.0.1:{address.port}", *ARGS])
    finally:
        await _stop(port)
    assert live == await _from_text(cluster, work)


@async_test
async def test_unreachable_luxi_is_one_error_line(work: Path) -> None:
    out, err, code = await _hspace([f"-L{work / 'absent.sock'}", *ARGS])
    assert (out, code) == (b"", 1)
    assert err.startswith(b"Error: failed to load data, aborting: ")
    assert err.count(b"\n") == 1 and b"Traceback" not in err
