"""confd inside the agent: options, services on a real socket, the confd collector."""

from __future__ import annotations

import json
import socket
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import MultiService
from twisted.internet import reactor as global_reactor

from ganeti_agent.collectors import confd as confd_collectors
from ganeti_agent.confd.answers import ConfigStatus
from ganeti_agent.confd.client import ConfdClient, QueryResult
from ganeti_agent.confd.config import build_config
from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import DropReason, Reply
from ganeti_agent.confd.queries import LocalClusterQueries, PeerSource, RemoteClusterQueries
from ganeti_agent.confd.service import (
    AgentClusterQueries,
    ConfdOptions,
    ConfdUDPServer,
    agent_cluster,
    confd_options,
    default_bind,
)
from ganeti_agent.confd.source import ConfigSource
from ganeti_agent.confd.testing import FakeConfdPeer, answering
from ganeti_agent.core.framework import AgentContext
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.settings import SettingsError, parse_settings
from tests.confd.support import KEY, inline_callbacks, load_sample, section8_config
from tests.support import FakeRunner

reactor: Any = global_reactor


def test_options_precedence() -> None:
    settings = parse_settings("[confd]\nport = 18140\nbind = 127.0.0.1\n")
    on = confd_options(settings, False, None, None)
    assert (on.enabled, on.bind, on.port) == (True, "127.0.0.1", 18140)
    off_by_option = confd_options(settings, True, "::1", 5)
    assert (off_by_option.enabled, off_by_option.bind, off_by_option.port) == (False, "::1", 5)
    assert off_by_option.why == "--no-confd"
    off = parse_settings("[confd]\nenabled = no\n")
    assert not confd_options(off, False, None, None).enabled


def test_auto_stands_aside_where_ganeti_confd_is_present() -> None:
    auto = parse_settings("")
    present = "/usr/sbin/ganeti-confd is installed"
    aside = confd_options(auto, False, None, None, present)
    assert not aside.enabled
    assert aside.why.startswith(present + ", so it keeps the port")
    assert confd_options(auto, False, None, None, None).enabled


def test_yes_replaces_ganeti_confd_and_no_is_off_whatever_the_host() -> None:
    present = "ganeti-confd is running (pid 1)"
    for word in ("yes", "on", "true"):
        forced = confd_options(
            parse_settings(f"[confd]\nenabled = {word}\n"), False, None, None, present
        )
        assert forced.enabled and forced.why == f"[confd] enabled = {word}"
    assert not confd_options(parse_settings("[confd]\nenabled = no\n"), False, None, None).enabled
    with pytest.raises(SettingsError, match="port"):
        confd_options(parse_settings("[confd]\nport = x\n"), False, None, None)


@pytest.mark.parametrize(
    ("raw", "size"),
    [("1048576", 1 << 20), ("64M", 64 << 20), ("64MiB", 64 << 20), ("2 g", 2 << 30), ("8k", 8192)],
)
def test_max_config_size(raw: str, size: int) -> None:
    settings = parse_settings(f"[confd]\nmax-config-size = {raw}\n")
    assert confd_options(settings, False, None, None).max_config_size == size


@pytest.mark.parametrize("raw", ["0", "-5", "big", "1.5M", "M", "64T"])
def test_max_config_size_refuses_what_is_not_a_size(raw: str) -> None:
    settings = parse_settings(f"[confd]\nmax-config-size = {raw}\n")
    with pytest.raises(SettingsError, match=r"\[confd\] max-config-size: expected a size"):
        confd_options(settings, False, None, None)


def test_source_gets_the_size_and_wants_the_key_only_for_the_server(tmp_path: Path) -> None:
    paths = GanetiPaths(data_dir=str(tmp_path))
    for enabled in (True, False):
        parent = MultiService()
        agent_cluster(paths, ConfdOptions(enabled, "127.0.0.1", 0, 12345), reactor, parent)
        [source] = [service for service in parent if isinstance(service, ConfigSource)]
        assert source.max_size == 12345 and source.needs_key is enabled


def test_default_bind_follows_primary_family(tmp_path: Path) -> None:
    paths = GanetiPaths(data_dir=str(tmp_path))
    assert default_bind(paths) == "0.0.0.0"
    (tmp_path / "ssconf_primary_ip_family").write_text("10\n")
    assert default_bind(paths) == "::"


def udp_port(parent: MultiService) -> int:
    for service in parent:
        if isinstance(service, ConfdUDPServer) and service._port is not None:
            return int(service._port.getHost().port)
    raise AssertionError("no confd port")


def context_for(cluster: AgentClusterQueries, paths: GanetiPaths) -> AgentContext:
    return AgentContext(
        clock=reactor,
        runner=FakeRunner(),
        paths=paths,
        hostname="vm",
        cluster=cluster,
        confd_server=cluster.server,
    )


@inline_callbacks
def test_agent_serves_confd_and_counts(tmp_path: Path) -> Generator[Any, Any, None]:
    paths = GanetiPaths(data_dir=str(tmp_path))
    (tmp_path / "hmac.key").write_bytes(KEY)
    (tmp_path / "config.data").write_text(
        json.dumps(section8_config(load_sample("cluster_config_3.0.json")))
    )
    parent = MultiService()
    cluster = agent_cluster(paths, ConfdOptions(True, "127.0.0.1", 0), reactor, parent)
    parent.startService()
    try:
        client = ConfdClient(reactor, KEY, ["127.0.0.1"], udp_port(parent), timeout=5)
        result: QueryResult = yield client.query(RequestType.NODE_DRBD, "node2.example.com")
        assert result.best == Reply(0, [], 6)
        assert (yield cluster.node_drbd("node2")) == []
        assert cluster.data_collectors() is not None
        [collector] = list(confd_collectors.collectors(context_for(cluster, paths)))
        data: Any = collector.collect()
        assert isinstance(data, dict)
        assert data["requests"]["NODE_DRBD"] == 1
        assert data["configLoaded"] is True and data["configSerial"] == 3189
    finally:
        yield parent.stopService()


