"""confd inside the agent: its settings, its services and the collectors' cluster view.

``[confd]`` in the configuration file (``enabled``, ``bind``, ``port``) and the twistd
options ``--no-confd``, ``--confd-bind`` and ``--confd-port`` (which win) decide
whether the UDP server runs; ``enabled = auto``, the default, runs it only where
Ganeti's own ganeti-confd is not on the host (:mod:`ganeti_agent.server.deployment`).
The configuration source runs either way, since the collectors answer from it; where
``config.data`` is not local (nodes that are not master candidates), they ask the
master candidates through the confd client instead.
Only the server needs ``hmac.key`` from the source (the confd client reads it itself
when it asks), so without the server the source neither reads nor misses it.
``[confd] max-config-size`` bounds the ``config.data`` the source loads.

On a machine without Ganeti's files the agent still starts: the server listens and
drops every datagram (counted as ``no-key``) until ``hmac.key`` appears, and answers
"status 1" as ganeti-confd would while ``config.data`` is missing. A port that cannot
be bound (ganeti-confd itself still running, say) is logged and the rest of the agent
carries on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from twisted.application.internet import TimerService, UDPServer
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger

from ganeti_agent.confd.client import IConfdReactor
from ganeti_agent.confd.constants import DEFAULT_PORT
from ganeti_agent.confd.queries import LocalClusterQueries, PeerSource, RemoteClusterQueries
from ganeti_agent.confd.server import ConfdServer
from ganeti_agent.confd.source import MAX_CONFIG_SIZE, ConfigSource
from ganeti_agent.core.cluster import ClusterQueries
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.settings import AgentSettings, SettingsError, parse_bool

log = Logger(namespace="ganeti_agent.confd")

#: How often mond asks confd for the collector activation (spec/monitoring.md 6.2).
ACTIVATION_REFRESH = 15.0
AF_INET6 = "10"


@dataclass(frozen=True)
class ConfdOptions:
    """Whether and where the confd server listens."""

    enabled: bool = True
    bind: str | None = None
    port: int = DEFAULT_PORT
    max_config_size: int = MAX_CONFIG_SIZE
    why: str = ""


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(raw: str, where: str) -> int:
    """A positive size in bytes, with an optional K, M or G suffix (powers of 1024)."""
    text = raw.strip().lower().removesuffix("ib").removesuffix("b")
    unit = text[-1:] if text[-1:] in _SIZE_UNITS else ""
    number = text[: len(text) - len(unit)].strip()
    if not number.isdigit() or int(number) <= 0:
        raise SettingsError(f"{where}: expected a size such as 64M, got {raw!r}")
    return int(number) * _SIZE_UNITS[unit]


def server_wanted(
    settings: AgentSettings, no_confd: bool, ganeti_confd: str | None
) -> tuple[bool, str]:
    """Whether the confd server runs, and why (for the log).

    ``[confd] enabled = auto`` (the default) runs it only where Ganeti's own
    ganeti-confd is absent; ``ganeti_confd`` says why it counts as present.
    """
    if no_confd:
        return False, "--no-confd"
    raw = settings.get("confd", "enabled", "auto")
    if raw.strip().lower() != "auto":
        wanted = parse_bool(raw, settings.where("confd", "enabled"))
        return wanted, f"[confd] enabled = {raw.strip()}"
    if ganeti_confd is None:
        return True, "no ganeti-confd on this host ([confd] enabled = auto)"
    return False, (
        f"{ganeti_confd}, so it keeps the port ([confd] enabled = auto; "
        "yes replaces it, see docs/debian.md)"
    )


def confd_options(
    settings: AgentSettings,
    no_confd: bool,
    bind: str | None,
    port: int | None,
    ganeti_confd: str | None = None,
) -> ConfdOptions:
    """Options from ``[confd]`` overridden by the command line."""
    enabled, why = server_wanted(settings, no_confd, ganeti_confd)
    if port is None:
        raw = settings.get("confd", "port", str(DEFAULT_PORT))
        try:
            port = int(raw)
        except ValueError:
            raise SettingsError(f"[confd] port: expected a port number, got {raw!r}") from None
        if not 0 <= port <= 65535:
            raise SettingsError(f"[confd] port: out of range: {raw!r}")
    configured_bind = settings.get("confd", "bind", "") or None
    raw_size = settings.get("confd", "max-config-size", "")
    max_size = parse_size(raw_size, "[confd] max-config-size") if raw_size else MAX_CONFIG_SIZE
    return ConfdOptions(enabled, bind or configured_bind, port, max_size, why)


def default_bind(paths: GanetiPaths) -> str:
    """The wildcard address of the cluster's primary IP family, as ganeti-confd binds."""
    try:
        with open(paths.ssconf("primary_ip_family"), encoding="ascii") as handle:
            family = handle.read().strip()
    except (OSError, ValueError):
        family = ""
    return "::" if family == AF_INET6 else "0.0.0.0"


