"""``ganeti-agent check --local``: the agent's own collectors, run once in this process.

The collectors are built exactly as the daemon builds them (same configuration file,
same cluster wiring), and only the stateless ones run: a stateful collector has no
samples in a fresh process, so it would always say "unknown" (mon-collector makes
the same choice).
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ganeti_agent.core.report import JSONValue
from ganeti_agent.core.settings import SettingsError, load_settings


def local_reports(config: str | None, data_dir: str | None) -> list[JSONValue] | str:
    """The reports of the active stateless collectors, or why there are none."""
    from twisted.internet import task

    from ganeti_agent.server.tap import Options, make_agent

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        return str(exc)
    options = Options()  # type: ignore[no-untyped-call]
    options["data-dir"] = data_dir
    reports: list[JSONValue] = []

    def run(reactor: Any) -> Deferred[None]:
        parent = MultiService()
        collectors, _api = make_agent(settings, options, reactor, parent)
        parent.startService()
        chosen = [m for m in collectors.active() if not m.collector.stateful]
        gathered = collectors.reports(chosen)
        finished = gathered.addCallback(
            lambda done: reports.extend(r.report.to_json_object() for r in done)
        )
        return finished.addBoth(lambda result: _stopped(parent, result))

    try:
        task.react(run)
    except SystemExit as exit_status:
        if exit_status.code not in (0, None):
            return f"running the collectors failed (status {exit_status.code})"
    return reports


def _stopped(parent: MultiService, result: object) -> None:
    """Stop what the cluster wiring started; a failure still ends in a non-zero exit."""
    parent.stopService()
    if isinstance(result, Failure):
        result.raiseException()
