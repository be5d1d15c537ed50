"""What is broken and which opcodes repair it (``detectBroken``), and how jobs are encoded.

The rules (a node is "offline" as htools sees it: offline, drained or not
vm_capable):

- DRBD, both nodes offline: ``reinstall`` (recreate the disks with the
  ``hail`` iallocator, then reinstall);
- DRBD, primary offline: ``failover``;
- DRBD, secondary offline: ``fix-storage`` (replace the secondary, ``hail``);
- plain, its node offline: ``reinstall``;
- any other disk template: nothing (Ganeti has no rule for them).

Opcodes are ordered dicts whose keys come in the order Ganeti's JSON has
them; ``encode`` writes them as Haskell's Text.JSON does (compact, doubles
as Haskell shows them), so the bytes on the wire are Ganeti's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ganeti_agent.core.jsontypes import JSONObject
from ganeti_agent.harep.tags import RepairType
from ganeti_agent.htools.hsformat import show_double

Opcode = JSONObject
DEFAULT_SHUTDOWN_TIMEOUT = 120
IALLOCATOR = "hail"


@dataclass(frozen=True)
class Repair:
    kind: RepairType
    opcodes: tuple[Opcode, ...]


def recreate_and_reinstall(name: str) -> tuple[Opcode, ...]:
    return (
        {
            "OP_ID": "OP_INSTANCE_RECREATE_DISKS",
            "instance_name": name,
            "disks": [],
            "nodes": [],
            "iallocator": IALLOCATOR,
        },
        {"OP_ID": "OP_INSTANCE_REINSTALL", "instance_name": name, "force_variant": False},
    )


def failover(name: str) -> tuple[Opcode, ...]:
    return (
        {
            "OP_ID": "OP_INSTANCE_FAILOVER",
            "instance_name": name,
            "shutdown_timeout": DEFAULT_SHUTDOWN_TIMEOUT,
            "ignore_consistency": False,
            "ignore_ipolicy": False,
            "cleanup": False,
        },
    )


def replace_secondary(name: str) -> tuple[Opcode, ...]:
    return (
        {
            "OP_ID": "OP_INSTANCE_REPLACE_DISKS",
            "instance_name": name,
            "early_release": False,
            "ignore_ipolicy": False,
            "mode": "replace_new_secondary",
            "disks": [],
            "iallocator": IALLOCATOR,
        },
    )


def detect_broken(
    name: str, disk_template: str, primary_offline: bool, secondary_offline: bool
) -> Repair | None:
    """The repair an instance needs, or None."""
    if disk_template == "drbd":
        if primary_offline and secondary_offline:
            return Repair(RepairType.REINSTALL, recreate_and_reinstall(name))
        if primary_offline:
            return Repair(RepairType.FAILOVER, failover(name))
        if secondary_offline:
            return Repair(RepairType.FIX_STORAGE, replace_secondary(name))
        return None
    if disk_template == "plain" and primary_offline:
        return Repair(RepairType.REINSTALL, recreate_and_reinstall(name))
    return None


def delay_opcode(seconds: float) -> Opcode:
    """The ``OP_TEST_DELAY`` of ``--job-delay``: lets the tag job pass before the repair locks."""
    return {
        "OP_ID": "OP_TEST_DELAY",
        "duration": seconds,
        "on_master": True,
        "on_nodes": [],
        "repeat": 0,
        "interruptible": False,
        "no_locks": False,
    }


def tags_set(name: str, tags: Sequence[str]) -> Opcode:
    return {"OP_ID": "OP_TAGS_SET", "kind": "instance", "tags": [*tags], "name": name}


def tags_del(name: str, tags: Sequence[str]) -> Opcode:
    return {"OP_ID": "OP_TAGS_DEL", "kind": "instance", "tags": [*tags], "name": name}


def annotate(opcode: Opcode, comment: str, reason: str, nanoseconds: int) -> Opcode:
    """The opcode with harep's meta parameters (``annotateOpCode``) in front."""
    return {
        "priority": 0,
        "depends": None,
        "comment": comment,
        "reason": [["harep", reason, nanoseconds]],
        **opcode,
    }


def _show_number(value: float) -> str:
    """Text.JSON's rational: a whole number without a fraction, else Haskell's ``show``."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return show_double(value)


def encode(value: object) -> str:
    """Compact JSON as Haskell's Text.JSON writes it (UTF-8 text, doubles as Haskell shows).

    ``value`` is what ``json.dumps`` takes (tuples as arrays), as a LUXI call's arguments are.
    """
    if isinstance(value, float):
        return _show_number(value)
    if isinstance(value, dict):
        items = (f"{encode(key)}:{encode(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)
