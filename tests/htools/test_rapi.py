"""The RAPI backend against a fake Ganeti RAPI on real sockets (HTTP and HTTPS).

The fake serves ``fake_ganeti.sample_cluster()``; the real ``hspace -m``
(3.0.2-3) reads it into the same cluster as the text file, except that the
RAPI has no CPU speed (so the comparison uses a cluster whose speeds are
all 1.0). ``data/rapi-errors.json`` holds what the real hspace printed for
each broken body in ``fake_ganeti`` (after ``Error: failed to load data,
aborting: ``; ``{port}`` is the fake's port) and the paths it fetched.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IProtocolFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.web.server import Site

from ganeti_agent.htools import rapi, text
from ganeti_agent.htools.types import LoadError
from tests.htools.fake_ganeti import (
    FakeCluster,
    FakeRapi,
    broken_rapi_bodies,
    rapi_json,
    sample_cluster,
    self_signed,
)
from tests.support import async_test, free_port

DATA = Path(__file__).parent / "data"
RECORDED: dict[str, Any] = json.loads((DATA / "rapi-errors.json").read_text())
PATHS: list[str] = RECORDED.pop("_paths")


def without_cpu_speed(cluster: FakeCluster) -> FakeCluster:
    """The RAPI does not report CPU speeds; Ganeti then assumes 1.0."""
    cluster.nodes = [dataclasses.replace(node, cpu_speed=1.0) for node in cluster.nodes]
    return cluster


class Servers:
    def __init__(self) -> None:
        self.ports: list[IListeningPort] = []

    async def listen(self, description: str, factory: IProtocolFactory) -> int:
        port = await serverFromString(reactor, description).listen(factory)
        self.ports.append(port)
        return int(port.getHost().port)

    async def rapi(self, resource: FakeRapi, tls: tuple[Path, Path] | None = None) -> int:
        if tls is None:
            return await self.listen("tcp:0:interface=127.0.0.1", Site(resource))
        key, cert = tls
        description = f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        return await self.listen(description, Site(resource))


@pytest.fixture
def servers() -> Iterator[Servers]:
    running = Servers()
    yield running
    for port in running.ports:
        pytest_twisted.blockon(port.stopListening())


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("rapi-tls"))


@async_test
async def test_the_cluster_is_the_one_the_text_file_describes(servers: Servers) -> None:
    cluster = without_cpu_speed(sample_cluster())
    resource = FakeRapi(rapi_json(cluster), None)
    port = await servers.rapi(resource)
    loaded = await rapi.load_data(reactor, f"http://127.0.0.1:{port}")
    assert loaded.data == text.parse_data(cluster.to_text())
    assert loaded.hypervisor == "xen-pvm"
    assert [path.decode() for path in resource.paths] == PATHS


@async_test
async def test_https_without_certificate_check_and_basic_auth(
    servers: Servers, tls: tuple[Path, Path]
) -> None:
    cluster = without_cpu_speed(sample_cluster())
    resource = FakeRapi(rapi_json(cluster), ("gnt-rapi", "s3cr:t@x"))
    port = await servers.rapi(resource, tls)
    loaded = await rapi.load_data(reactor, f"https://gnt-rapi:s3cr%3At%40x@127.0.0.1:{port}")
    assert loaded.data == text.parse_data(cluster.to_text())


@async_test
async def test_wrong_password_is_an_http_error_and_the_password_is_not_shown(
    servers: Servers, tls: tuple[Path, Path]
) -> None:
    resource = FakeRapi(rapi_json(sample_cluster()), ("gnt-rapi", "right"))
    port = await servers.rapi(resource, tls)
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, f"https://gnt-rapi:wrong@127.0.0.1:{port}")
    assert str(caught.value) == (
        f"Curl error for 'https://gnt-rapi:***@127.0.0.1:{port}/2/groups?bulk=1',"
        " error CurlHttpReturnedError"
    )


@async_test
async def test_an_address_without_scheme_is_plain_http(servers: Servers) -> None:
    cluster = without_cpu_speed(sample_cluster())
    port = await servers.rapi(FakeRapi(rapi_json(cluster), None))
    loaded = await rapi.load_data(reactor, f"127.0.0.1:{port}")
    assert loaded.data == text.parse_data(cluster.to_text())


def test_a_bare_host_means_https_on_5080() -> None:
    assert rapi.format_host("cluster.example.com") == "https://cluster.example.com:5080"
    assert rapi.format_host("10.0.0.1:1234") == "10.0.0.1:1234"


@pytest.mark.parametrize("case", sorted(RECORDED))
@async_test
async def test_broken_bodies_give_ganetis_message(servers: Servers, case: str) -> None:
    expected = RECORDED[case]
    port = await servers.rapi(FakeRapi(broken_rapi_bodies(sample_cluster(), case), None))
    if expected["loads"]:
        assert (await rapi.load_data(reactor, f"http://127.0.0.1:{port}")).data.nodes
        return
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, f"http://127.0.0.1:{port}")
    assert str(caught.value) == expected["message"].format(port=port)


@pytest.mark.parametrize(
    ("case", "instance", "memory"),
    [("instance-oper-ram", 0, 3000), ("instance-oper-ram-string", 0, 4096),
     ("instance-only-maxmem", 1, 2048)],
)  # fmt: skip
@async_test
async def test_memory_comes_from_oper_ram_then_memory_then_maxmem(
    servers: Servers, case: str, instance: int, memory: int
) -> None:
    port = await servers.rapi(FakeRapi(broken_rapi_bodies(sample_cluster(), case), None))
    loaded = await rapi.load_data(reactor, f"http://127.0.0.1:{port}")
    assert loaded.data.instances[instance].mem == memory


class _Hangs(Protocol):
    """Reads the request, then closes without answering (or answers half a body)."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(self.reply)
        self.transport.loseConnection()


def _closing(reply: bytes) -> Factory:
    return Factory.forProtocol(lambda: _Hangs(reply))


@pytest.mark.parametrize(
    ("reply", "code"),
    [(b"", "CurlGotNothing"),
     (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1,2", "CurlPartialFile")],
)  # fmt: skip
@async_test
async def test_broken_connections_give_curls_code(
    servers: Servers, reply: bytes, code: str
) -> None:
    port = await servers.listen("tcp:0:interface=127.0.0.1", _closing(reply))
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, f"http://127.0.0.1:{port}")
    assert str(caught.value) == (
        f"Curl error for 'http://127.0.0.1:{port}/2/groups?bulk=1', error {code}"
    )


@async_test
async def test_nothing_listening_cannot_connect() -> None:
    port = free_port(socket.SOCK_STREAM)
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, f"127.0.0.1:{port}")
    assert str(caught.value) == (
        f"Curl error for '127.0.0.1:{port}/2/groups?bulk=1', error CurlCouldntConnect"
    )


@async_test
async def test_https_to_a_plain_server_is_a_tls_error(servers: Servers) -> None:
    plain_answer = _closing(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    port = await servers.listen("tcp:0:interface=127.0.0.1", plain_answer)
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, f"https://127.0.0.1:{port}")
    assert str(caught.value) == (
        f"Curl error for 'https://127.0.0.1:{port}/2/groups?bulk=1', error CurlSSLConnectError"
    )


@pytest.mark.parametrize("master", ["http://[::1", "foo bar"])
@async_test
async def test_malformed_addresses(master: str) -> None:
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, master)
    shown = rapi.format_host(master)
    assert str(caught.value) == f"Curl error for '{shown}/2/groups?bulk=1', error CurlUrlMalformat"


@async_test
async def test_a_file_url_reads_a_directory(tmp_path: Path) -> None:
    cluster = without_cpu_speed(sample_cluster())
    for path, body in rapi_json(cluster).items():
        (tmp_path / (path.rsplit("/", 1)[1] + ".json")).write_bytes(body)
    loaded = await rapi.load_data(reactor, f"file://{tmp_path}")
    assert loaded.data == text.parse_data(cluster.to_text())


@async_test
async def test_a_missing_directory_gives_ghcs_message() -> None:
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, "file:///nonexist")
    assert str(caught.value) == (
        "/nonexist/groups.json: openFile: does not exist (No such file or directory)"
    )


@async_test
async def test_an_oversized_body_is_refused(servers: Servers) -> None:
    port = await servers.rapi(FakeRapi(rapi_json(sample_cluster()), None))
    fetcher = rapi.Fetcher(reactor, max_body=100)
    body = await fetcher.fetch(f"http://127.0.0.1:{port}/2/nodes?bulk=1")
    assert body.error == (
        f"Curl error for 'http://127.0.0.1:{port}/2/nodes?bulk=1', error CurlFilesizeExceeded"
    )


class _Silent(Protocol):
    """Accepts the connection and never answers."""


@async_test
async def test_a_silent_server_times_out(servers: Servers) -> None:
    port = await servers.listen("tcp:0:interface=127.0.0.1", Factory.forProtocol(_Silent))
    fetcher = rapi.Fetcher(reactor, query_timeout=0.2)
    body = await fetcher.fetch(f"http://127.0.0.1:{port}/2/groups?bulk=1")
    assert body.error == (
        f"Curl error for 'http://127.0.0.1:{port}/2/groups?bulk=1', error CurlOperationTimeout"
    )


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
@async_test
async def test_an_ipv6_literal_address(servers: Servers) -> None:
    cluster = without_cpu_speed(sample_cluster())
    site = Site(FakeRapi(rapi_json(cluster), None))
    port = await servers.listen("tcp6:0:interface=\\:\\:1", site)
    loaded = await rapi.load_data(reactor, f"http://[::1]:{port}")
    assert loaded.data == text.parse_data(cluster.to_text())


@pytest.mark.parametrize(
    ("make", "reason"),
    [("file", "inappropriate type (Not a directory)"),
     ("directory", "inappropriate type (is a directory)")],
)  # fmt: skip
@async_test
async def test_file_urls_word_errors_as_ghc(tmp_path: Path, make: str, reason: str) -> None:
    if make == "file":
        (tmp_path / "plain").touch()
        base = tmp_path / "plain"
    else:
        (tmp_path / "groups.json").mkdir()
        base = tmp_path
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, f"file://{base}")
    assert str(caught.value) == f"{base}/groups.json: openFile: {reason}"


@async_test
async def test_an_empty_group_uuid_is_not_a_missing_one(servers: Servers) -> None:
    bodies = sample_cluster().rapi_bodies()
    bodies["/2/nodes"][1]["group.uuid"] = ""
    resource = FakeRapi({path: json.dumps(body).encode() for path, body in bodies.items()}, None)
    port = await servers.rapi(resource)
    with pytest.raises(LoadError) as caught:
        await rapi.load_data(reactor, f"http://127.0.0.1:{port}")
    assert str(caught.value) == "Unknown group '' for node node2.example.com"
