"""Synthetic ``config.data`` files of any size, grown from Ganeti's own 3.0 sample.

Every generated instance has one DRBD disk (with its two LV children) between two of
the sample's nodes and a NIC with an IP, so the confd indexes, NODE_DRBD and
NODE_INSTANCES have as much to do per instance as on a real DRBD cluster.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from bench.processes import SHARED

SAMPLE = SHARED / "fixtures" / "ganeti" / "cluster_config_3.0.json"
NAMESPACE = uuid.UUID("6b1c3ab0-7c1d-4e3a-9a55-beec00000000")


def _uuid(kind: str, number: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}-{number}"))


def _drbd_disk(number: int, primary: str, secondary: str, instance: str) -> dict[str, Any]:
    minor = number % 65536
    disk_uuid = _uuid("disk", number)
    children = [
        {"dev_type": "plain", "logical_id": ["xenvg", f"{instance}.disk0_{part}"],
         "nodes": [primary, secondary], "params": {}, "serial_no": 1, "size": size,
         "uuid": f"{disk_uuid}-child{index}", "ctime": 0.0, "mtime": 0.0}
        for index, (part, size) in enumerate((("data", 10240), ("meta", 128)))
    ]  # fmt: skip
    return {
        "children": children, "ctime": 0.0, "mtime": 0.0, "dev_type": "drbd",
        "iv_name": "disk/0", "mode": "rw", "nodes": [primary, secondary], "params": {},
        "serial_no": 1, "size": 10240, "uuid": disk_uuid,
        "logical_id": [primary, secondary, 11000 + number, minor, minor, f"secret{number}"],
    }  # fmt: skip


def grow(sample: dict[str, Any], instances: int) -> dict[str, Any]:
    """The sample with its instances replaced by ``instances`` DRBD instances."""
    config = copy.deepcopy(sample)
    template = next(iter(sample["instances"].values()))
    nodes = sorted(sample["nodes"])
    config["instances"] = {}
    config["disks"] = {}
    for number in range(instances):
        primary = nodes[number % len(nodes)]
        secondary = nodes[(number + 1) % len(nodes)]
        instance_uuid = _uuid("instance", number)
        disk = _drbd_disk(number, primary, secondary, instance_uuid)
        instance = copy.deepcopy(template)
        instance.update(
            uuid=instance_uuid, name=f"inst{number}.example.com", primary_node=primary,
            disks=[disk["uuid"]], disk_template="drbd",
            nics=[{"mac": f"aa:00:{number >> 16 & 255:02x}:{number >> 8 & 255:02x}:"
                   f"{number & 255:02x}:01", "ip": f"10.{number >> 16 & 255}."
                   f"{number >> 8 & 255}.{number & 255}", "nicparams": {},
                   "uuid": _uuid("nic", number)}],
        )  # fmt: skip
        config["instances"][instance_uuid] = instance
        config["disks"][disk["uuid"]] = disk
    config["serial_no"] = int(sample.get("serial_no", 1)) + instances
    return config


def write_config(path: Path, instances: int, sample: Path = SAMPLE) -> int:
    """Write a grown config.data to ``path``; returns its size in bytes."""
    data = json.dumps(grow(json.loads(sample.read_text()), instances)).encode()
    path.write_bytes(data)
    return len(data)


def busiest_node(path: Path) -> str:
    """The name of the node with the most DRBD minors in a generated config."""
    config = json.loads(path.read_text())
    first = sorted(config["nodes"])[0]
    return str(config["nodes"][first]["name"])
