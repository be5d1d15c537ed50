"""``ClusterQueries`` answered by confd peers, and the helper the CLIs use.

``RemoteClusterQueries`` asks master candidates through :class:`ConfdClient`, reading
the key and the peer list when a question is asked (as mon-collector does), so that a
subcommand that never needs the cluster never fails for want of cluster files.
``cli_cluster_queries`` reproduces mon-collector's behaviour (spec/monitoring.md 8.3):
the same peers, the same waiting, the same failure messages.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail, succeed

from ganeti_agent.confd.answers import ANSWERERS, ConfigStatus
from ganeti_agent.confd.client import ConfdClient, IConfdReactor, QueryResult
from ganeti_agent.confd.constants import (
    CLIENT_EXPIRE_TIMEOUT,
    DEFAULT_PORT,
    RequestType,
)
from ganeti_agent.confd.protocol import Reply
from ganeti_agent.core.cluster import ClusterQueries, ClusterUnavailable
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths

NO_ANSWER = "No answer from the Confd server"

_HASKELL_IO_ERRORS = {
    errno.ENOENT: "does not exist (No such file or directory)",
    errno.EACCES: "permission denied (Permission denied)",
    errno.EISDIR: "inappropriate type (is a directory)",
}


def io_error_message(path: str, operation: str, exc: OSError) -> str:
    """An I/O error worded as Ganeti's Haskell tools word it (``path: op: what (why)``)."""
    what = _HASKELL_IO_ERRORS.get(exc.errno or 0, f"failed ({exc.strerror or exc})")
    return f"{path}: {operation}: {what}"


def read_key(path: str) -> bytes:
    """The HMAC key: the whole file, trailing newline included, as Ganeti reads it."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ClusterUnavailable(io_error_message(path, "openBinaryFile", exc)) from None


def read_peers(path: str) -> list[str]:
    """Master candidate addresses from ``ssconf_master_candidates_ips``, one per line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line.strip() for line in handle if line.strip()]
    except OSError as exc:
        raise ClusterUnavailable(io_error_message(path, "openFile", exc)) from None


@dataclass(frozen=True)
class PeerSource:
    """Where to find the key and the peers; ``address`` replaces the ssconf list."""

    paths: GanetiPaths
    address: str | None = None
    port: int = DEFAULT_PORT
    timeout: float = CLIENT_EXPIRE_TIMEOUT

    def client(self, reactor: IConfdReactor) -> ConfdClient:
        """A client for one question; raises ``ClusterUnavailable`` like mon-collector."""
        key = read_key(self.paths.hmac_key)
        if self.address is not None:
            peers = [self.address]
        else:
            peers = read_peers(self.paths.ssconf("master_candidates_ips"))
        if not peers:
            raise ClusterUnavailable(NO_ANSWER)
        return ConfdClient(reactor, key, peers, self.port, self.timeout)


def _best_answer(result: QueryResult, what: str) -> JSON:
    reply: Reply | None = result.best
    if reply is None:
        raise ClusterUnavailable(NO_ANSWER)
    if not reply.ok:
        raise ClusterUnavailable(f"confd could not answer {what}: {reply.answer}")
    return reply.answer


def _list_of_lists(answer: JSON, what: str) -> list[list[JSON]]:
    if not isinstance(answer, list) or not all(isinstance(row, list) for row in answer):
        raise ClusterUnavailable(f"confd sent an invalid {what} answer")
    return [list(row) for row in answer if isinstance(row, list)]


def _objects(answer: JSON, what: str) -> list[dict[str, JSON]]:
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        raise ClusterUnavailable(f"confd sent an invalid {what} answer")
    return [item for item in answer if isinstance(item, dict)]


def _role(answer: JSON) -> int:
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise ClusterUnavailable("confd sent an invalid NODE_ROLE_BYNAME answer")
    return answer


def node_instances_answer(
    answer: JSON,
) -> tuple[list[dict[str, JSON]], list[dict[str, JSON]]]:
    """The two instance lists of a NODE_INSTANCES answer, checked."""
    if not isinstance(answer, list) or len(answer) != 2:
        raise ClusterUnavailable("confd sent an invalid NODE_INSTANCES answer")
    return _objects(answer[0], "NODE_INSTANCES"), _objects(answer[1], "NODE_INSTANCES")


def data_collectors_answer(answer: JSON) -> dict[str, bool]:
    """Activation per collector from a DATA_COLLECTORS answer (missing means active)."""
    if not isinstance(answer, dict):
        raise ClusterUnavailable("confd sent an invalid DATA_COLLECTORS answer")
    activation: dict[str, bool] = {}
    for name, entry in answer.items():
        if isinstance(entry, dict) and isinstance(entry.get("active"), bool):
            activation[name] = bool(entry["active"])
    return activation


MICROSECONDS = 1_000_000


def collector_intervals_answer(answer: JSON) -> dict[str, float]:
    """Seconds per collector from a DATA_COLLECTORS answer, which counts microseconds.

    ``gnt-cluster modify --data-collector-interval`` stores seconds times 10^6 as given,
    so zero or negative values are possible; only positive numbers are kept.
    """
    intervals: dict[str, float] = {}
    for name, entry in answer.items() if isinstance(answer, dict) else ():
        interval = entry.get("interval") if isinstance(entry, dict) else None
        if isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0:
            intervals[name] = interval / MICROSECONDS
    return intervals


