"""Static checks of the Debian packaging (debian/, packaging/): fast, no package build.

Building and installing the package is packaging/check-deb.sh's job (docs/debian.md).
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganeti_agent import __version__
from ganeti_agent.server import tap

REPO = Path(__file__).resolve().parents[2]
DEBIAN = REPO / "debian"
PRIVATE_DIR = "/usr/lib/ganeti-agent"
CONFFILE = "/etc/ganeti-agent/ganeti-agent.conf"


def unit_entries(section: str) -> dict[str, list[str]]:
    """Key → values of one section of the systemd unit (keys may repeat)."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in (DEBIAN / "ganeti-agent.service").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section:
            key, _, value = line.partition("=")
            entries.setdefault(key, []).append(value)
    return entries


def setup_config() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_requires() -> list[str]:
    lines = setup_config().get("options", "install_requires").splitlines()
    return [normalized(re.split(r"[<>=!~;\[ ]", line.strip())[0]) for line in lines if line.strip()]


def py3dist_overrides() -> dict[str, str]:
    """Distribution (normalized) → Debian dependency ("" when ignored) of py3dist-overrides."""
    overrides = {}
    for line in (DEBIAN / "py3dist-overrides").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, dependency = line.strip().partition(" ")
            overrides[normalized(name)] = dependency.strip()
    return overrides


def bundled() -> dict[str, str]:
    """Distribution (normalized) → the pinned requirement of bundle-requirements.txt."""
    text = (REPO / "packaging" / "bundle-requirements.txt").read_text()
    requirements = {}
    for requirement in text.replace("\\\n", " ").splitlines():
        if requirement.strip() and not requirement.startswith("#"):
            name = re.split(r"[<>=!~; ]", requirement.strip())[0]
            requirements[normalized(name)] = requirement
    return requirements


def build_depends() -> set[str]:
    control = (DEBIAN / "control").read_text()
    match = re.search(r"^Build-Depends:(.*?)^\S", control, re.M | re.S)
    assert match is not None
    return {entry.split()[0] for entry in match.group(1).split(",") if entry.strip()}


def test_exec_start_runs_the_twistd_plugin_with_the_conffile() -> None:
    service = unit_entries("Service")
    assert service["ExecStart"] == [
        "/usr/bin/twistd3 $TWISTD_ARGS --nodaemon --pidfile= ganeti-agent"
        f" --config {CONFFILE} $GANETI_AGENT_ARGS"
    ]
    assert service["Environment"] == [f"PYTHONPATH={PRIVATE_DIR}"]
    assert service["EnvironmentFile"] == ["-/etc/default/ganeti-agent"]
    assert unit_entries("Install")["WantedBy"] == ["multi-user.target"]


def test_exec_start_names_the_plugin_and_an_option_of_the_tap() -> None:
    from twisted.plugins.ganeti_agent_plugin import ganeti_agent

    assert ganeti_agent.tapname == "ganeti-agent"
    assert "config" in {parameter[0] for parameter in tap.Options.optParameters}


def test_the_unit_keeps_root_for_the_collectors() -> None:
    service = unit_entries("Service")
    for key in ("User", "DynamicUser", "CapabilityBoundingSet", "PrivateDevices"):
        assert key not in service, f"{key}= would break lvs, drbdsetup or xl"
    assert service["ProtectSystem"] == ["full"]
    assert service["NoNewPrivileges"] == ["yes"]


def test_etc_default_sets_the_variables_exec_start_uses() -> None:
    text = (DEBIAN / "ganeti-agent.default").read_text()
    assigned = set(re.findall(r"^([A-Z_]+)=", text, re.M))
    used = set(re.findall(r"\$([A-Z_]+)", unit_entries("Service")["ExecStart"][0]))
    assert used == assigned == {"TWISTD_ARGS", "GANETI_AGENT_ARGS"}


def test_the_plugin_cache_trigger() -> None:
    lines = (DEBIAN / "ganeti-agent.triggers").read_text().splitlines()
    assert "activate-noawait twisted-plugins-cache" in lines


def test_the_conffile_comes_from_etc() -> None:
    lines = (DEBIAN / "ganeti-agent.install").read_text().splitlines()
    assert "etc/ganeti-agent.conf etc/ganeti-agent/" in lines
    assert (REPO / "etc" / "ganeti-agent.conf").is_file()


def test_every_install_requirement_has_a_packaging_decision() -> None:
    overrides = py3dist_overrides()
    bundle = bundled()
    for name in install_requires():
        dependency = overrides.get(name)
        if name in bundle:
            assert dependency == "", f"{name} is bundled: list it alone in py3dist-overrides"
        else:
            assert dependency, (
                f"{name}: name its bookworm package in debian/py3dist-overrides"
                " or pin it in packaging/bundle-requirements.txt (docs/debian.md)"
            )
            assert dependency.split()[0] in build_depends(), f"{dependency} not in Build-Depends"


