from __future__ import annotations

import re
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from ganeti_agent.collectors import build_collectors
from ganeti_agent.core.framework import AgentContext, Enablement
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.settings import (
    COLLECTOR_OPTIONS,
    MAX_WARNINGS,
    SECTION_KEYS,
    SettingsError,
    load_settings,
    parse_settings,
    unknown_entries,
)
from tests.support import REPO, FakeRunner


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


def test_an_interval_in_the_file_is_marked_as_given_there() -> None:
    """Only then does it beat the cluster's data-collector interval."""
    assert not load_settings(str(REPO / "etc" / "ganeti-agent.conf")).collector("x").interval_set
    own = parse_settings("[collector:cpu-avg-load]\ninterval = 2\n")
    assert own.collector("cpu-avg-load").interval_set
    assert not own.collector("xen-cpu-avg-load").interval_set
    common = parse_settings("[collectors]\ninterval = 2\n[collector:lv]\ntimeout = 3\n")
    assert common.collector("lv").interval_set and common.collector("drbd").interval_set


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


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ("[agent]\nport = abc\n", "[agent] port", "a port number from 0 to 65535"),
        ("[agent]\nport = -1\n", "[agent] port", "a port number from 0 to 65535"),
        ("[confd]\nport = 65536\n", "[confd] port", "a port number from 0 to 65535"),
        ("[confd]\nenabled = perhaps\n", "[confd] enabled", "yes or no"),
        ("[collectors]\ncache = -1\n", "[collectors] cache", "a number of seconds from 0 to 86400"),
        ("[collector:cpu-avg-load]\nwindow = inf\n", "[collector:cpu-avg-load] window",
         "greater than 0"),
        ("[collector:cpu-avg-load]\nwindow = nan\n", "[collector:cpu-avg-load] window",
         "greater than 0"),
        ("[collector:xen-cpu-avg-load]\nforget-after = soon\n",
         "[collector:xen-cpu-avg-load] forget-after", "from 0 to 86400"),
        ("[collector:cpu-avg-load]\nwindow = 86401\n", "[collector:cpu-avg-load] window",
         "greater than 0 and at most 86400"),
        ("[collector:inst-status-xen]\ntoolstack = xq\n", "[collector:inst-status-xen] toolstack",
         "auto, xl or xm"),
        ("[collector:daemon-noded]\nrequired = sometimes\n", "[collector:daemon-noded] required",
         "auto, yes or no"),
    ],
)  # fmt: skip
def test_every_typed_key_is_checked_when_the_file_is_read(
    text: str, where: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(text, "agent.conf")
    message = str(raised.value)
    assert message.startswith(f"agent.conf: {where}: expected ") and expected in message
    assert "\n" not in message


def test_a_syntax_error_is_one_line() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("[agent]\nport = 1\n  garbage\n[x\n", "agent.conf")
    assert str(raised.value).startswith("agent.conf: ") and "\n" not in str(raised.value)


def test_values_keep_their_synonyms_and_defaults() -> None:
    settings = parse_settings("[agent]\nport = 28155\n[collector:lv]\nenabled = on\ncache = 0\n")
    assert settings.get_port("agent", "port", 1815) == 28155
    assert settings.get_port("confd", "port", 1814) == 1814
    assert (settings.collector("lv").enabled, settings.collector("lv").cache) == (
        Enablement.YES,
        0.0,
    )


def test_unknown_sections_and_keys_are_named_with_the_closest_known_one() -> None:
    settings = parse_settings(
        "[agnet]\nport = 1\n[agent]\nprot = 2\nport = 3\n[collector:nosuch]\n[collector:diskstat]\n"
        "[collector:my-plugin]\ninterval = 3\nwindow = 5\n[collector:lv]\nlvs = /sbin/lvs\n",
        "agent.conf",
    )
    assert unknown_entries(settings, ["my-plugin"]) == [
        "agent.conf: [agnet]: unknown section, ignored (did you mean [agent]?)",
        "agent.conf: [agent] prot: unknown key, ignored (did you mean port?)",
        "agent.conf: [collector:nosuch]: no collector of that name now, kept for a plugin"
        " named nosuch",
        "agent.conf: [collector:diskstat]: no collector of that name now, kept for a plugin"
        " named diskstat (did you mean [collector:diskstats]?)",
        "agent.conf: [collector:my-plugin] window: unknown key, ignored",
    ]


def _documented(path: Path) -> str:
    """The shipped file with every ``# key = value`` line uncommented."""
    lines = path.read_text().splitlines()
    return "\n".join(re.sub(r"^# ([a-z-]+ =)", r"\1", line) for line in lines) + "\n"


def test_the_shipped_file_documents_exactly_the_declared_keys() -> None:
    shipped = parse_settings(_documented(REPO / "etc" / "ganeti-agent.conf"), "shipped")
    assert unknown_entries(shipped) == []
    for name, values in shipped.sections.items():
        declared = SECTION_KEYS.get(name) or COLLECTOR_OPTIONS[name.removeprefix("collector:")]
        assert set(declared) <= set(values), name


def test_every_option_a_collector_reads_is_declared() -> None:
    """A key read but not declared would be warned about as unknown, and never checked."""
    declared = {key for options in COLLECTOR_OPTIONS.values() for key in options}
    sources = (REPO / "ganeti_agent" / "collectors").glob("*.py")
    read = {
        key
        for source in sources
        for key in re.findall(r"\.options?\(\s*\"([a-z-]+)\"", source.read_text())
    }
    assert read and read <= declared, read - declared


def test_the_declared_collectors_are_the_built_in_ones(tmp_path: Path) -> None:
    """Besides "plugins" (a settings section), only "confd" needs the agent's confd server."""
    settings = parse_settings(f"[collector:plugins]\ndirectory = {tmp_path}\n")
    context = AgentContext(
        clock=Clock(),
        runner=FakeRunner(),
        paths=GanetiPaths(data_dir=str(tmp_path)),
        hostname="node1",
        settings=settings.collector,
    )
    built = {collector.name for collector in build_collectors(context)}
    assert built | {"plugins", "confd"} == set(COLLECTOR_OPTIONS)


def test_a_long_bad_value_is_cut_in_the_message() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings("[agent]\nport = " + "9" * 100_000 + "\n", "agent.conf")
    assert str(raised.value) == (
        f"agent.conf: [agent] port: expected a port number from 0 to 65535, got '{'9' * 40}'"
        "... (100000 characters)"
    )


def test_unknown_entries_are_bounded_in_number_and_length() -> None:
    keys = "".join(f"key{number} = 1\n" for number in range(MAX_WARNINGS + 5))
    settings = parse_settings(f"[agent]\n{keys}[{'x' * 1000}]\n", "agent.conf")
    warnings = unknown_entries(settings)
    assert len(warnings) == MAX_WARNINGS + 1
    assert warnings[-1] == "agent.conf: 6 more unknown sections or keys"
    long_section = unknown_entries(parse_settings(f"[{'x' * 1000}]\n", "agent.conf"))
    assert long_section == [f"agent.conf: [{'x' * 40}...]: unknown section, ignored"]


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "agent.conf"
    config.write_bytes(b"\xff\xfe[agent]\n")
    with pytest.raises(SettingsError, match=f"cannot read configuration {config}: 'utf-8' codec"):
        load_settings(str(config))