class _TypedQueries:
    """The typed questions of ``ClusterQueries``, on top of a subclass's ``ask``."""

    def ask(self, request_type: RequestType, query: str | None) -> Deferred[JSON]:
        raise NotImplementedError

    def node_drbd(self, node: str) -> Deferred[list[list[JSON]]]:
        asked = self.ask(RequestType.NODE_DRBD, node)
        return asked.addCallback(_list_of_lists, "NODE_DRBD")

    def node_instances(
        self, node: str
    ) -> Deferred[tuple[list[dict[str, JSON]], list[dict[str, JSON]]]]:
        return self.ask(RequestType.NODE_INSTANCES, node).addCallback(node_instances_answer)

    def instance_disks(self, instance_uuid: str) -> Deferred[list[dict[str, JSON]]]:
        asked = self.ask(RequestType.INSTANCE_DISKS, instance_uuid)
        return asked.addCallback(_objects, "INSTANCE_DISKS")

    def node_role(self, node: str) -> Deferred[int]:
        return self.ask(RequestType.NODE_ROLE_BYNAME, node).addCallback(_role)


class RemoteClusterQueries(_TypedQueries):
    """Cluster questions answered by confd peers (the CLI, nodes without config.data)."""

    def __init__(self, reactor: IConfdReactor, source: PeerSource) -> None:
        self.reactor = reactor
        self.source = source
        self._collectors: dict[str, bool] | None = None
        self._intervals: dict[str, float] | None = None
        self._hypervisors: list[str] | None = None

    def ask(self, request_type: RequestType, query: str | None = None) -> Deferred[JSON]:
        """The best OK answer to one question, or a ``ClusterUnavailable`` failure."""
        try:
            client = self.source.client(self.reactor)
        except ClusterUnavailable:
            return fail()
        asked = client.query(request_type, query)
        return asked.addCallback(_best_answer, request_type.name)

    def refresh(self) -> Deferred[None]:
        """Ask again for the collector activation and the enabled hypervisors."""

        def collectors(answer: JSON) -> Deferred[JSON]:
            self._collectors = data_collectors_answer(answer)
            self._intervals = collector_intervals_answer(answer)
            return self.ask(RequestType.CONFIG_QUERY, "/cluster/enabled_hypervisors")

        def hypervisors(answer: JSON) -> None:
            if isinstance(answer, list):
                self._hypervisors = [str(item) for item in answer]

        return (
            self.ask(RequestType.DATA_COLLECTORS).addCallback(collectors).addCallback(hypervisors)
        )

    def data_collectors(self) -> Mapping[str, bool] | None:
        return self._collectors

    def enabled_hypervisors(self) -> list[str] | None:
        return self._hypervisors

    def collector_intervals(self) -> Mapping[str, float] | None:
        return self._intervals


class LocalClusterQueries(_TypedQueries):
    """Cluster questions answered from the configuration this process has loaded.

    ``status`` returns the current ``ConfigStatus`` (the confd source's), so answers
    always come from the last good configuration, exactly as the server gives them.
    """

    def __init__(self, status: Callable[[], ConfigStatus]) -> None:
        self.status = status
        self._activation: tuple[object, Mapping[str, bool]] | None = None
        self._intervals: tuple[object, Mapping[str, float]] | None = None

    def ask(self, request_type: RequestType, query: str | None) -> Deferred[JSON]:
        current = self.status()
        if current.config is None:
            return fail(ClusterUnavailable(current.error))
        reply = ANSWERERS[request_type](current.config, query)
        if not reply.ok:
            return fail(ClusterUnavailable(f"{request_type.name}: {reply.answer}"))
        return succeed(reply.answer)

    def data_collectors(self) -> Mapping[str, bool] | None:
        """Activation from the loaded configuration, computed once per configuration."""
        config = self.status().config
        if config is None:
            return None
        if self._activation is None or self._activation[0] is not config:
            self._activation = (config, data_collectors_answer(config.collectors))
        return self._activation[1]

    def enabled_hypervisors(self) -> list[str] | None:
        config = self.status().config
        return None if config is None else list(config.hypervisors)

    def collector_intervals(self) -> Mapping[str, float] | None:
        """Intervals from the loaded configuration, computed once per configuration."""
        config = self.status().config
        if config is None:
            return None
        if self._intervals is None or self._intervals[0] is not config:
            self._intervals = (config, collector_intervals_answer(config.collectors))
        return self._intervals[1]


def cli_cluster_queries(
    paths: GanetiPaths,
    address: str | None,
    port: int | None,
    reactor: IConfdReactor,
) -> ClusterQueries:
    """Cluster queries as ``mon-collector -a ADDR -p PORT`` makes them.

    Peers are ``address`` or the lines of ``ssconf_master_candidates_ips``; the key is
    ``hmac.key``. Nothing is read until a question is asked, and every failure is a
    ``ClusterUnavailable`` carrying mon-collector's message: a missing key gives
    ``<path>: openBinaryFile: does not exist (No such file or directory)``, no peers
    gives "No answer from the Confd server" at once, and so does silence after 10 s.
    """
    source = PeerSource(paths, address, DEFAULT_PORT if port is None else port)
    return RemoteClusterQueries(reactor, source)
