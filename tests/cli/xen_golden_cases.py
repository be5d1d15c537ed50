"""The golden cases of ``inst-status-xen``: how a case directory becomes a node to run on.

Each ``tests/golden/inst-status-xen/<case>/case.json`` names the node's primary instances
(what confd answers), the outputs the stand-in ``xm`` replays (inline text, or a shared
fixture with optional replacements), and the reason files. ``expected.json`` and
``expected.rc`` are what the real Ganeti 3.0.2 ``mon-collector`` printed for it
(recorded by ``record.py`` beside them).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "inst-status-xen"
STANDIN = Path(__file__).resolve().parents[1] / "standins" / "xen-toolstack.sh"
HMAC_KEY = "0123456789abcdef0123456789abcdef01234567\n"


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    spec: dict[str, Any]

    @property
    def instances(self) -> list[dict[str, Any]]:
        return list(self.spec["instances"])

    @property
    def fixtures_used(self) -> set[str]:
        return {source["fixture"] for source in self.spec["replay"].values() if "fixture" in source}

    def expected(self) -> tuple[str, int]:
        stdout = (self.directory / "expected.json").read_text(encoding="utf-8")
        code = int((self.directory / "expected.rc").read_text().strip())
        return stdout, code


def load_cases() -> list[Case]:
    cases = []
    for directory in sorted(GOLDEN_DIR.iterdir()):
        spec_file = directory / "case.json"
        if spec_file.is_file():
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
            cases.append(Case(directory.name, directory, spec))
    return cases


def replay_text(source: dict[str, Any], fixtures: Path) -> str:
    if "text" in source:
        return str(source["text"])
    text: str = (fixtures / source["fixture"]).read_text(encoding="utf-8")
    for old, new in source.get("replace", []):
        if old not in text:
            raise ValueError(f"{source['fixture']} has no {old!r} to replace")
        text = text.replace(old, new)
    return text


def install_standin(bin_dir: Path, replay_dir: Path, name: str) -> Path:
    """The stand-in script as ``bin_dir/name``, replaying from ``replay_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    replay_dir.mkdir(parents=True, exist_ok=True)
    script = STANDIN.read_text(encoding="utf-8").replace("@REPLAY_DIR@", str(replay_dir))
    target = bin_dir / name
    target.write_text(script, encoding="utf-8")
    target.chmod(0o755)
    return target


def materialise(case: Case, work: Path, fixtures: Path) -> tuple[Path, Path]:
    """Write the case's stand-in ``xm``, replay files and reason files under ``work``.

    Returns ``(bin_dir, ganeti_root)``: put ``bin_dir`` first on PATH and use
    ``ganeti_root`` as ``GANETI_ROOTDIR``.
    """
    bin_dir, replay_dir, root = work / "bin", work / "replay", work / "root"
    bin_dir.mkdir(parents=True, exist_ok=True)
    if case.spec.get("path_has_xm", True):
        install_standin(bin_dir, replay_dir, "xm")
    replay_dir.mkdir(parents=True, exist_ok=True)
    for file_name, source in case.spec["replay"].items():
        (replay_dir / file_name).write_text(replay_text(source, fixtures), encoding="utf-8")
    reason_dir = root / "var" / "run" / "ganeti" / "instance-reason"
    reason_dir.mkdir(parents=True, exist_ok=True)
    for instance, text in case.spec.get("reasons", {}).items():
        (reason_dir / instance).write_text(text, encoding="utf-8")
    data_dir = root / "var" / "lib" / "ganeti"
    data_dir.mkdir(parents=True, exist_ok=True)
    key = data_dir / "hmac.key"
    if not key.exists():
        key.write_text(HMAC_KEY, encoding="ascii")
    return bin_dir, root


def confd_order(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Primary instances as confd lists them: sorted by UUID."""
    return sorted(instances, key=lambda instance: str(instance["uuid"]))


def reset_counters(work: Path) -> None:
    replay_dir = work / "replay"
    if replay_dir.is_dir():
        for entry in replay_dir.iterdir():
            if entry.name.startswith(".count."):
                os.unlink(entry)