@inline_callbacks
def test_plain_machine_starts_and_drops(tmp_path: Path) -> Generator[Any, Any, None]:
    paths = GanetiPaths(data_dir=str(tmp_path / "nothing"))
    parent = MultiService()
    cluster = agent_cluster(paths, ConfdOptions(True, "127.0.0.1", 0), reactor, parent)
    parent.startService()
    try:
        port = udp_port(parent)
        client = ConfdClient(reactor, KEY, ["127.0.0.1"], port, timeout=0.3)
        result: QueryResult = yield client.query(RequestType.PING)
        assert result.replies == () and result.timed_out
        assert cluster.server is not None
        assert cluster.server.counters.drops[DropReason.NO_KEY] == 1
    finally:
        yield parent.stopService()


@inline_callbacks
def test_port_in_use_is_logged_not_fatal(tmp_path: Path) -> Generator[Any, Any, None]:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    parent = MultiService()
    try:
        options = ConfdOptions(True, "127.0.0.1", taken.getsockname()[1])
        agent_cluster(GanetiPaths(data_dir=str(tmp_path)), options, reactor, parent)
        parent.startService()
        assert any(isinstance(s, ConfdUDPServer) and s.failed for s in parent)
        yield parent.stopService()
    finally:
        taken.close()


def test_no_confd_means_no_collector(tmp_path: Path) -> None:
    paths = GanetiPaths(data_dir=str(tmp_path))
    cluster = agent_cluster(paths, ConfdOptions(False), reactor, MultiService())
    assert cluster.server is None
    assert list(confd_collectors.collectors(context_for(cluster, paths))) == []


def test_the_confd_collector_reads_the_server_in_its_context(tmp_path: Path) -> None:
    """No cluster view to dig the server out of: the context field alone decides."""
    paths = GanetiPaths(data_dir=str(tmp_path))
    served = agent_cluster(paths, ConfdOptions(True, "127.0.0.1", 0), reactor, MultiService())
    context = AgentContext(
        clock=reactor,
        runner=FakeRunner(),
        paths=paths,
        hostname="vm",
        confd_server=served.server,
    )
    [collector] = list(confd_collectors.collectors(context))
    assert isinstance(collector, confd_collectors.ConfdCollector)
    assert collector.server is served.server


@inline_callbacks
def test_falls_back_to_peers_without_local_config(tmp_path: Path) -> Generator[Any, Any, None]:
    peer = FakeConfdPeer(KEY, answering(0, [["vm", 3, "i", "disk/0", "primary", "p"]], 5))
    listening = reactor.listenUDP(0, peer, interface="127.0.0.1")
    paths = GanetiPaths(data_dir=str(tmp_path))
    (tmp_path / "hmac.key").write_bytes(KEY)
    (tmp_path / "ssconf_master_candidates_ips").write_text("127.0.0.1\n")
    status = ConfigStatus(None)
    remote = RemoteClusterQueries(reactor, PeerSource(paths, port=listening.getHost().port))
    cluster = AgentClusterQueries(LocalClusterQueries(lambda: status), remote)
    try:
        assert (yield cluster.node_drbd("vm")) == [["vm", 3, "i", "disk/0", "primary", "p"]]
    finally:
        listening.stopListening()


def test_local_collector_intervals_are_seconds_from_config_data() -> None:
    config = section8_config(load_sample("cluster_config_3.0.json"))
    config["cluster"]["data_collectors"] = {
        "cpu-avg-load": {"active": True, "interval": 60_000_000},
        "xen-cpu-avg-load": {"active": True, "interval": 2_500_000.0},
        "lv": {"active": True, "interval": 0},
        "drbd": {"active": True, "interval": -5_000_000},
    }
    status = ConfigStatus(build_config(config))
    intervals = LocalClusterQueries(lambda: status).collector_intervals()
    assert intervals is not None
    assert intervals["cpu-avg-load"] == 60.0 and intervals["xen-cpu-avg-load"] == 2.5
    assert intervals["diskstats"] == 5.0
    assert "lv" not in intervals and "drbd" not in intervals
    assert LocalClusterQueries(lambda: ConfigStatus(None)).collector_intervals() is None


@inline_callbacks
def test_remote_collector_intervals_come_with_the_activation(
    tmp_path: Path,
) -> Generator[Any, Any, None]:
    answer: JSON = {"cpu-avg-load": {"active": True, "interval": 30_000_000}, "lv": "garbage"}
    peer = FakeConfdPeer(KEY, answering(0, answer, 5))
    listening = reactor.listenUDP(0, peer, interface="127.0.0.1")
    paths = GanetiPaths(data_dir=str(tmp_path))
    (tmp_path / "hmac.key").write_bytes(KEY)
    (tmp_path / "ssconf_master_candidates_ips").write_text("127.0.0.1\n")
    remote = RemoteClusterQueries(reactor, PeerSource(paths, port=listening.getHost().port))
    try:
        assert remote.collector_intervals() is None
        yield remote.refresh()
        assert remote.collector_intervals() == {"cpu-avg-load": 30.0}
    finally:
        listening.stopListening()
