"""``twistd ganeti-agent``: command-line options and the service tree.

The twistd plugin only names this module; everything the agent runs is assembled
here from the configuration file and the options, which win over the file.
"""

from __future__ import annotations

# isort: off
import ganeti_agent.tls_guard  # noqa: F401 (first: one line, not a traceback, on a half TLS)

# isort: on
import socket
import time
from typing import Any

from twisted.application import strports
from twisted.application.service import IService, MultiService, Service
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python import usage

from ganeti_agent import __version__
from ganeti_agent.access import access_settings, protect
from ganeti_agent.api import MonitoringAPI
from ganeti_agent.cluster import ClusterQueries
from ganeti_agent.collectors import build_collectors
from ganeti_agent.executor import DEFAULT_SEARCH_PATH, ProcessRunner
from ganeti_agent.framework import AgentContext, CollectorSet
from ganeti_agent.metrics import MetricsExporter
from ganeti_agent.paths import GanetiPaths
from ganeti_agent.settings import AgentSettings, SettingsError, load_settings
from ganeti_agent.web import AgentSite

log = Logger(namespace="ganeti_agent")

DEFAULT_PORT = 1815
DEFAULT_BIND = "0.0.0.0"


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {value}")
    return port


class Options(usage.Options):
    """Options of ``twistd ganeti-agent``; names follow ganeti-mond where it has them."""

    synopsis = "[options]"
    longdesc = "Ganeti node agent: monitoring API (mond protocol) and data collectors."
    optParameters: list[list[Any]] = [
        ["config", "c", None, "Configuration file (INI); see etc/ganeti-agent.conf."],
        ["bind", "b", None, f"Address of the monitoring API (default {DEFAULT_BIND})."],
        ["port", "p", None, f"TCP port of the monitoring API (default {DEFAULT_PORT}).", _port],
        ["data-dir", None, None, "Ganeti's data directory (default /var/lib/ganeti)."],
        ["auth-users", None, None, "Users file (name:bcrypt-hash) for HTTP basic auth."],
        ["confd-bind", None, None, "Address of the confd UDP server (default: wildcard)."],
        ["confd-port", None, None, "UDP port of the confd server (default 1814).", _port],
    ]
    optFlags: list[list[str | None]] = [
        ["log-requests", None, "Log one line per HTTP request."],
        ["no-confd", None, "Do not run the confd UDP server."],
    ]

    def opt_version(self) -> None:
        print(f"ganeti-agent {__version__}")
        raise SystemExit(0)

    def opt_listen(self, description: str) -> None:
        """Listen on a Twisted endpoint (tcp:1815:interface=127.0.0.1, ssl:..., systemd:...);
        repeatable, replaces --bind and --port."""
        self.setdefault("listen", []).append(description)

    def postOptions(self) -> None:
        try:
            self["settings"] = load_settings(self["config"])
            self["access"] = access_settings(
                self["settings"],
                self.get("listen", []),
                self["auth-users"],
                _listen_description(self["settings"], self),
                _reactor(),
            )
        except SettingsError as exc:
            raise usage.UsageError(str(exc)) from None


class CollectorService(Service):
    """Starts and stops the sampling loops of the stateful collectors."""

    def __init__(self, collectors: CollectorSet) -> None:
        self.collectors = collectors

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.collectors.start()

    def stopService(self) -> None:
        self.collectors.stop()
        super().stopService()  # type: ignore[no-untyped-call]


def _listen_description(settings: AgentSettings, options: Options) -> str:
    bind = options["bind"] or settings.get("agent", "bind", DEFAULT_BIND)
    port = (
        options["port"]
        if options["port"] is not None
        else int(settings.get("agent", "port", str(DEFAULT_PORT)))
    )
    interface = bind.replace(":", "\\:")
    return f"tcp:{port}:interface={interface}"


def _cluster(
    paths: GanetiPaths,
    settings: AgentSettings,
    parent: MultiService,
    options: Options,
    reactor: Any,
) -> ClusterQueries | None:
    """The collectors' cluster view: config.data watched locally, confd peers otherwise.

    Also starts the confd UDP server under ``parent`` unless it is turned off.
    """
    from ganeti_agent.confd.service import agent_cluster, confd_options

    try:
        confd = confd_options(
            settings, bool(options["no-confd"]), options["confd-bind"], options["confd-port"]
        )
    except SettingsError as exc:
        raise usage.UsageError(str(exc)) from None
    return agent_cluster(paths, confd, reactor, parent)


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def make_agent(
    settings: AgentSettings, options: Options, reactor: Any, parent: MultiService
) -> tuple[CollectorSet, MonitoringAPI]:
    """The collectors and the API they are served through."""
    data_dir = options["data-dir"] or settings.get("agent", "data-dir", "") or None
    paths = GanetiPaths.from_environment(data_dir=data_dir)
    cluster = _cluster(paths, settings, parent, options, reactor)
    clock: IReactorTime = reactor
    context = AgentContext(
        clock=clock,
        runner=ProcessRunner(
            reactor, clock, search_path=settings.get("agent", "command-path", DEFAULT_SEARCH_PATH)
        ),
        paths=paths,
        hostname=settings.get("agent", "node-name", "") or socket.gethostname(),
        settings=settings.collector,
        cluster=cluster,
        membership=paths.has_cluster_files,
    )
    activation = cluster.data_collectors if cluster is not None else None
    collectors = CollectorSet(build_collectors(context), clock, time.time, activation)
    api = MonitoringAPI(collectors)
    api.extra_routes["metrics"] = MetricsExporter(collectors).route
    return collectors, api


def makeService(options: Options) -> IService:
    settings: AgentSettings = options["settings"]
    reactor = _reactor()
    top = MultiService()
    collectors, api = make_agent(settings, options, reactor, top)
    CollectorService(collectors).setServiceParent(top)  # type: ignore[no-untyped-call]
    log_requests = options["log-requests"] or settings.get_bool("agent", "log-requests", False)
    access = options["access"]
    site = AgentSite(protect(api.resource(), access), log_requests, access.request_timeout)
    for note in access.notes:
        log.warn("{note}", note=note)
    for description in access.listen:
        strports.service(description, site).setServiceParent(top)
    return top
