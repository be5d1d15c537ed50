"""The Deferred client and the CLI's cluster queries, over real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred

from ganeti_agent.confd.client import ConfdClient, QueryResult
from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import Reply, Request, decode_request, encode_reply
from ganeti_agent.confd.queries import cli_cluster_queries
from ganeti_agent.confd.testing import FakeConfdPeer, answering, silent
from ganeti_agent.core.cluster import ClusterUnavailable
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from tests.confd.support import KEY, inline_callbacks

reactor: Any = global_reactor


class Peers:
    """Fake peers on 127.0.0.x, all on one port, stopped after the test."""

    def __init__(self) -> None:
        self.ports: list[Any] = []
        self.port = 0

    def add(self, peer: FakeConfdPeer, host: str = "127.0.0.1") -> FakeConfdPeer:
        listening = reactor.listenUDP(self.port, peer, interface=host)
        self.port = listening.getHost().port
        self.ports.append(listening)
        return peer


@pytest.fixture
def peers() -> Iterator[Peers]:
    made = Peers()
    yield made
    for port in made.ports:
        port.stopListening()


def ask(client: ConfdClient, rtype: RequestType, query: Any = None, **kw: Any) -> Deferred[Any]:
    return client.query(rtype, query, **kw)


@inline_callbacks
def test_single_peer_answer(peers: Peers) -> Generator[Deferred[Any], Any, None]:
    peer = peers.add(FakeConfdPeer(KEY, answering(0, "node1.example.com", 3189)))
    client = ConfdClient(reactor, KEY, ["127.0.0.1"], peers.port, timeout=5)
    started = time.monotonic()
    result: QueryResult = yield ask(client, RequestType.CLUSTER_MASTER)
    assert time.monotonic() - started < 2
    assert result.best == Reply(0, "node1.example.com", 3189)
    assert (result.sent, result.timed_out) == (1, False)
    assert peer.requests[0].type is RequestType.CLUSTER_MASTER
    assert peer.requests[0].query is None


@inline_callbacks
def test_host_name_peer(peers: Peers) -> Generator[Deferred[Any], Any, None]:
    peers.add(FakeConfdPeer(KEY, answering(0, 3000000, 0)))
    client = ConfdClient(reactor, KEY, ["localhost"], peers.port, timeout=5)
    result: QueryResult = yield ask(client, RequestType.PING)
    assert result.best == Reply(0, 3000000, 0)


@inline_callbacks
def test_freshest_answer_and_all_replies(peers: Peers) -> Generator[Deferred[Any], Any, None]:
    peers.add(FakeConfdPeer(KEY, answering(0, "old", 5)), "127.0.0.1")
    peers.add(FakeConfdPeer(KEY, answering(0, "new", 9)), "127.0.0.2")
    peers.add(FakeConfdPeer(KEY, answering(1, "error", 0)), "127.0.0.3")
    client = ConfdClient(reactor, KEY, ["127.0.0.1", "127.0.0.2", "127.0.0.3"], peers.port)
    result: QueryResult = yield ask(client, RequestType.NODE_DRBD, "node1")
    assert result.best == Reply(0, "new", 9)
    assert sorted(r.host for r in result.replies) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


@inline_callbacks
def test_bad_hmac_and_silent_peers_time_out(peers: Peers) -> Generator[Deferred[Any], Any, None]:
    peers.add(FakeConfdPeer(KEY, answering(0, "ok", 1)), "127.0.0.1")
    peers.add(FakeConfdPeer(KEY, answering(0, "forged", 99), reply_key=b"other\n"), "127.0.0.2")
    peers.add(FakeConfdPeer(KEY, silent), "127.0.0.3")
    client = ConfdClient(
        reactor, KEY, ["127.0.0.1", "127.0.0.2", "127.0.0.3"], peers.port, timeout=0.3
    )
    result: QueryResult = yield ask(client, RequestType.PING)
    assert result.timed_out
    assert result.sent == 3
    assert [r.reply.answer for r in result.replies] == ["ok"]


class WrongSaltPeer(FakeConfdPeer):
    """Signs its replies correctly, but for another request's salt."""

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        request = decode_request(self.key, datagram, time.time())
        assert self.transport is not None
        self.transport.write(encode_reply(KEY, "not-" + request.rsalt, Reply(0, 1, 1)), addr)


@inline_callbacks
def test_reply_with_wrong_salt_ignored(peers: Peers) -> Generator[Deferred[Any], Any, None]:
    peers.add(WrongSaltPeer(KEY, silent))
    client = ConfdClient(reactor, KEY, ["127.0.0.1"], peers.port, timeout=0.3)
    result: QueryResult = yield ask(client, RequestType.PING)
    assert result.timed_out and result.replies == ()


@inline_callbacks
def test_wanted_ends_wait_early(peers: Peers) -> Generator[Deferred[Any], Any, None]:
    peers.add(FakeConfdPeer(KEY, answering(0, "a", 1)), "127.0.0.1")
    peers.add(FakeConfdPeer(KEY, silent), "127.0.0.2")
    client = ConfdClient(reactor, KEY, ["127.0.0.1", "127.0.0.2"], peers.port, timeout=5)
    started = time.monotonic()
    result: QueryResult = yield ask(client, RequestType.PING, wanted=1)
    assert time.monotonic() - started < 2
    assert not result.timed_out and result.sent == 2


@inline_callbacks
def test_no_peers_fires_at_once() -> Generator[Deferred[Any], Any, None]:
    result: QueryResult = yield ConfdClient(reactor, KEY, []).query(RequestType.PING)
    assert result == QueryResult((), 0, False)


