"""The agent's configuration file: INI sections, read once at start-up.

``[agent]`` holds listening and paths, ``[collectors]`` defaults for every collector,
``[collector:NAME]`` one collector's knobs and own options, and other sections (such
as ``[confd]``) belong to the subsystem of that name. Command-line options win.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field

from ganeti_agent.framework import CollectorSettings, Enablement

COLLECTOR_PREFIX = "collector:"
COMMON_KEYS = ("enabled", "interval", "timeout", "cache")


class SettingsError(ValueError):
    """The configuration file is unreadable or has an invalid value; names file and key."""


@dataclass(frozen=True)
class AgentSettings:
    """Everything the configuration file can say, with the defaults of a plain node."""

    sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    collector_defaults: CollectorSettings = field(default_factory=CollectorSettings)
    collectors: Mapping[str, CollectorSettings] = field(default_factory=dict)

    def section(self, name: str) -> Mapping[str, str]:
        return self.sections.get(name, {})

    def get(self, section: str, key: str, default: str) -> str:
        return self.section(section).get(key, default)

    def get_bool(self, section: str, key: str, default: bool) -> bool:
        raw = self.section(section).get(key)
        return default if raw is None else parse_bool(raw, f"[{section}] {key}")

    def collector(self, name: str) -> CollectorSettings:
        return self.collectors.get(name, self.collector_defaults)


def parse_bool(raw: str, where: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    raise SettingsError(f"{where}: expected yes or no, got {raw!r}")


def _positive_float(raw: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{where}: expected a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{where}: must be greater than 0, got {raw!r}")
    return value


def _enablement(raw: str, where: str) -> Enablement:
    value = raw.strip().lower()
    if value == "auto":
        return Enablement.AUTO
    return Enablement.YES if parse_bool(value, where) else Enablement.NO


def _collector_settings(
    values: Mapping[str, str], base: CollectorSettings, where: str
) -> CollectorSettings:
    options = {k: v for k, v in values.items() if k not in COMMON_KEYS}
    return CollectorSettings(
        enabled=_enablement(values["enabled"], f"{where} enabled")
        if "enabled" in values
        else base.enabled,
        interval=_positive_float(values["interval"], f"{where} interval")
        if "interval" in values
        else base.interval,
        timeout=_positive_float(values["timeout"], f"{where} timeout")
        if "timeout" in values
        else base.timeout,
        cache=float(values["cache"]) if "cache" in values else base.cache,
        options={**base.options, **options},
    )


def parse_settings(text: str, source: str = "<config>") -> AgentSettings:
    """Parse configuration text; errors name the file and the offending key."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise SettingsError(f"{source}: {exc}") from None
    sections = {name: dict(parser.items(name)) for name in parser.sections()}
    defaults = _collector_settings(
        sections.get("collectors", {}), CollectorSettings(), f"{source} [collectors]"
    )
    collectors = {
        name[len(COLLECTOR_PREFIX) :]: _collector_settings(values, defaults, f"{source} [{name}]")
        for name, values in sections.items()
        if name.startswith(COLLECTOR_PREFIX)
    }
    return AgentSettings(sections, defaults, collectors)


def load_settings(path: str | None) -> AgentSettings:
    """Read the configuration file; no file means all defaults."""
    if path is None:
        return AgentSettings()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise SettingsError(f"cannot read configuration {path}: {exc.strerror or exc}") from None
    return parse_settings(text, path)
