"""``mon-collector confd``: the report of a confd server started now, on this node's files.

The daemon's ``confd`` report counts what its server received since the agent started;
a command has no server that received anything, so its counters are all 0. What it
does tell is whether a confd started now could answer: it loads ``config.data`` and
``hmac.key`` (under ``GANETI_ROOTDIR``) as the server does and reports ``keyLoaded``,
``configLoaded``, ``configSerial`` and ``configError``. For the running server's
counters, ask the agent (``GET /1/report/daemon/confd``).
"""

from __future__ import annotations

from twisted.internet.defer import Deferred

from ganeti_agent.cli.moncollector import Invocation, Subcommand
from ganeti_agent.cli.moncollector.oneshot import collect_once, collector_context
from ganeti_agent.collectors.confd import ConfdCollector
from ganeti_agent.confd.server import ConfdServer
from ganeti_agent.confd.source import ConfigSource
from ganeti_agent.core.report import Report


def loaded_source(invocation: Invocation) -> ConfigSource:
    """The key and configuration read once, in one step (no reactor turns to share here)."""
    paths = invocation.paths
    source = ConfigSource(paths.config_data, paths.hmac_key, invocation.reactor, use_inotify=False)
    source.inline_size = source.max_size
    source.check()
    return source


def run(invocation: Invocation) -> Deferred[Report]:
    server = ConfdServer(loaded_source(invocation))
    collector = ConfdCollector(collector_context(invocation, None), server)
    return collect_once(collector, invocation)


COMMAND = Subcommand(
    name=ConfdCollector.name,
    summary=("checks that confd could load this node's configuration and", "key (JSON)"),
    options=(),
    run=run,
)
