"""The ``confd`` collector (category daemon, kind 0): counters of this agent's confd server.

ganeti-confd only logs what it drops; here every drop reason (bad magic, bad HMAC,
clock skew...) and every request type is counted since start, so an operator can see
forged traffic or a skewed clock on a client. Served only when this process runs the
confd server; the counters come from the server the tap puts in the collectors' context.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from ganeti_agent.confd.server import ConfdCounters, ConfdServer
from ganeti_agent.confd.source import ConfigSource
from ganeti_agent.core.framework import AgentContext, Collector, TypedCollector
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Family, Sample, family, flag
from ganeti_agent.core.report import Category, Kind


@dataclass(frozen=True)
class ConfdState:
    """The confd server at one moment: its counters and what it answers from.

    ``loads`` and ``load_failures`` are None when the configuration is not read from a
    local config.data; ``config_serial`` is None while there is no configuration.
    """

    counters: ConfdCounters
    key_loaded: bool
    config_serial: int | None
    config_error: str | None
    loads: int | None = None
    load_failures: int | None = None


def confd_state(server: ConfdServer) -> ConfdState:
    """A snapshot: the counters are copied, since the server's own keep counting."""
    counters = server.counters
    source = server.source
    config = source.status.config
    local = source if isinstance(source, ConfigSource) else None
    return ConfdState(
        counters=replace(counters, requests=dict(counters.requests), drops=dict(counters.drops)),
        key_loaded=source.key is not None,
        config_serial=config.serial if config is not None else None,
        config_error=source.status.error if config is None else None,
        loads=local.loads if local is not None else None,
        load_failures=local.load_failures if local is not None else None,
    )


def confd_data(state: ConfdState) -> JSON:
    data = state.counters.to_json()
    data["keyLoaded"] = state.key_loaded
    data["configLoaded"] = state.config_serial is not None
    data["configSerial"] = state.config_serial
    data["configError"] = state.config_error
    if state.loads is not None and state.load_failures is not None:
        data["configLoads"] = state.loads
        data["configLoadFailures"] = state.load_failures
    return data


class ConfdCollector(TypedCollector[ConfdState]):
    """Request, drop and reply counters, plus the state of the configuration and key."""

    name = "confd"
    category = Category.DAEMON
    kind = Kind.PERFORMANCE

    def __init__(self, context: AgentContext, server: ConfdServer) -> None:
        super().__init__(context)
        self.server = server

    def result(self) -> ConfdState:
        return confd_state(self.server)

    def to_data(self, result: ConfdState) -> JSON:
        return confd_data(result)

    def samples(self, result: ConfdState) -> Iterator[Sample]:
        return confd_samples(result)


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
CONFD_RECEIVED = family("ganeti_confd_received_total", "counter", "Datagrams received.")
CONFD_REPLIES = family("ganeti_confd_replies_total", "counter", "Replies sent.")
CONFD_ERROR_REPLIES = family(
    "ganeti_confd_error_replies_total", "counter", "Replies with an error status."
)
CONFD_OVERSIZED_REPLIES = family(
    "ganeti_confd_oversized_replies_total",
    "counter",
    "Answers too large for UDP, replaced by a short error reply.",
)
CONFD_SEND_ERRORS = family(
    "ganeti_confd_send_errors_total", "counter", "Replies the socket refused."
)
CONFD_INTERNAL_ERRORS = family(
    "ganeti_confd_internal_errors_total",
    "counter",
    "Requests whose answer failed inside the agent (logged, not answered).",
)
CONFD_CONFIG_LOADS = family("ganeti_confd_config_loads_total", "counter", "Loads of config.data.")
CONFD_CONFIG_LOAD_FAILURES = family(
    "ganeti_confd_config_load_failures_total",
    "counter",
    "Versions of config.data refused (the last good one kept answering).",
)
CONFD_CONFIG_SERIAL = family(
    "ganeti_confd_config_serial", "gauge", "Serial number of the loaded config.data."
)
CONFD_CONFIG_LOADED = family(
    "ganeti_confd_config_loaded", "gauge", "1 if confd has a configuration to answer from."
)
CONFD_KEY_LOADED = family("ganeti_confd_key_loaded", "gauge", "1 if confd has the cluster's key.")


def confd_samples(state: ConfdState) -> Iterator[Sample]:
    """The confd counters as Prometheus counters (monotonic since the agent started)."""
    counters = state.counters
    for rtype, count in counters.requests.items():
        yield Sample(CONFD_REQUESTS, (rtype.name,), float(count))
    for reason, count in counters.drops.items():
        yield Sample(CONFD_DROPS, (reason.value,), float(count))
    figures: tuple[tuple[Family, int | None], ...] = (
        (CONFD_RECEIVED, counters.received),
        (CONFD_REPLIES, counters.replies),
        (CONFD_ERROR_REPLIES, counters.error_replies),
        (CONFD_OVERSIZED_REPLIES, counters.oversized_replies),
        (CONFD_SEND_ERRORS, counters.send_errors),
        (CONFD_INTERNAL_ERRORS, counters.internal_errors),
        (CONFD_CONFIG_LOADS, state.loads),
        (CONFD_CONFIG_LOAD_FAILURES, state.load_failures),
        (CONFD_CONFIG_SERIAL, state.config_serial),
    )
    for declared, value in figures:
        if value is not None:
            yield Sample(declared, (), float(value))
    yield flag(CONFD_CONFIG_LOADED, (), state.config_serial is not None)
    yield flag(CONFD_KEY_LOADED, (), state.key_loaded)