class ConfdUDPServer(UDPServer):
    """``UDPServer`` that logs a port it cannot bind instead of stopping the agent."""

    def __init__(self, port: int, protocol: ConfdServer, interface: str) -> None:
        super().__init__(port, protocol, interface=interface)  # type: ignore[no-untyped-call]
        self.description = f"udp:{interface}:{port}"
        self.failed = False

    def _getPort(self) -> IListeningPort | None:
        if self.failed:
            return None
        try:
            port: IListeningPort = super()._getPort()  # type: ignore[no-untyped-call]
        except CannotListenError as exc:
            self.failed = True
            log.error("confd: cannot listen on {where}: {exc}", where=self.description, exc=exc)
            return None
        log.info("confd listening on {where}", where=self.description)
        return port


class AgentClusterQueries:
    """The collectors' cluster view: local config.data when loaded, else confd peers.

    ``server`` is the confd server of this process, if it runs one; the ``confd``
    collector reports its counters.
    """

    def __init__(
        self,
        local: LocalClusterQueries,
        remote: RemoteClusterQueries | None = None,
        paths: GanetiPaths | None = None,
    ) -> None:
        self.local = local
        self.remote = remote
        self.paths = paths
        self.server: ConfdServer | None = None

    def _current(self) -> ClusterQueries:
        if self.remote is None or self.local.status().config is not None:
            return self.local
        return self.remote

    def node_drbd(self, node: str) -> Deferred[list[list[JSON]]]:
        return self._current().node_drbd(node)

    def node_instances(
        self, node: str
    ) -> Deferred[tuple[list[dict[str, JSON]], list[dict[str, JSON]]]]:
        return self._current().node_instances(node)

    def instance_disks(self, instance_uuid: str) -> Deferred[list[dict[str, JSON]]]:
        return self._current().instance_disks(instance_uuid)

    def node_role(self, node: str) -> Deferred[int]:
        return self._current().node_role(node)

    def data_collectors(self) -> Mapping[str, bool] | None:
        return self._current().data_collectors()

    def enabled_hypervisors(self) -> list[str] | None:
        return self._current().enabled_hypervisors()

    def collector_intervals(self) -> Mapping[str, float] | None:
        return self._current().collector_intervals()

    def refresh_remote(self) -> None:
        """Ask the peers for activation data, as mond does, when nothing is local.

        A host without Ganeti's files is in no cluster: there is nobody to ask.
        """
        if self.remote is None or self.local.status().config is not None:
            return
        if self.paths is not None and not self.paths.has_cluster_files():
            return
        refreshed = self.remote.refresh()
        refreshed.addErrback(
            lambda failure: log.info("confd peers: {msg}", msg=failure.getErrorMessage())
        )


def agent_cluster(
    paths: GanetiPaths, options: ConfdOptions, reactor: IConfdReactor, parent: MultiService
) -> AgentClusterQueries:
    """Start the configuration source (and the server when enabled) under ``parent``."""
    source = ConfigSource(
        paths.config_data,
        paths.hmac_key,
        reactor,
        max_size=options.max_config_size,
        needs_key=options.enabled,
    )
    source.setServiceParent(parent)  # type: ignore[no-untyped-call]
    remote = RemoteClusterQueries(reactor, PeerSource(paths))
    cluster = AgentClusterQueries(LocalClusterQueries(lambda: source.status), remote, paths)
    refresher = TimerService(ACTIVATION_REFRESH, cluster.refresh_remote)
    refresher.setServiceParent(parent)
    if not options.enabled:
        log.info("confd server off: {why}", why=options.why)
        return cluster
    server = ConfdServer(source)
    bind = options.bind or default_bind(paths)
    log.info("confd server on: {why}", why=options.why)
    listener = ConfdUDPServer(options.port, server, bind)
    listener.setServiceParent(parent)  # type: ignore[no-untyped-call]
    cluster.server = server
    return cluster
