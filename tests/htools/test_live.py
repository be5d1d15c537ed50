"""What the live backends share: static KVM memory, and loading from a synchronous program."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet import reactor
from twisted.internet.endpoints import UNIXServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.utils import getProcessOutputAndValue

from ganeti_agent.htools import text
from ganeti_agent.htools.live import LiveCluster
from tests.htools.fake_ganeti import FakeLuxiFactory, luxi_answers, sample_cluster
from tests.support import async_test

LOADER = """
import sys
from ganeti_agent.htools import live, luxi
from ganeti_agent.htools.types import LoadError
try:
    cluster = live.run_once(lambda reactor: luxi.load_data(reactor, sys.argv[1]))
except LoadError as error:
    print("failed:", error)
    sys.exit(1)
print(cluster.hypervisor, *[n.name for n in cluster.data.nodes if n.is_master])
"""


def _live(hypervisor: str) -> LiveCluster:
    return LiveCluster(text.parse_data(sample_cluster().to_text()), hypervisor)


def test_static_kvm_memory_replaces_node_memory_on_kvm_only() -> None:
    kvm = _live("kvm").with_static_kvm_memory(4096)
    assert {node.n_mem for node in kvm.nodes} == {4096}
    xen = _live("xen-pvm")
    assert xen.with_static_kvm_memory(4096) == xen.data
    assert _live("kvm").with_static_kvm_memory(0) == _live("kvm").data
    untouched = dataclasses.replace(kvm, nodes=_live("kvm").data.nodes)
    assert untouched == _live("kvm").data


@pytest.fixture
def socket_path() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="live-", dir="/tmp"))
    yield directory / "query.sock"
    shutil.rmtree(directory, ignore_errors=True)


@async_test
async def test_a_synchronous_program_loads_over_luxi_and_exits(socket_path: Path) -> None:
    factory = FakeLuxiFactory(luxi_answers(sample_cluster()))
    port: IListeningPort = await UNIXServerEndpoint(reactor, str(socket_path)).listen(factory)
    try:
        out, err, code = await getProcessOutputAndValue(
            sys.executable, ["-c", LOADER, str(socket_path)], env=None, path="."
        )
    finally:
        stopping = port.stopListening()
        if stopping is not None:
            await stopping
    assert (code, err) == (0, b"")
    assert out == b"xen-pvm node1.example.com\n"


@async_test
async def test_a_synchronous_program_gets_one_line_on_failure(socket_path: Path) -> None:
    out, err, code = await getProcessOutputAndValue(
        sys.executable, ["-c", LOADER, str(socket_path)], env=None, path="."
    )
    assert (code, err) == (1, b"")
    assert out == (
        b"failed: Network.Socket.connect: <socket: 3>: does not exist (No such file or directory)\n"
    )
