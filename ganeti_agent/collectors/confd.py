"""The ``confd`` collector (category daemon, kind 0): counters of this agent's confd server.

ganeti-confd only logs what it drops; here every drop reason (bad magic, bad HMAC,
clock skew...) and every request type is counted since start, so an operator can see
forged traffic or a skewed clock on a client. Served only when this process runs the
confd server; the counters come from the server the tap puts in the collectors' context.
"""

from __future__ import annotations

from collections.abc import Iterable

from ganeti_agent.confd.server import ConfdServer
from ganeti_agent.confd.source import ConfigSource
from ganeti_agent.core.framework import AgentContext, Collector
from ganeti_agent.core.report import Category, JSONValue, Kind


class ConfdCollector(Collector):
    """Request, drop and reply counters, plus the state of the configuration and key."""

    name = "confd"
    category = Category.DAEMON
    kind = Kind.PERFORMANCE

    def __init__(self, context: AgentContext, server: ConfdServer) -> None:
        super().__init__(context)
        self.server = server

    def collect(self) -> JSONValue:
        data = self.server.counters.to_json()
        source = self.server.source
        config = source.status.config
        data["keyLoaded"] = source.key is not None
        data["configLoaded"] = config is not None
        data["configSerial"] = config.serial if config is not None else None
        data["configError"] = source.status.error if config is None else None
        if isinstance(source, ConfigSource):
            data["configLoads"] = source.loads
            data["configLoadFailures"] = source.load_failures
        return data


def collectors(context: AgentContext) -> Iterable[Collector]:
    if context.confd_server is not None:
        yield ConfdCollector(context, context.confd_server)
