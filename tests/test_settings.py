from __future__ import annotations

from pathlib import Path

import pytest

from ganeti_agent.framework import Enablement
from ganeti_agent.settings import SettingsError, load_settings, parse_settings
from tests.support import REPO


def test_shipped_configuration_is_all_defaults() -> None:
    settings = load_settings(str(REPO / "etc" / "ganeti-agent.conf"))
    assert settings.get("agent", "port", "1815") == "1815"
    assert settings.collector("diskstats").enabled is Enablement.AUTO
    assert settings.collector("anything").timeout == 10.0


def test_collector_sections_inherit_the_defaults() -> None:
    settings = parse_settings(
        "[collectors]\ntimeout = 3\n[collector:lv]\nenabled = no\nlvs-extra-args = --x\n"
    )
    lv = settings.collector("lv")
    assert (lv.enabled, lv.timeout, lv.option("lvs-extra-args", "")) == (Enablement.NO, 3.0, "--x")
    assert settings.collector("drbd").timeout == 3.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[collectors]\ntimeout = soon\n", "timeout: expected a number"),
        ("[collectors]\ninterval = 0\n", "expected a number of seconds greater than 0"),
        ("[collector:x]\nenabled = maybe\n", "expected auto, yes or no"),
        ("no section\n", "File contains no section headers"),
    ],
)
def test_invalid_values_name_file_and_key(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_settings(text, "agent.conf")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read configuration"):
        load_settings(str(tmp_path / "missing.conf"))
