"""The LUXI backend against a fake ganeti-luxid on a real Unix socket.

The fake replays ``fake_ganeti.sample_cluster()``; served to the real
``hspace -L`` (3.0.2-3) it gives the same output and the same ``-S`` files as
the cluster's text file, so loading it must give what the text backend
gives. ``data/luxi-requests.txt`` holds the four requests the real hspace
sent; ``data/luxi-errors.json`` what it printed for each broken reply in
``fake_ganeti`` (after ``Error: failed to load data, aborting: ``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.endpoints import UNIXServerEndpoint
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import IListeningPort, IReactorUNIX
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from ganeti_agent.htools import luxi, text
from ganeti_agent.htools.types import LoadError
from tests.htools.fake_ganeti import (
    Answer,
    FakeLuxiFactory,
    Silence,
    broken_luxi_answers,
    luxi_answers,
    sample_cluster,
)
from tests.support import async_test

DATA = Path(__file__).parent / "data"
ERRORS: dict[str, dict[str, Any]] = json.loads((DATA / "luxi-errors.json").read_text())
UNIX = cast(IReactorUNIX, reactor)


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory: Unix socket paths are limited to about 100 bytes."""
    directory = Path(tempfile.mkdtemp(prefix="luxi-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


class Served:
    def __init__(self) -> None:
        self.ports: list[IListeningPort] = []

    async def serve(self, path: Path, answer: Answer) -> FakeLuxiFactory:
        factory = FakeLuxiFactory(answer)
        self.ports.append(await UNIXServerEndpoint(UNIX, str(path)).listen(factory))
        return factory


@pytest.fixture
def served(socket_dir: Path) -> Iterator[Served]:
    """Fake servers, stopped (and their sockets removed) before ``socket_dir`` goes."""
    servers = Served()
    yield servers
    for port in servers.ports:
        pytest_twisted.blockon(port.stopListening())


@async_test
async def test_the_cluster_is_the_one_the_text_file_describes(
    served: Served, socket_dir: Path
) -> None:
    cluster = sample_cluster()
    path = socket_dir / "query.sock"
    await served.serve(path, luxi_answers(cluster))
    loaded = await luxi.load_data(UNIX, str(path))
    assert loaded.data == text.parse_data(cluster.to_text())
    assert loaded.hypervisor == "xen-pvm"
    assert [n.name for n in loaded.data.nodes if n.is_master] == ["node1.example.com"]


@async_test
async def test_requests_are_the_bytes_ganeti_sends(served: Served, socket_dir: Path) -> None:
    path = socket_dir / "query.sock"
    factory = await served.serve(path, luxi_answers(sample_cluster()))
    await luxi.load_data(UNIX, str(path))
    recorded = (DATA / "luxi-requests.txt").read_bytes().splitlines()
    assert factory.requests == recorded


@pytest.mark.parametrize("case", sorted(set(ERRORS) - {"no-socket"}))
@async_test
async def test_broken_replies_give_ganetis_message(
    served: Served, socket_dir: Path, case: str
) -> None:
    expected = ERRORS[case]
    path = socket_dir / "query.sock"
    await served.serve(path, broken_luxi_answers(sample_cluster(), case))
    if expected["loads"]:
        assert (await luxi.load_data(UNIX, str(path))).data.nodes
        return
    with pytest.raises(LoadError) as caught:
        await luxi.load_data(UNIX, str(path))
    assert str(caught.value) == expected["message"]


@async_test
async def test_a_missing_socket_gives_ganetis_message(socket_dir: Path) -> None:
    with pytest.raises(LoadError) as caught:
        await luxi.load_data(UNIX, str(socket_dir / "nonexistent.sock"))
    assert str(caught.value) == ERRORS["no-socket"]["message"]


@async_test
async def test_a_socket_nobody_listens_on_is_refused(socket_dir: Path) -> None:
    path = socket_dir / "stale.sock"
    port = await UNIXServerEndpoint(UNIX, str(path)).listen(FakeLuxiFactory(lambda _: None))
    await port.stopListening()
    path.touch()
    with pytest.raises(LoadError) as caught:
        await luxi.load_data(UNIX, str(path))
    assert str(caught.value) == (
        "Network.Socket.connect: <socket: 3>: does not exist (Connection refused)"
    )


@async_test
async def test_half_even_rounding_of_integers(served: Served, socket_dir: Path) -> None:
    path = socket_dir / "query.sock"
    await served.serve(path, broken_luxi_answers(sample_cluster(), "instance-mem-rounds-half-even"))
    loaded = await luxi.load_data(UNIX, str(path))
    assert loaded.data.instances[1].mem == 2048


@async_test
async def test_a_silent_server_times_out(served: Served, socket_dir: Path) -> None:
    path = socket_dir / "query.sock"
    await served.serve(path, lambda _: Silence())
    with pytest.raises(LoadError) as caught:
        await luxi.load_data(UNIX, str(path), reply_timeout=0.2)
    assert str(caught.value) == "user error (Timeout in reading a response)"


def test_an_endless_reply_is_cut_at_the_bound() -> None:
    protocol = luxi.LuxiProtocol(MemoryReactorClock(), max_message=1000)
    transport = StringTransport()
    protocol.makeConnection(transport)
    reply = protocol.call(luxi.NODES_QUERY)
    failures: list[Failure] = []
    reply.addErrback(failures.append)
    protocol.dataReceived(b"x" * 600)
    assert not failures
    protocol.dataReceived(b"x" * 600)
    assert str(failures[0].value) == "LUXI reply larger than 1000 bytes"
    assert transport.disconnecting


@pytest.mark.parametrize(
    ("code", "text"),
    [(errno.EACCES, "permission denied (Permission denied)"),
     (errno.ENOTDIR, "inappropriate type (Not a directory)"),
     (errno.ENOENT, "does not exist (No such file or directory)"),
     (errno.ELOOP, "invalid argument (Too many levels of symbolic links)")],
)  # fmt: skip
def test_connect_errors_are_worded_as_ghc_does(code: int, text: str) -> None:
    error = luxi._connect_error(ConnectError(code, os.strerror(code)))
    assert str(error) == f"Network.Socket.connect: <socket: 3>: {text}"


@async_test
async def test_a_too_long_socket_path_is_refused_before_connecting() -> None:
    with pytest.raises(LoadError) as caught:
        await luxi.load_data(UNIX, "/tmp/" + "a" * 103)
    assert str(caught.value) == "pokeSockAddr: path is too long"


@async_test
async def test_a_path_that_is_not_a_directory(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.touch()
    with pytest.raises(LoadError) as caught:
        await luxi.load_data(UNIX, str(afile / "query.sock"))
    assert str(caught.value) == (
        "Network.Socket.connect: <socket: 3>: inappropriate type (Not a directory)"
    )