def test_bundled_wheels_are_pinned_by_version_and_hash() -> None:
    for name, requirement in bundled().items():
        assert re.search(r"==\d[\w.]*\s", requirement), f"{name} is not pinned: {requirement}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", requirement), f"{name} has no sha256"


def test_changelog_version_is_the_package_version() -> None:
    first = (DEBIAN / "changelog").read_text().splitlines()[0]
    match = re.match(r"ganeti-agent \(([^)]+)\) \w+; urgency=\w+$", first)
    assert match is not None, first
    assert match.group(1) == __version__
    assert (DEBIAN / "source" / "format").read_text().strip() == "3.0 (native)"


@pytest.mark.parametrize("script", ["ganeti-mon-collector", "ganeti-agent"])
def test_console_wrappers_put_the_private_dir_first(tmp_path: Path, script: str) -> None:
    dist_info = tmp_path / "usr/lib/python3.11/dist-packages/ganeti_agent-1.dist-info"
    dist_info.mkdir(parents=True)
    (tmp_path / "usr/bin").mkdir(parents=True)
    (dist_info / "entry_points.txt").write_text(
        "[console_scripts]\n"
        "ganeti-mon-collector = ganeti_agent.cli.moncollector:main\n"
        "ganeti-agent = ganeti_agent.cli.agent:main\n"
    )
    subprocess.run(
        [sys.executable, str(DEBIAN / "console-wrappers"), str(tmp_path), PRIVATE_DIR],
        check=True,
        capture_output=True,
    )
    wrapper = tmp_path / "usr/bin" / script
    text = wrapper.read_text()
    compile(text, str(wrapper), "exec")
    assert text.startswith("#!/usr/bin/python3\n")
    assert f"sys.path.insert(0, {PRIVATE_DIR!r})" in text
    module = "moncollector" if script == "ganeti-mon-collector" else "agent"
    assert f"from ganeti_agent.cli.{module} import main" in text
    assert wrapper.stat().st_mode & 0o111


def drop_in_entries(path: Path) -> dict[str, list[str]]:
    parser = configparser.ConfigParser(strict=False)
    parser.read(path)
    return {key: value.split() for key, value in parser["Unit"].items()}


def test_the_shipped_unit_starts_after_ganetis_daemons_and_conflicts_with_none() -> None:
    """Beside Ganeti by default: Ganeti's mond and confd bind first, nothing is stopped."""
    unit = unit_entries("Unit")
    after = " ".join(unit["After"]).split()
    for daemon in (
        "ganeti.service",
        "ganeti.target",
        "ganeti-mond.service",
        "ganeti-confd.service",
    ):
        assert daemon in after
    assert "Conflicts" not in unit


@pytest.mark.parametrize("daemon", ["ganeti-mond", "ganeti-confd"])
def test_each_replacement_drop_in_conflicts_with_its_daemon(daemon: str) -> None:
    path = DEBIAN / "examples" / f"replace-{daemon}.conf"
    entries = drop_in_entries(path)
    assert entries == {"conflicts": [f"{daemon}.service"], "after": [f"{daemon}.service"]}
    assert f"systemctl mask {daemon}.service" in path.read_text()
    shipped = (DEBIAN / "ganeti-agent.examples").read_text().split()
    assert "debian/examples/replace-ganeti-*.conf" in shipped


def _verify_root(tmp_path: Path) -> Path:
    """A root for ``systemd-analyze verify``: this host's units, a stub twistd3, ours."""
    host_units = Path("/lib/systemd/system")
    if not (host_units / "sysinit.target").exists():
        pytest.skip("this host has no systemd units to verify against")
    root = tmp_path / "root"
    shutil.copytree(host_units, root / "lib/systemd/system", symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    twistd3 = root / "usr/bin/twistd3"
    twistd3.write_text("#!/bin/sh\n")
    twistd3.chmod(0o755)
    units = root / "etc/systemd/system"
    (units / "ganeti-agent.service.d").mkdir(parents=True)
    shutil.copy(DEBIAN / "ganeti-agent.service", units)
    for drop_in in (DEBIAN / "examples").glob("replace-*.conf"):
        shutil.copy(drop_in, units / "ganeti-agent.service.d")
    return root


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_unit_with_its_drop_ins(tmp_path: Path) -> None:
    root = _verify_root(tmp_path)
    verified = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}",
         "/etc/systemd/system/ganeti-agent.service"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")
