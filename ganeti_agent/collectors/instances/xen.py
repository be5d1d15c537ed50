"""``inst-status-xen`` (instance, status): Ganeti 3.0.2's Xen instance status, same output.

For each primary instance of this node (from the cluster), the domain Xen reports
(``list --long``, run twice: a domain whose CPU time did not move is *hung*), its
uptime (``uptime``) and its reason trail, judged against the admin state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger

from ganeti_agent.collectors.instances.reason_trail import read_trail
from ganeti_agent.collectors.instances.status import (
    ADMIN_DOWN,
    HUNG,
    SHUTDOWN,
    UNKNOWN,
    ConfiguredInstance,
    InstanceRecord,
    failed_data,
    hypervisor_enabled,
    instance_samples,
    node_primary_instances,
    report_data,
)
from ganeti_agent.collectors.instances.xen_host import (
    Toolstack,
    haskell_process_error,
    is_xen_control_domain,
)
from ganeti_agent.core.executor import ExecutionError
from ganeti_agent.core.framework import AgentContext, Collector, CollectorError, CollectorSettings
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample
from ganeti_agent.core.report import Category, Kind, StatusCode
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.xen import (
    Domain,
    LispSyntaxError,
    Uptime,
    parse_list_long,
    parse_uptime,
)

log = Logger(namespace="ganeti_agent.collectors.instances.xen")

NAME = "inst-status-xen"
LIST_ARGS = ("list", "--long")
UPTIME_ARGS = ("uptime",)
NO_LIST = "Unable to receive the list of instances: "
XEN_HYPERVISORS = frozenset({"xen-pvm", "xen-hvm"})


@dataclass(frozen=True)
class ObservedDomain:
    """A domain of the first ``list --long`` and whether it looks hung (None: unknown)."""

    domain: Domain
    hung: bool | None


def infer_hung(
    first: Mapping[str, Domain], second: Mapping[str, Domain]
) -> dict[str, ObservedDomain]:
    """Ganeti's hung test: the same CPU time in two consecutive listings."""
    observed = {}
    for name, domain in first.items():
        again = second.get(name)
        hung = None if again is None else domain.cpu_time == again.cpu_time
        observed[name] = ObservedDomain(domain, hung)
    return observed


def actual_state(instance: ConfiguredInstance, observed: ObservedDomain | None) -> str:
    """What Xen says of the instance, in Ganeti's vocabulary."""
    if observed is None:
        return SHUTDOWN if instance.admin_state == ADMIN_DOWN else UNKNOWN
    if observed.hung is None:
        return UNKNOWN
    return HUNG if observed.hung else observed.domain.actual_state


def xen_records(
    instances: Sequence[ConfiguredInstance],
    domains: Mapping[str, ObservedDomain],
    uptimes: Mapping[int, Uptime],
    trail: Callable[[str], list[JSON]],
) -> list[InstanceRecord]:
    """One record per configured instance, in the cluster's order."""
    records = []
    for instance in instances:
        observed = domains.get(instance.name)
        uptime = uptimes.get(observed.domain.domid) if observed is not None else None
        records.append(
            InstanceRecord(
                instance,
                actual_state(instance, observed),
                uptime.uptime if uptime is not None else None,
                trail(instance.name),
            )
        )
    return records


def list_error(error: Exception) -> str:
    """The text Ganeti gives for a failed or unparsable ``list --long``."""
    if isinstance(error, ExecutionError):
        return haskell_process_error(error)
    if isinstance(error, LispSyntaxError):
        log.warn("list --long output is not s-expressions: {reason}", reason=error.reason)
        return "Failed reading: takeWhile1"
    if isinstance(error, ParseError):
        return f"Failed reading: {error.reason}"
    return str(error)


DEFAULT_HUNG_CHECK_DELAY = 2.0
"""Seconds between the two listings whose CPU times decide "hung".

Ganeti 3.0.2 lists back to back (0 here), so an idle domain, whose CPU time has not
moved in those few milliseconds, is reported hung. An idle guest still wakes for its
timers within a second or two; the price is a report that takes this much longer.
"""


class InstStatusXenCollector(Collector):
    """Status of this node's primary instances under Xen."""

    name = NAME
    category = Category.INSTANCE
    kind = Kind.STATUS

    def __init__(self, context: AgentContext, settings: CollectorSettings | None = None) -> None:
        super().__init__(context, settings)
        self.toolstack_choice = self.settings.option("toolstack", "auto")
        self.hung_delay = float(
            self.settings.option("hung-check-delay", str(DEFAULT_HUNG_CHECK_DELAY))
        )
        self._toolstack: Toolstack | None = None

    @property
    def toolstack(self) -> Toolstack:
        if self._toolstack is None:
            try:
                self._toolstack = Toolstack(self.context.runner, self.toolstack_choice)
            except ValueError as exc:
                raise CollectorError(str(exc)) from None
        return self._toolstack

    def available(self) -> bool:
        """A Xen control domain, unless the cluster is known not to enable Xen."""
        enabled = hypervisor_enabled(self.context.current_cluster(), XEN_HYPERVISORS)
        return enabled is not False and is_xen_control_domain(self.context.proc_root)

    def collect(self) -> Deferred[JSON]:
        return Deferred.fromCoroutine(self._collect())

    async def _collect(self) -> JSON:
        instances = await node_primary_instances(
            self.context.current_cluster(), self.context.hostname, XEN_HYPERVISORS
        )
        first = await self._list_domains()
        if self.hung_delay > 0:
            await deferLater(self.context.clock, self.hung_delay, lambda: None)
        second = await self._list_domains()
        if isinstance(first, str) and isinstance(second, str):
            return failed_data(StatusCode.BAD, NO_LIST + first + "\n" + second)
        domains = self._combine(first, second)
        uptimes = await self._uptimes()
        trail = partial(read_trail, self.context.paths)
        return report_data(xen_records(instances, domains, uptimes, trail))

    @staticmethod
    def _combine(
        first: dict[str, Domain] | str, second: dict[str, Domain] | str
    ) -> dict[str, ObservedDomain]:
        if isinstance(first, str):
            log.warn("Unable to retrieve domains info the first time: {error}", error=first)
            assert not isinstance(second, str)
            return {name: ObservedDomain(d, None) for name, d in second.items()}
        if isinstance(second, str):
            log.warn("Unable to retrieve domains info the second time: {error}", error=second)
            return {name: ObservedDomain(d, None) for name, d in first.items()}
        return infer_hung(first, second)

    async def _list_domains(self) -> dict[str, Domain] | str:
        """The domains, or the error text (a failed run is not yet a failed report)."""
        try:
            result = await self.toolstack.run(LIST_ARGS, self.settings.timeout)
            return parse_list_long(result.stdout.decode("utf-8", "replace"))
        except (ExecutionError, ParseError) as exc:
            return list_error(exc)

    async def _uptimes(self) -> dict[int, Uptime]:
        try:
            result = await self.toolstack.run(UPTIME_ARGS, self.settings.timeout)
        except ExecutionError as exc:
            raise CollectorError("running command: " + haskell_process_error(exc)) from None
        try:
            return parse_uptime(result.stdout.decode("utf-8", "replace"))
        except ParseError as exc:
            raise CollectorError(f"cannot parse the uptime list: {exc.reason}") from None

    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        return instance_samples(data)


def collectors(context: AgentContext) -> Iterable[Collector]:
    return [InstStatusXenCollector(context)]
