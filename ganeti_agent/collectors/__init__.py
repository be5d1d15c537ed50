"""The registry of built-in collectors, in the order the API lists them.

The first six keep mond's order (spec 6.1); collectors Ganeti never built follow. Each
module named here has ``collectors(context)``, returning its collector instances, so
a module may contribute several (one per Ganeti daemon, one per plugin executable).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from ganeti_agent.core.framework import AgentContext, Collector

CollectorFactory = Callable[[AgentContext], Iterable[Collector]]

REGISTRY: tuple[str, ...] = (
    "cpu_avg_load",
    "xen_cpu_avg_load",
    "diskstats",
    "drbd",
    "instances.xen",
    "lv",
    "instances.kvm",
    "hypervisor",
    "node",
    "daemons",
    "confd",
    "plugins",
)


class DuplicateCollector(ValueError):
    """Two collectors claim one name; the API could serve only one of them."""


def factory(module_name: str) -> CollectorFactory:
    module = importlib.import_module(f"{__name__}.{module_name}")
    made: CollectorFactory = module.collectors
    return made


def build_collectors(
    context: AgentContext, modules: Iterable[str] | None = None
) -> list[Collector]:
    """Instantiate every registered collector (``REGISTRY`` as it is now), refusing duplicates."""
    built: list[Collector] = []
    seen: set[str] = set()
    for module_name in REGISTRY if modules is None else modules:
        for collector in factory(module_name)(context):
            if collector.name in seen:
                raise DuplicateCollector(f"collector name {collector.name!r} registered twice")
            seen.add(collector.name)
            built.append(collector)
    return built
