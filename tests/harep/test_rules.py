"""What is broken, what repairs it, and the jobs' bytes (as Ganeti's Text.JSON writes them)."""

from __future__ import annotations

import pytest

from ganeti_agent.harep.rules import delay_opcode, detect_broken, encode
from ganeti_agent.harep.tags import RepairType


@pytest.mark.parametrize(
    ("template", "primary_off", "secondary_off", "kind", "ops"),
    [
        ("drbd", True, True, RepairType.REINSTALL,
         ["OP_INSTANCE_RECREATE_DISKS", "OP_INSTANCE_REINSTALL"]),
        ("drbd", True, False, RepairType.FAILOVER, ["OP_INSTANCE_FAILOVER"]),
        ("drbd", False, True, RepairType.FIX_STORAGE, ["OP_INSTANCE_REPLACE_DISKS"]),
        ("plain", True, False, RepairType.REINSTALL,
         ["OP_INSTANCE_RECREATE_DISKS", "OP_INSTANCE_REINSTALL"]),
    ],
)  # fmt: skip
def test_rules(
    template: str, primary_off: bool, secondary_off: bool, kind: RepairType, ops: list[str]
) -> None:
    repair = detect_broken("i", template, primary_off, secondary_off)
    assert repair is not None
    assert repair.kind is kind
    assert [op["OP_ID"] for op in repair.opcodes] == ops


@pytest.mark.parametrize(
    ("template", "primary_off"),
    [("drbd", False), ("plain", False), ("diskless", True), ("file", True), ("rbd", True)],
)
def test_nothing_to_repair(template: str, primary_off: bool) -> None:
    assert detect_broken("i", template, primary_off, False) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10.0, "10"), (0.05, "5.0e-2"), (1.5, "1.5"), (12345678.5, "1.23456785e7")],
)
def delay_opcodes_are_written_as_haskell_shows_them(seconds: float, text: str) -> None:
    assert f'"duration":{text},' in encode(delay_opcode(seconds))


def test_strings_are_utf8_with_json_escapes() -> None:
    assert encode(['h\u00e9 "x"\ty\\z\x7f']) == '["h\u00e9 \\"x\\"\\ty\\\\z\x7f"]'
