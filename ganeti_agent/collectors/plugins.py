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

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ganeti_agent.core.executor import ExecutionError, ProcessResult
from ganeti_agent.core.framework import (
    AgentContext,
    Collector,
    CollectorError,
    Enablement,
    StatefulCollector,
)
from ganeti_agent.core.metrics import Sample, family, number
from ganeti_agent.core.report import JSONValue, Kind, StatusCode, status_object
from ganeti_agent.parsers.plugin_report import PluginReportError, parse_plugin_report

log = Logger(namespace="ganeti_agent.collectors.plugins")

SETTINGS_NAME = "plugins"
DEFAULT_DIRECTORY = "/etc/ganeti-agent/collectors.d"
NOT_RUN_YET = "the plugin has not finished its first run yet"
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


def discover(directory: str) -> list[tuple[str, str]]:
    """``(name, path)`` of the executables in ``directory``, sorted by file name."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warn("cannot list plugin directory {dir}: {exc}", dir=directory, exc=exc)
        return []
    found: dict[str, str] = {}
    for entry in entries:
        name = plugin_name(entry.name)
        if name is None or not entry.is_file() or not os.access(entry.path, os.X_OK):
            log.info("ignoring {path}: not an executable plugin file", path=entry.path)
        elif name in found:
            log.warn("ignoring {path}: plugin {name} already exists", path=entry.path, name=name)
        else:
            found[name] = entry.path
    return list(found.items())


class PluginCollector(StatefulCollector):
    """One executable, run on its own interval; serves the outcome of its last run."""

    def __init__(self, context: AgentContext, name: str, path: str) -> None:
        self.name = name
        self.path = path
        super().__init__(context)
        self.category = None
        self.kind = Kind.STATUS
        self.version = ""
        self._data: JSONValue = None
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
        self.category, self.kind, self.version = report.category, report.kind, report.version
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

    def collect(self) -> JSONValue:
        if self._error is not None:
            raise CollectorError(self._error)
        return self._data

    def error_data(self, message: str) -> JSONValue:
        return {"status": status_object(StatusCode.UNKNOWN, message)}

    def metric_samples(self, data: JSONValue) -> Iterator[Sample]:
        return plugin_samples(self.name, data)


def collectors(context: AgentContext) -> Iterable[Collector]:
    settings = context.settings_for(SETTINGS_NAME)
    if settings.enabled is Enablement.NO:
        return []
    directory = settings.option("directory", DEFAULT_DIRECTORY)
    return [PluginCollector(context, name, path) for name, path in discover(directory)]


PLUGIN_VALUE = family(
    "ganeti_plugin_value",
    "gauge",
    "A number from a plugin collector's data; field is its key (nested keys joined by _).",
    "collector",
    "field",
)


def plugin_samples(name: str, data: JSONValue) -> Iterator[Sample]:
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
