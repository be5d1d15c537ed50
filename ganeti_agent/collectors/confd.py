"""The ``confd`` collector (category daemon, kind 0): counters of this agent's confd server.

ganeti-confd only logs what it drops; here every drop reason (bad magic, bad HMAC,
clock skew...) and every request type is counted since start, so an operator can see
forged traffic or a skewed clock on a client. Served only when this process runs the
confd server; the counters come from the server the tap puts in the collectors' context.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ganeti_agent.confd.server import ConfdServer
from ganeti_agent.confd.source import ConfigSource
from ganeti_agent.core.framework import AgentContext, Collector
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import FieldTable, Sample, family, fields, flag, number
from ganeti_agent.core.report import Category, Kind


class ConfdCollector(Collector):
    """Request, drop and reply counters, plus the state of the configuration and key."""

    name = "confd"
    category = Category.DAEMON
    kind = Kind.PERFORMANCE

    def __init__(self, context: AgentContext, server: ConfdServer) -> None:
        super().__init__(context)
        self.server = server

    def collect(self) -> JSON:
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

    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        return confd_samples(data)


def collectors(context: AgentContext) -> Iterable[Collector]:
    if context.confd_server is not None:
        yield ConfdCollector(context, context.confd_server)


CONFD_REQUESTS = family(
    "ganeti_confd_requests_total",
    "counter",
    "Authenticated confd requests accepted, by Ganeti's request type name.",
    "type",
)
CONFD_DROPS = family(
    "ganeti_confd_dropped_total",
    "counter",
    "Datagrams confd dropped without a reply, by reason (bad-hmac, clock-skew, ...).",
    "reason",
)
CONFD_COUNTERS: FieldTable = (
    ("received", family("ganeti_confd_received_total", "counter", "Datagrams received."), 1),
    ("replies", family("ganeti_confd_replies_total", "counter", "Replies sent."), 1),
    (
        "errorReplies",
        family("ganeti_confd_error_replies_total", "counter", "Replies with an error status."),
        1,
    ),
    (
        "oversizedReplies",
        family(
            "ganeti_confd_oversized_replies_total",
            "counter",
            "Answers too large for UDP, replaced by a short error reply.",
        ),
        1,
    ),
    (
        "sendErrors",
        family("ganeti_confd_send_errors_total", "counter", "Replies the socket refused."),
        1,
    ),
    (
        "internalErrors",
        family(
            "ganeti_confd_internal_errors_total",
            "counter",
            "Requests whose answer failed inside the agent (logged, not answered).",
        ),
        1,
    ),
    (
        "configLoads",
        family("ganeti_confd_config_loads_total", "counter", "Loads of config.data."),
        1,
    ),
    (
        "configLoadFailures",
        family(
            "ganeti_confd_config_load_failures_total",
            "counter",
            "Versions of config.data refused (the last good one kept answering).",
        ),
        1,
    ),
    (
        "configSerial",
        family("ganeti_confd_config_serial", "gauge", "Serial number of the loaded config.data."),
        1,
    ),
)
CONFD_CONFIG_LOADED = family(
    "ganeti_confd_config_loaded", "gauge", "1 if confd has a configuration to answer from."
)
CONFD_KEY_LOADED = family("ganeti_confd_key_loaded", "gauge", "1 if confd has the cluster's key.")


def confd_samples(data: JSON) -> Iterator[Sample]:
    """The confd counters as Prometheus counters (monotonic since the agent started)."""
    if not isinstance(data, Mapping):
        return
    for key, declared in (("requests", CONFD_REQUESTS), ("drops", CONFD_DROPS)):
        counts = data.get(key)
        for name, count in counts.items() if isinstance(counts, Mapping) else ():
            found = number(count)
            if found is not None:
                yield Sample(declared, (str(name),), found)
    yield from fields(data, CONFD_COUNTERS, ())
    for key, declared in (("configLoaded", CONFD_CONFIG_LOADED), ("keyLoaded", CONFD_KEY_LOADED)):
        loaded = data.get(key)
        if isinstance(loaded, bool):
            yield flag(declared, (), loaded)
