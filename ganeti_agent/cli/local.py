"""``ganeti-agent check --local``: the agent's own collectors, run once in this process.

The collectors are built exactly as the daemon builds them (same configuration file,
same cluster wiring), and only the stateless ones run: a stateful collector has no
samples in a fresh process, so it would always say "unknown" (mon-collector makes
the same choice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorCore
from twisted.python.failure import Failure

from ganeti_agent.core.framework import CollectedReport
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.settings import AgentSettings, SettingsError, load_settings

if TYPE_CHECKING:
    from ganeti_agent.server.tap import IAgentReactor

T = TypeVar("T")


def local_reports(config: str | None, data_dir: str | None) -> list[JSON] | str:
    """The reports of the active stateless collectors, or why there are none."""
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        return str(exc)
    from ganeti_agent.server.tap import agent_reactor

    reactor = agent_reactor()
    outcome = run_once(reactor, lambda: _collect(settings, data_dir, reactor))
    if isinstance(outcome, Failure):
        return f"running the collectors failed: {outcome.getErrorMessage()}"
    return outcome


def run_once(reactor: IReactorCore, work: Callable[[], Deferred[T]]) -> T | Failure:
    """Run the reactor until ``work``'s Deferred fires; its result or its failure.

    Unlike ``task.react`` this returns to the caller instead of exiting the process.
    """
    outcome: list[T | Failure] = []

    def start() -> None:
        finished: Deferred[T] = maybeDeferred(work)
        finished.addBoth(outcome.append)
        finished.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    return outcome[0]


def _collect(
    settings: AgentSettings, data_dir: str | None, reactor: IAgentReactor
) -> Deferred[list[JSON]]:
    from ganeti_agent.server.tap import CommandLine, make_agent

    parent = MultiService()
    collectors, _api = make_agent(settings, CommandLine(data_dir=data_dir), reactor, parent)
    parent.startService()
    chosen = [m for m in collectors.active() if not m.collector.stateful]
    gathered = collectors.reports(chosen)
    reports = gathered.addCallback(_report_objects)
    return reports.addBoth(lambda result: _stopped(parent, result))


def _report_objects(done: list[CollectedReport]) -> list[JSON]:
    return [collected.report.to_json_object() for collected in done]


def _stopped(parent: MultiService, result: T) -> T:
    """Stop what the cluster wiring started, whatever the outcome."""
    parent.stopService()
    return result
