"""``twistd ganeti-agent``: command-line options and the service tree.

The twistd plugin only names this module; everything the agent runs is assembled
here from the configuration file and the options, which win over the file.

An operator's mistake stops the agent with one line and exit status 1, never a
traceback: a bad value in the file (named by file, section and key) before anything
starts, a port that cannot be bound when the service tree starts. Unknown sections
and keys are logged as warnings, one line each, and the agent starts.
"""

from __future__ import annotations

# isort: off
import ganeti_agent.server.tls_guard  # noqa: F401 (first: one line, not a traceback, on a half TLS)

# isort: on
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from errno import EADDRINUSE
from types import TracebackType
from typing import TYPE_CHECKING, NoReturn, cast

from twisted.application import strports
from twisted.application.internet import TimerService
from twisted.application.service import IService, MultiService, Service
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python import usage

from ganeti_agent import __version__
from ganeti_agent.collectors import build_collectors
from ganeti_agent.collectors.plugins import PluginRescan, plugin_directory, rescan_interval
from ganeti_agent.core.executor import DEFAULT_SEARCH_PATH, ChildProcessService, ProcessRunner
from ganeti_agent.core.framework import AgentContext, CollectorSet
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.settings import (
    PORT,
    AgentSettings,
    SettingsError,
    load_settings,
    parse_port,
    unknown_entries,
)
from ganeti_agent.server.access import access_settings, protect
from ganeti_agent.server.api import MonitoringAPI
from ganeti_agent.server.deployment import ALONGSIDE_API_PORT, HostLayout, presence, running_pid
from ganeti_agent.server.metrics import MetricsExporter
from ganeti_agent.server.web import AgentSite

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorProcess, IReactorUNIX

    from ganeti_agent.confd.client import IConfdReactor
    from ganeti_agent.confd.service import AgentClusterQueries, ConfdUDPServer

    class IAgentReactor(IConfdReactor, IReactorProcess, IReactorUNIX):
        """What the agent needs of its reactor: confd, child processes, UNIX sockets."""


log = Logger(namespace="ganeti_agent")

DEFAULT_PORT = 1815
DEFAULT_BIND = "0.0.0.0"


#: Ganeti's daemons by their default port, to name the likely owner of a taken port.
GANETI_PORTS = {
    1811: "ganeti-noded",
    1814: "ganeti-confd",
    1815: "ganeti-mond",
    5080: "ganeti-rapi",
}


def _port(value: str) -> int:
    try:
        return parse_port(value)
    except ValueError:
        raise ValueError(f"expected {PORT.expected}, got {value!r}") from None


def _refuse(message: str) -> NoReturn:
    """End twistd with one line on stderr and status 1 (a UsageError would add the help)."""
    raise SystemExit(f"ganeti-agent: {message}")


class Options(usage.Options):
    """Options of ``twistd ganeti-agent``; names follow ganeti-mond where it has them."""

    synopsis = "[options]"
    longdesc = "Ganeti node agent: monitoring API (mond protocol) and data collectors."
    optParameters: list[list[object]] = [
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
        except SettingsError as exc:
            _refuse(str(exc))
        try:
            self["access"] = access_settings(
                self["settings"],
                self.get("listen", []),
                self["auth-users"],
                _listen_description(self["settings"], self),
                agent_reactor(),
            )
        except SettingsError as exc:
            raise usage.UsageError(str(exc)) from None


class ListenRefused(Exception):
    """A port the agent cannot listen on, already logged in one line.

    twistd must see an exception here, not SystemExit: a daemonizing twistd hands the
    exception's text to its waiting parent and removes the pid file, where SystemExit
    would leave the parent waiting for ever. The traceback Python would then print
    is suppressed by :func:`_without_traceback`.
    """


class AgentService(MultiService):
    """The agent's service tree; a port it cannot listen on ends the process cleanly.

    twistd binds ports in ``privilegedStartService`` and shows a traceback for any
    failure there; here the failure becomes one logged line and exit status 1. The
    confd UDP port is tried first, because the confd service on its own only logs a
    port it cannot bind and carries on.
    """

    def privilegedStartService(self) -> None:
        try:
            for udp in _confd_listeners(self):
                _try_udp_port(udp.args[0], udp.kwargs.get("interface", ""))
            super().privilegedStartService()  # type: ignore[no-untyped-call]
        except (CannotListenError, OSError, OverflowError) as exc:
            _give_up(_listen_failure(exc))
        for udp in _confd_listeners(self):
            if udp.failed:
                _give_up(f"cannot listen on {udp.description} (confd); see above")


def _give_up(message: str) -> NoReturn:
    log.critical("{message}", message=message)
    sys.excepthook = _without_traceback(sys.excepthook)
    raise ListenRefused(message)


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


def _without_traceback(previous: ExceptHook) -> ExceptHook:
    """An excepthook silent for :class:`ListenRefused` (logged already), else ``previous``."""

    def hook(
        kind: type[BaseException], value: BaseException, traceback: TracebackType | None
    ) -> None:
        if not issubclass(kind, ListenRefused):
            previous(kind, value, traceback)

    return hook


def _confd_listeners(parent: MultiService) -> Iterator[ConfdUDPServer]:
    from ganeti_agent.confd.service import ConfdUDPServer

    return (service for service in parent if isinstance(service, ConfdUDPServer))


def _try_udp_port(port: int, interface: str) -> None:
    """Bind and release the confd port, so a taken one is refused before confd logs it."""
    family = socket.AF_INET6 if ":" in interface else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((interface, port))
        except OSError as exc:
            raise CannotListenError(interface, port, exc) from None


def _listen_failure(exc: BaseException) -> str:
    """One line naming the address, the port and, for a taken Ganeti port, its owner."""
    if not isinstance(exc, CannotListenError):
        return f"cannot listen: {exc}"
    reason = exc.socketError
    where = f"{exc.interface or '*'}:{exc.port}"
    if isinstance(reason, OSError) and reason.errno == EADDRINUSE:
        return f"cannot listen on {where}: the port is already in use{_owner_hint(exc.port)}"
    text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
    return f"cannot listen on {where}: {text}"


def _owner_hint(port: int) -> str:
    """The Ganeti daemon that uses ``port`` by default, and whether it runs here."""
    owner = GANETI_PORTS.get(port)
    if owner is None:
        return ""
    pid = running_pid(HostLayout.from_environment(), owner)
    if pid is not None:
        return f" ({owner} uses it by default and is running here, pid {pid})"
    return f" ({owner} uses it by default: is {owner} running?)"


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


def api_port(settings: AgentSettings, options: Options, ganeti_mond: str | None) -> int:
    """The monitoring API's port: the option, the file, else 1815 unless ganeti-mond is here.

    Where ganeti-mond is present (``ganeti_mond`` says why) and no port is configured,
    the agent stands aside on :data:`ALONGSIDE_API_PORT`, so installing it never takes
    1815 from Ganeti's daemon (which ganeti-watcher and systemd would restart into a
    taken port again and again).
    """
    if options["port"] is not None:
        return int(options["port"])
    if "port" in settings.section("agent") or ganeti_mond is None:
        return settings.get_port("agent", "port", DEFAULT_PORT)
    options["api-note"] = (
        f"{ganeti_mond}, so the monitoring API listens on {ALONGSIDE_API_PORT}, "
        f"not {DEFAULT_PORT} (set [agent] port to choose; see docs/debian.md)"
    )
    return ALONGSIDE_API_PORT


def _listen_description(settings: AgentSettings, options: Options) -> str:
    bind = options["bind"] or settings.get("agent", "bind", DEFAULT_BIND)
    port = api_port(settings, options, presence(HostLayout.from_environment(), "ganeti-mond"))
    interface = bind.replace(":", "\\:")
    return f"tcp:{port}:interface={interface}"


@dataclass(frozen=True)
class CommandLine:
    """What :func:`make_agent` takes from the command line; None leaves it to the file.

    ``check --local`` builds one directly, so it never needs twistd's option parser.
    """

    data_dir: str | None = None
    no_confd: bool = False
    confd_bind: str | None = None
    confd_port: int | None = None

    @classmethod
    def from_options(cls, options: Options) -> CommandLine:
        return cls(
            options["data-dir"],
            bool(options["no-confd"]),
            options["confd-bind"],
            options["confd-port"],
        )


def _cluster(
    paths: GanetiPaths,
    settings: AgentSettings,
    parent: MultiService,
    command_line: CommandLine,
    reactor: IConfdReactor,
) -> AgentClusterQueries:
    """The collectors' cluster view: config.data watched locally, confd peers otherwise.

    Also starts the confd UDP server under ``parent`` unless it is turned off.
    """
    from ganeti_agent.confd.service import agent_cluster, confd_options

    ganeti_confd = presence(HostLayout.from_environment(), "ganeti-confd")
    try:
        confd = confd_options(
            settings,
            command_line.no_confd,
            command_line.confd_bind,
            command_line.confd_port,
            ganeti_confd,
        )
    except SettingsError as exc:  # only file values are left to fail here
        _refuse(f"{settings.source}: {exc}")
    return agent_cluster(paths, confd, reactor, parent)


def agent_reactor() -> IAgentReactor:
    from twisted.internet import reactor

    # Twisted types its global reactor with the common interfaces only (not UDP).
    return cast("IAgentReactor", reactor)


def make_agent(
    settings: AgentSettings,
    command_line: CommandLine,
    reactor: IAgentReactor,
    parent: MultiService,
) -> tuple[CollectorSet, MonitoringAPI]:
    """The collectors and the API they are served through."""
    data_dir = command_line.data_dir or settings.get("agent", "data-dir", "") or None
    paths = GanetiPaths.from_environment(data_dir=data_dir)
    cluster = _cluster(paths, settings, parent, command_line, reactor)
    clock: IReactorTime = reactor
    runner = ProcessRunner(
        reactor, clock, search_path=settings.get("agent", "command-path", DEFAULT_SEARCH_PATH)
    )
    ChildProcessService(runner).setServiceParent(parent)  # type: ignore[no-untyped-call]
    context = AgentContext(
        clock=clock,
        runner=runner,
        paths=paths,
        hostname=settings.get("agent", "node-name", "") or socket.gethostname(),
        settings=settings.collector,
        cluster=cluster,
        membership=paths.has_cluster_files,
        find_command=runner.resolve,
        unix=reactor,
        confd_server=cluster.server,
    )
    activation = cluster.data_collectors
    intervals = cluster.collector_intervals
    collectors = CollectorSet(build_collectors(context), clock, time.time, activation, intervals)
    follow_plugin_directory(context, collectors, parent)
    api = MonitoringAPI(collectors)
    api.extra_routes["metrics"] = MetricsExporter(collectors).route
    return collectors, api


def follow_plugin_directory(
    context: AgentContext, collectors: CollectorSet, parent: MultiService
) -> None:
    """Rescan the plugin directory on its timer, unless plugins or rescans are off."""
    directory, interval = plugin_directory(context), rescan_interval(context)
    if directory is not None and interval > 0:
        rescan = PluginRescan(context, collectors, directory)
        timer = TimerService(interval, rescan)
        timer.clock = context.clock
        timer.setServiceParent(parent)


def makeService(options: Options) -> IService:
    settings: AgentSettings = options["settings"]
    reactor = agent_reactor()
    top = AgentService()  # type: ignore[no-untyped-call]
    collectors, api = make_agent(settings, CommandLine.from_options(options), reactor, top)
    for warning in unknown_entries(settings, (m.name for m in collectors.managed)):
        log.warn("{warning}", warning=warning)
    CollectorService(collectors).setServiceParent(top)  # type: ignore[no-untyped-call]
    log_requests = options["log-requests"] or settings.get_bool("agent", "log-requests", False)
    access = options["access"]
    site = AgentSite(protect(api.resource(), access), log_requests, access.request_timeout)
    for note in access.notes:
        log.warn("{note}", note=note)
    if options.get("api-note"):
        log.info("{note}", note=options["api-note"])
    for description in access.listen:
        strports.service(description, site).setServiceParent(top)
    return top
