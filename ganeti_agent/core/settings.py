"""The agent's configuration file: INI sections, read once at start-up.

``[agent]`` holds listening and paths, ``[collectors]`` defaults for every collector,
``[collector:NAME]`` one collector's knobs and own options, and ``[confd]`` the confd
server. Command-line options win.

Every key the agent reads is declared once, with the kind of value it takes, in
:data:`SECTION_KEYS` and :data:`COLLECTOR_OPTIONS`; a value of the wrong kind is an
error naming file, section, key and what was expected, found before anything starts.
Sections and keys the agent does not know are reported by :func:`unknown_entries` (a
misspelt key would otherwise be silently ignored) but do not stop the agent.
"""

from __future__ import annotations

import configparser
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ganeti_agent.core.framework import CollectorSettings, Enablement

COLLECTOR_PREFIX = "collector:"
COMMON_KEYS = ("enabled", "interval", "timeout", "cache")
MAX_PORT = 65535
#: The longest duration any key takes (a day): a sampling window of a year would
#: overflow the sample buffer's size, and no timeout or interval needs more.
MAX_SECONDS = 86400
#: How much of a rejected value an error message repeats: one line stays short.
SHOWN_VALUE = 40
#: Warnings about unknown sections and keys logged at start; the rest are counted.
MAX_WARNINGS = 20


class SettingsError(ValueError):
    """The configuration file is unreadable or has an invalid value; names file and key."""


@dataclass(frozen=True)
class ValueKind:
    """What a key accepts: ``parse`` raises ValueError for anything else."""

    expected: str
    parse: Callable[[str], object]


