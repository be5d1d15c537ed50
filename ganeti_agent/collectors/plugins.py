"""Plugin collectors: every executable in a directory is a collector.

Each plugin is a stateful collector: the framework's sampling loop runs it every
``interval`` seconds (from its own ``[collector:NAME]`` section, else ``[collectors]``)
through the executor with ``timeout``, and a report request serves what the last run
printed, so a slow plugin never delays an HTTP request. A valid report object on
stdout becomes the report; anything else (non-zero exit, timeout, invalid JSON, a
wrong envelope field) becomes a status report with code 2 and the reason.

The collector's name is the file name without its extension (``raid.sh`` is
``raid``); its category and kind are those of its last valid report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ganeti_agent.core.executor import ExecutionError, ProcessResult
from ganeti_agent.core.framework import (
    AgentContext,
    Collector,
    CollectorError,
    CollectorSet,
    Enablement,
    StatefulCollector,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.metrics import Sample, family, number
from ganeti_agent.core.report import Kind, StatusCode, status_object
from ganeti_agent.parsers.plugin_report import PluginReportError, parse_plugin_report

log = Logger(namespace="ganeti_agent.collectors.plugins")

SETTINGS_NAME = "plugins"
DEFAULT_DIRECTORY = "/etc/ganeti-agent/collectors.d"
NOT_RUN_YET = "the plugin has not finished its first run yet"
MAX_PLUGINS = 100
"""Plugins taken from the directory; each is a process per interval, so there is a cap."""
DEFAULT_RESCAN_INTERVAL = 30.0
"""Seconds between two looks at the directory for added and removed plugins."""
VALID_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
IGNORED_SUFFIXES = (
    "~",
    ".dpkg-old",
    ".dpkg-new",
    ".dpkg-dist",
    ".dpkg-tmp",
    ".ucf-old",
    ".ucf-new",
    ".ucf-dist",
    ".disabled",
    ".swp",
    ".bak",
    ".orig",
)


def plugin_name(file_name: str) -> str | None:
    """The collector name of a file, or None for hidden, backup and oddly named files."""
    if file_name.startswith(".") or file_name.endswith(IGNORED_SUFFIXES):
        return None
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    return stem if VALID_NAME.fullmatch(stem) else None


@dataclass(frozen=True)
class Scan:
    """One look at the plugin directory: the plugins, and what was left out and why."""

    plugins: list[tuple[str, str]]
    notes: list[str]


def scan(directory: str, limit: int = MAX_PLUGINS) -> Scan:
    """``(name, path)`` of at most ``limit`` executables in ``directory``, by file name."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except FileNotFoundError:
        return Scan([], [])
    except OSError as exc:
        return Scan([], [f"cannot list plugin directory {directory}: {exc}"])
    found: dict[str, str] = {}
    notes: list[str] = []
    for entry in entries:
        name = plugin_name(entry.name)
        if name is None or not entry.is_file() or not os.access(entry.path, os.X_OK):
            notes.append(f"ignoring {entry.path}: not an executable plugin file")
        elif name in found:
            notes.append(f"ignoring {entry.path}: plugin {name} already exists")
        elif len(found) >= limit:
            notes.append(f"ignoring {entry.path}: more than {limit} plugins in {directory}")
        else:
            found[name] = entry.path
    return Scan(list(found.items()), notes)


def discover(directory: str) -> list[tuple[str, str]]:
    """``(name, path)`` of the plugins in ``directory``, logging what is left out."""
    found = scan(directory)
    for note in found.notes:
        log.info("{note}", note=note)
    return found.plugins