def make_root(tmp_path: Path, peers: str | None, key: bool = True) -> GanetiPaths:
    paths = GanetiPaths.from_environment({"GANETI_ROOTDIR": str(tmp_path)})
    Path(paths.data_dir).mkdir(parents=True)
    if key:
        Path(paths.hmac_key).write_bytes(KEY)
    if peers is not None:
        Path(paths.ssconf("master_candidates_ips")).write_text(peers)
    return paths


@inline_callbacks
def test_cli_queries_missing_key(tmp_path: Path) -> Generator[Deferred[Any], Any, None]:
    paths = make_root(tmp_path, "127.0.0.1\n", key=False)
    queries = cli_cluster_queries(paths, None, None, reactor)
    with pytest.raises(ClusterUnavailable) as raised:
        yield queries.node_drbd("node1")
    assert str(raised.value) == (
        f"{tmp_path}/var/lib/ganeti/hmac.key: openBinaryFile: does not exist "
        "(No such file or directory)"
    )


@inline_callbacks
def test_cli_queries_empty_ssconf_fails_at_once(
    tmp_path: Path,
) -> Generator[Deferred[Any], Any, None]:
    queries = cli_cluster_queries(make_root(tmp_path, ""), None, None, reactor)
    started = time.monotonic()
    with pytest.raises(ClusterUnavailable, match="^No answer from the Confd server$"):
        yield queries.node_instances("node1")
    assert time.monotonic() - started < 1


@inline_callbacks
def test_cli_queries_ssconf_peers(
    tmp_path: Path, peers: Peers
) -> Generator[Deferred[Any], Any, None]:
    drbd: JSON = [["node1.example.com", 0, "instance1.example.com", "disk/0", "primary", "node3"]]
    peer = peers.add(FakeConfdPeer(KEY, answering(0, drbd, 197)))
    queries = cli_cluster_queries(make_root(tmp_path, "127.0.0.1\n"), None, peers.port, reactor)
    answer = yield queries.node_drbd("node1.example.com")
    assert answer == drbd
    assert peer.requests[0].query == "node1.example.com"


@inline_callbacks
def test_cli_queries_address_and_answers(
    tmp_path: Path, peers: Peers
) -> Generator[Deferred[Any], Any, None]:
    instance = {"name": "instance1", "uuid": "u1"}
    disk = {"dev_type": "plain", "logical_id": ["xenvg", "lv"]}

    def respond(request: Request) -> list[Reply]:
        answers: dict[RequestType, Any] = {
            RequestType.NODE_INSTANCES: [[instance], []],
            RequestType.INSTANCE_DISKS: [disk],
            RequestType.NODE_ROLE_BYNAME: 1,
        }
        return [Reply(0, answers[request.type], 2)]

    peers.add(FakeConfdPeer(KEY, respond), "127.0.0.2")
    queries = cli_cluster_queries(
        make_root(tmp_path, "10.255.255.1\n"), "127.0.0.2", peers.port, reactor
    )
    assert (yield queries.node_instances("vm")) == ([instance], [])
    assert (yield queries.instance_disks("u1")) == [disk]
    assert (yield queries.node_role("vm")) == 1


@inline_callbacks
def test_cli_queries_error_reply(
    tmp_path: Path, peers: Peers
) -> Generator[Deferred[Any], Any, None]:
    peers.add(FakeConfdPeer(KEY, answering(1, 'OpPrereqError "Node name x not found"', 0)))
    queries = cli_cluster_queries(make_root(tmp_path, "127.0.0.1\n"), None, peers.port, reactor)
    with pytest.raises(ClusterUnavailable, match="Node name x not found"):
        yield queries.node_drbd("x")


@inline_callbacks
def test_local_cluster_queries() -> Generator[Deferred[Any], Any, None]:
    from ganeti_agent.confd.answers import ConfigStatus
    from ganeti_agent.confd.config import build_config
    from ganeti_agent.confd.queries import LocalClusterQueries
    from tests.confd.support import load_sample, section8_config

    config = build_config(section8_config(load_sample("cluster_config_3.0.json")))
    status = ConfigStatus(config)
    queries = LocalClusterQueries(lambda: status)
    assert (yield queries.node_drbd("node2.example.com")) == []
    _primaries, secondaries = yield queries.node_instances("node3")
    assert [i["name"] for i in secondaries] == ["instance1.example.com"]
    assert (yield queries.node_role("node1.example.com")) == 0
    assert len((yield queries.instance_disks("instance1"))) == 1
    assert queries.data_collectors() == dict.fromkeys(config.collectors, True)
    assert queries.enabled_hypervisors() == ["xen-pvm"]
    with pytest.raises(ClusterUnavailable, match="Node name nosuch not found"):
        yield queries.node_drbd("nosuch")
    status = ConfigStatus(None, "Configuration not yet loaded")
    assert queries.data_collectors() is None
    with pytest.raises(ClusterUnavailable, match="^Configuration not yet loaded$"):
        yield queries.node_role("vm")


@inline_callbacks
def test_large_reply_arrives_whole(peers: Peers) -> Generator[Deferred[Any], Any, None]:
    rows: list[JSON] = [
        ["node1.example.com", minor, f"instance{minor}", "disk/0", "primary", "n2"]
        for minor in range(600)
    ]
    peers.add(FakeConfdPeer(KEY, answering(0, rows, 1)))
    client = ConfdClient(reactor, KEY, ["127.0.0.1"], peers.port, timeout=5)
    result: QueryResult = yield ask(client, RequestType.NODE_DRBD, "node1")
    assert result.best == Reply(0, rows, 1)