def parse_bool(raw: str, where: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    raise SettingsError(f"{where}: expected yes or no, got {shown(raw)}")


def _bool(raw: str) -> bool:
    try:
        return parse_bool(raw, "")
    except SettingsError:
        raise ValueError(raw) from None


def parse_port(raw: str) -> int:
    """A TCP or UDP port number; ValueError for anything else, range included."""
    port = int(raw.strip())
    if not 0 <= port <= MAX_PORT:
        raise ValueError(raw)
    return port


def _seconds(minimum_excluded: bool) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not 0 <= value <= MAX_SECONDS or (minimum_excluded and value == 0):
            raise ValueError(raw)
        return value

    return parse


def _enablement(raw: str) -> Enablement:
    if raw.strip().lower() == "auto":
        return Enablement.AUTO
    return Enablement.YES if _bool(raw) else Enablement.NO


def _choice(*allowed: str) -> ValueKind:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(raw)
        return value

    return ValueKind(", ".join(allowed[:-1]) + f" or {allowed[-1]}", parse)


TEXT = ValueKind("text", str)
BOOL = ValueKind("yes or no", _bool)
PORT = ValueKind(f"a port number from 0 to {MAX_PORT}", parse_port)
SECONDS = ValueKind(f"a number of seconds greater than 0 and at most {MAX_SECONDS}", _seconds(True))
SECONDS_OR_ZERO = ValueKind(f"a number of seconds from 0 to {MAX_SECONDS}", _seconds(False))
ENABLEMENT = ValueKind("auto, yes or no", _enablement)

#: The keys every ``[collector:NAME]`` section (and ``[collectors]``) takes.
COMMON: Mapping[str, ValueKind] = {
    "enabled": ENABLEMENT,
    "interval": SECONDS,
    "timeout": SECONDS,
    "cache": SECONDS_OR_ZERO,
}

SECTION_KEYS: Mapping[str, Mapping[str, ValueKind]] = {
    "agent": {
        "bind": TEXT,
        "port": PORT,
        "data-dir": TEXT,
        "command-path": TEXT,
        "node-name": TEXT,
        "log-requests": BOOL,
        "request-timeout": TEXT,  # seconds, checked where it is read (access)
        "listen": TEXT,
        "auth-users": TEXT,
        "auth-realm": TEXT,
    },
    "collectors": COMMON,
    # max-config-size: a size such as 64M, checked where it is read (confd wiring).
    "confd": {"enabled": ENABLEMENT, "bind": TEXT, "port": PORT, "max-config-size": TEXT},
}

_DAEMON_OPTIONS: Mapping[str, ValueKind] = {
    "required": _choice("auto", "yes", "no"),
    "pid-file": TEXT,
}
_GANETI_DAEMONS = ("noded", "confd", "wconfd", "luxid", "rapi", "mond", "kvmd", "metad")

#: The built-in collectors and their own keys (beside :data:`COMMON`). Plugin
#: collectors take the common keys only.
COLLECTOR_OPTIONS: Mapping[str, Mapping[str, ValueKind]] = {
    "cpu-avg-load": {"window": SECONDS, "stat-file": TEXT},
    "xen-cpu-avg-load": {
        "window": SECONDS,
        "min-span": SECONDS_OR_ZERO,
        "forget-after": SECONDS_OR_ZERO,
        "command": TEXT,
    },
    "diskstats": {"file": TEXT},
    "drbd": {"file": TEXT, "drbdsetup": TEXT},
    "inst-status-xen": {
        "toolstack": _choice("auto", "xl", "xm"),
        "hung-check-delay": SECONDS_OR_ZERO,
    },
    "inst-status-kvm": {"qmp-timeout": SECONDS},
    "lv": {"lvs": TEXT, "lvs-extra-args": TEXT},
    "hypervisor-xen": {"xl": TEXT, "sys-root": TEXT},
    "hypervisor-kvm": {"device": TEXT, "node-dir": TEXT, "sys-root": TEXT},
    "node": {
        "ganeti-share": TEXT,
        "ganeti-versions": TEXT,
        "sys-root": TEXT,
        "qemu": TEXT,
        "kvm-device": TEXT,
    },
    **{f"daemon-{daemon}": _DAEMON_OPTIONS for daemon in _GANETI_DAEMONS},
    "daemon-ganeti-agent": {},
    "confd": {},
    "plugins": {"directory": TEXT, "rescan-interval": SECONDS_OR_ZERO},
}


@dataclass(frozen=True)
class AgentSettings:
    """Everything the configuration file can say, with the defaults of a plain node."""

    sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    collector_defaults: CollectorSettings = field(default_factory=CollectorSettings)
    collectors: Mapping[str, CollectorSettings] = field(default_factory=dict)
    source: str = "<config>"

    def section(self, name: str) -> Mapping[str, str]:
        return self.sections.get(name, {})

    def get(self, section: str, key: str, default: str) -> str:
        return self.section(section).get(key, default)

    def get_bool(self, section: str, key: str, default: bool) -> bool:
        raw = self.section(section).get(key)
        return default if raw is None else parse_bool(raw, self.where(section, key))

    def get_port(self, section: str, key: str, default: int) -> int:
        raw = self.section(section).get(key)
        if raw is None:
            return default
        try:
            return parse_port(raw)
        except ValueError:
            raise SettingsError(_expected(self.where(section, key), PORT, raw)) from None

    def where(self, section: str, key: str) -> str:
        """How errors and warnings name a key: file, section and key."""
        return f"{self.source}: [{section}] {key}"

    def collector(self, name: str) -> CollectorSettings:
        return self.collectors.get(name, self.collector_defaults)


def _expected(where: str, kind: ValueKind, raw: str) -> str:
    return f"{where}: expected {kind.expected}, got {shown(raw)}"


def shown(raw: str) -> str:
    """A rejected value as error messages repeat it: quoted, at most SHOWN_VALUE chars."""
    if len(raw) <= SHOWN_VALUE:
        return repr(raw)
    return repr(raw[:SHOWN_VALUE]) + f"... ({len(raw)} characters)"


def _check(values: Mapping[str, str], kinds: Mapping[str, ValueKind], where: str) -> None:
    for key, raw in values.items():
        kind = kinds.get(key)
        if kind is None:
            continue
        try:
            kind.parse(raw)
        except ValueError:
            raise SettingsError(_expected(f"{where} {key}", kind, raw)) from None


def _collector_settings(values: Mapping[str, str], base: CollectorSettings) -> CollectorSettings:
    """Values already checked against :data:`COMMON`."""
    options = {k: v for k, v in values.items() if k not in COMMON_KEYS}
    return CollectorSettings(
        enabled=_enablement(values["enabled"]) if "enabled" in values else base.enabled,
        interval=float(values["interval"]) if "interval" in values else base.interval,
        timeout=float(values["timeout"]) if "timeout" in values else base.timeout,
        cache=float(values["cache"]) if "cache" in values else base.cache,
        options={**base.options, **options},
        interval_set="interval" in values or base.interval_set,
    )


def _section_kinds(name: str) -> Mapping[str, ValueKind]:
    if name.startswith(COLLECTOR_PREFIX):
        return {**COMMON, **COLLECTOR_OPTIONS.get(name[len(COLLECTOR_PREFIX) :], {})}
    return SECTION_KEYS.get(name, {})


def parse_settings(text: str, source: str = "<config>") -> AgentSettings:
    """Parse configuration text; errors name the file, the section and the key."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise SettingsError(f"{source}: {_one_line(str(exc))}") from None
    sections = {name: dict(parser.items(name)) for name in parser.sections()}
    for name, values in sections.items():
        _check(values, _section_kinds(name), f"{source}: [{name}]")
    defaults = _collector_settings(sections.get("collectors", {}), CollectorSettings())
    collectors = {
        name[len(COLLECTOR_PREFIX) :]: _collector_settings(values, defaults)
        for name, values in sections.items()
        if name.startswith(COLLECTOR_PREFIX)
    }
    return AgentSettings(sections, defaults, collectors, source)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def load_settings(path: str | None) -> AgentSettings:
    """Read the configuration file; no file means all defaults."""
    if path is None:
        return AgentSettings()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise SettingsError(f"cannot read configuration {path}: {reason}") from None
    return parse_settings(text, path)


def unknown_entries(settings: AgentSettings, collector_names: Iterable[str] = ()) -> list[str]:
    """One warning per section or key the agent does not read, with the closest known one.

    ``collector_names`` are the collectors built on this node beyond the built-in ones
    (plugins), whose sections take the common keys.
    """
    known_collectors = {*COLLECTOR_OPTIONS, *collector_names}
    known_sections = [*SECTION_KEYS, *(COLLECTOR_PREFIX + name for name in known_collectors)]
    warnings = []
    for name, values in settings.sections.items():
        if name not in known_sections:
            warnings.append(_unknown_section(settings.source, name, known_sections))
            continue
        kinds = _section_kinds(name)
        for key in values:
            if key not in kinds:
                hint = _closest(key, kinds, "{}")
                where = settings.where(name, _cut(key))
                warnings.append(f"{where}: unknown key, ignored{hint}")
    if len(warnings) > MAX_WARNINGS:
        more = len(warnings) - MAX_WARNINGS
        warnings[MAX_WARNINGS:] = [f"{settings.source}: {more} more unknown sections or keys"]
    return warnings


def _unknown_section(source: str, name: str, known_sections: list[str]) -> str:
    """The warning for a section nobody reads now.

    A ``[collector:NAME]`` section is not ignored: plugins are picked up while the
    agent runs, and one named NAME takes it when it appears, so the warning says so.
    Its hint compares collector names only, as the shared prefix would make every
    name look close to every other.
    """
    section = f"[{_cut(name)}]"
    if not name.startswith(COLLECTOR_PREFIX):
        hint = _closest(name, known_sections, "[{}]")
        return f"{source}: {section}: unknown section, ignored{hint}"
    collector = name.removeprefix(COLLECTOR_PREFIX)
    collectors = [
        known.removeprefix(COLLECTOR_PREFIX)
        for known in known_sections
        if known.startswith(COLLECTOR_PREFIX)
    ]
    hint = _closest(collector, collectors, "[" + COLLECTOR_PREFIX + "{}]")
    kept = f"no collector of that name now, kept for a plugin named {_cut(collector)}"
    return f"{source}: {section}: {kept}{hint}"


def _cut(name: str) -> str:
    return name if len(name) <= SHOWN_VALUE else name[:SHOWN_VALUE] + "..."


def _closest(name: str, candidates: Iterable[str], shape: str) -> str:
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {shape.format(matches[0])}?)" if matches else ""