class PluginCollector(StatefulCollector):
    """One executable, run on its own interval; serves the outcome of its last run."""

    def __init__(self, context: AgentContext, name: str, path: str) -> None:
        self.name = name
        self.path = path
        super().__init__(context)
        self.category = None
        self.kind = Kind.STATUS
        self._data: JSON = None
        self._error: str | None = NOT_RUN_YET

    def available(self) -> bool:
        return os.access(self.path, os.X_OK)

    def sample(self) -> Deferred[None]:
        timeout = self.settings.timeout
        running = self.context.runner.run([self.path], timeout)
        return running.addCallbacks(self._ran, self._failed, errbackArgs=(timeout,))

    def _ran(self, result: ProcessResult) -> None:
        try:
            report = parse_plugin_report(result.stdout, self.name)
        except PluginReportError as exc:
            self._fail(f"{self.path}: {exc}")
            return
        self.category, self.kind = report.category, report.kind
        self.version, self.format_version = report.version, report.format_version
        self._data, self._error = report.data, None

    def _failed(self, failure: Failure, timeout: float) -> None:
        if failure.check(ExecutionError):
            self._fail(str(failure.value))
        elif failure.check(defer.CancelledError, defer.TimeoutError):
            self._fail(f"{self.path}: timed out after {timeout:g} s")
        else:
            self._fail(f"{self.path}: cannot be run: {failure.getErrorMessage()}")
            log.failure("running plugin {name} failed", failure, name=self.name)

    def _fail(self, message: str) -> None:
        """A failed run is a status report (code 2) until the next good run."""
        self.kind = Kind.STATUS
        self._data, self._error = None, message

    def collect(self) -> JSON:
        if self._error is not None:
            raise CollectorError(self._error)
        return self._data

    def error_data(self, message: str) -> JSON:
        return {"status": status_object(StatusCode.UNKNOWN, message)}

    def metric_samples(self, data: JSON) -> Iterator[Sample]:
        return plugin_samples(self.name, data)


def plugin_directory(context: AgentContext) -> str | None:
    """The directory plugins come from, or None when plugins are switched off."""
    settings = context.settings_for(SETTINGS_NAME)
    if settings.enabled is Enablement.NO:
        return None
    return settings.option("directory", DEFAULT_DIRECTORY)


def collectors(context: AgentContext) -> Iterable[Collector]:
    directory = plugin_directory(context)
    if directory is None:
        return []
    return [PluginCollector(context, name, path) for name, path in discover(directory)]


def rescan_interval(context: AgentContext) -> float:
    """Seconds between rescans of the plugin directory; 0 when it is never rescanned."""
    if plugin_directory(context) is None:
        return 0.0
    settings = context.settings_for(SETTINGS_NAME)
    return float(settings.option("rescan-interval", str(DEFAULT_RESCAN_INTERVAL)))


class PluginRescan:
    """Follows the plugin directory: an added executable becomes a collector, a removed
    one stops being one, without restarting the agent.

    A rescan is one directory listing, so it is cheap; what it leaves out is logged
    once, when that changes, not on every rescan.
    """

    def __init__(self, context: AgentContext, served: CollectorSet, directory: str) -> None:
        self.context = context
        self.served = served
        self.directory = directory
        self._noted: set[str] = set(scan(directory).notes)

    def __call__(self) -> None:
        found = scan(self.directory)
        notes = list(found.notes)
        wanted = dict(found.plugins)
        for managed in list(self.served.managed):
            plugin = managed.collector
            if isinstance(plugin, PluginCollector) and wanted.get(plugin.name) != plugin.path:
                log.info("plugin {name} is gone from {dir}", name=plugin.name, dir=self.directory)
                self.served.remove(plugin.name)
        for name, path in wanted.items():
            present = self.served.get(name)
            if present is None:
                log.info("plugin {name} found: {path}", name=name, path=path)
                self.served.add(PluginCollector(self.context, name, path))
            elif not isinstance(present.collector, PluginCollector):
                notes.append(f"ignoring {path}: {name} is the name of a built-in collector")
        for note in notes:
            if note not in self._noted:
                log.warn("{note}", note=note)
        self._noted = set(notes)


PLUGIN_VALUE = family(
    "ganeti_plugin_value",
    "gauge",
    "A number from a plugin collector's data; field is its key (nested keys joined by _).",
    "collector",
    "field",
)


def plugin_samples(name: str, data: JSON) -> Iterator[Sample]:
    """Numbers at the top level of a plugin's data, and one level further down."""
    if not isinstance(data, Mapping):
        return
    for key, value in data.items():
        found = number(value)
        if found is not None:
            yield Sample(PLUGIN_VALUE, (name, str(key)), found)
        elif isinstance(value, Mapping) and key != "status":
            for inner, inner_value in value.items():
                inner_number = number(inner_value)
                if inner_number is not None:
                    yield Sample(PLUGIN_VALUE, (name, f"{key}_{inner}"), inner_number)
