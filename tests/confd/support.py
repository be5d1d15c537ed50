"""Helpers of the confd tests: a typed pytest-twisted decorator and the shared key."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

import pytest_twisted

from tests.support import shared_fixture

KEY = b"0123456789abcdef0123456789abcdef01234567\n"

F = TypeVar("F", bound=Callable[..., Any])


def inline_callbacks(test: F) -> F:
    """pytest-twisted's ``inlineCallbacks``, which has no type hints, for mypy --strict."""
    return cast(F, pytest_twisted.inlineCallbacks(test))


THIS_NODE = "0d7e1f5c-1111-4000-8000-00000000a001"
MASTER_UUID = "9a12d554-75c0-4cb1-8064-103365145db0"
NODE3_UUID = "41f9c238-173c-4120-9e41-04ad379b647a"
INSTANCE1_UUID = "6c078d22-3eb6-4780-857d-81772e09eef1"
INSTANCE2_UUID = "8fde9f6d-e1f1-4850-9e9c-154966f622f5"
INSTANCE3_UUID = "4e091bdc-e205-4ed7-8a47-0c9130a6619f"

# (uuid, name, primary ip, master candidate, drained, offline, serial)
_EXTRA_NODES = (
    (THIS_NODE, "vm", "127.0.0.1", True, False, False, 5),
    (
        "0d7e1f5c-4444-4000-8000-00000000a004",
        "node4.example.com",
        "192.0.2.85",
        False,
        True,
        False,
        3,
    ),
    (
        "0d7e1f5c-5555-4000-8000-00000000a005",
        "node5.example.com",
        "192.0.2.86",
        False,
        False,
        True,
        4,
    ),
    (
        "0d7e1f5c-6666-4000-8000-00000000a006",
        "node6.example.com",
        "192.0.2.88",
        False,
        False,
        False,
        1,
    ),
)


def section8_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The configuration spec/confd.md section 8 was recorded with, made from Ganeti's sample.

    Written from the spec's description: DRBD children get UUIDs, four nodes are added
    (this host "vm", drained, offline, regular) and instances 1 and 2 get NIC addresses.
    """
    config = copy.deepcopy(raw)
    for uuid, disk in config["disks"].items():
        for number, child in enumerate(disk.get("children") or []):
            child.setdefault("uuid", f"{uuid}-child{number}")
    template = config["nodes"][NODE3_UUID]
    for uuid, name, ip, candidate, drained, offline, serial in _EXTRA_NODES:
        node = copy.deepcopy(template)
        node.update(
            uuid=uuid,
            name=name,
            primary_ip=ip,
            master_candidate=candidate,
            drained=drained,
            offline=offline,
            serial_no=serial,
        )
        config["nodes"][uuid] = node
    instance1 = config["instances"][INSTANCE1_UUID]
    instance1["nics"][0]["ip"] = "198.51.100.11"
    second = copy.deepcopy(instance1["nics"][0])
    second.update(ip="203.0.113.11", nicparams={"link": "br100"}, mac="aa:bb:cc:b2:6e:0c")
    instance1["nics"].append(second)
    config["instances"][INSTANCE2_UUID]["nics"][0]["ip"] = "198.51.100.12"
    return config


def load_sample(name: str) -> dict[str, Any]:
    """A Ganeti sample configuration from ../shared, or skip saying why."""
    path = shared_fixture(name)
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded
