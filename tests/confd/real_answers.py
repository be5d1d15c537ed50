"""Real ganeti-confd 3.0.2 answers to every request type on both sample configurations.

The queries reach every object of Ganeti's 2.16 and 3.0 samples (each node by name and
UUID, each instance, each table member through CONFIG_QUERY) plus the malformed ones
whose error strings matter. ``real_answers/<version>.json`` holds what Debian's real
daemon answered, so tests/confd/test_real_answers.py checks our answers without it.
Re-record (needs ../shared/reference/setup-ganeti.sh) with
``python -m tests.confd.real_answers``.

3.0.2 cannot load the 2.16 sample as it is ("key 'ssh_key_type' not found"): the two
keys Ganeti's cfgupgrade adds for 3.0 are added, nothing else. A third set,
``3.0-edges``, adds shapes neither sample has (see :func:`sample_config`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ganeti_agent.confd.constants import RequestType as T
from tests.confd.support import (
    INSTANCE2_UUID,
    INSTANCE3_UUID,
    KEY,
    MASTER_UUID,
    NODE3_UUID,
    load_sample,
    section8_config,
)
from tests.support import SHARED, free_port

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "real_answers"
VERSIONS = ("2.16", "3.0", "3.0-edges")
REAL_CONFD = Path("/usr/lib/ganeti/3.0/usr/sbin/ganeti-confd")
CONFD_QUERY = SHARED / "reference" / "confd-query.py"

#: Queries whose answers are errors or edge cases, on top of one per object.
MALFORMED: list[tuple[T, Any]] = [
    (T.NODE_ROLE_BYNAME, "node1"),
    (T.NODE_ROLE_BYNAME, "nosuchnode"),
    (T.NODE_ROLE_BYNAME, None),
    (T.NODE_ROLE_BYNAME, {"1": "x"}),
    (T.NODE_DRBD, {"3": [0, 2], "0": "br0", "2": ["a"]}),
    (T.NODE_PIP_BY_INSTANCE_IP, {"1": "198.51.100.11"}),
    (T.NODE_PIP_BY_INSTANCE_IP, {"1": "203.0.113.11", "0": "br100"}),
    (T.NODE_PIP_BY_INSTANCE_IP, {"2": ["198.51.100.11", "10.9.9.9", "198.51.100.12"]}),
    (T.NODE_PIP_BY_INSTANCE_IP, "x"),
    (T.CLUSTER_MASTER, {"3": [0, 1, 2]}),
    (T.CLUSTER_MASTER, "x"),
    (T.INSTANCES_IPS_LIST, "br100"),
    (T.INSTANCES_IPS_LIST, {}),
    (T.NODE_DRBD, "nosuchnode"),
    (T.NODE_INSTANCES, "nosuchnode"),
    (T.INSTANCE_DISKS, "nosuchinstance"),
    (T.INSTANCE_DISKS, INSTANCE3_UUID),
    (T.NODE_DRBD, NODE3_UUID),
    (T.CONFIG_QUERY, "/cluster/cluster_name"),
    (T.CONFIG_QUERY, f"/nodes/{MASTER_UUID}/primary_ip"),
    (T.CONFIG_QUERY, "/cluster/nonexistent"),
    (T.CONFIG_QUERY, None),
    (T.CONFIG_QUERY, ""),
]
WHOLE: list[tuple[T, Any]] = [
    (T.PING, None),
    (T.CLUSTER_MASTER, None),
    (T.NODE_PIP_LIST, None),
    (T.MC_PIP_LIST, None),
    (T.INSTANCES_IPS_LIST, None),
    (T.DATA_COLLECTORS, None),
    (T.CONFIG_QUERY, "/cluster"),
    (T.CONFIG_QUERY, "/filters"),
    (T.CONFIG_QUERY, "/version"),
]
TABLES = ("nodes", "instances", "disks", "nodegroups", "networks")


def sample_config(version: str) -> dict[str, Any]:
    """The sample as both servers answer it: spec/confd.md section 8's changes, 3.0 keys.

    ``3.0-edges`` is the 3.0 sample with shapes neither sample has: duplicate unsorted
    tags, optional fields holding null, empty state fields.
    """
    sample, _, variant = version.partition("-")
    config = section8_config(load_sample(f"cluster_config_{sample}.json"))
    config["cluster"].setdefault("ssh_key_type", "dsa")
    config["cluster"].setdefault("ssh_key_bits", 1024)
    if variant == "edges":
        _add_edges(config)
    return config


def _add_edges(config: dict[str, Any]) -> None:
    instance = config["instances"][INSTANCE2_UUID]
    instance.update(tags=["b", "a", "b"], network_port=None)
    instance["nics"][0]["network"] = None
    disk = config["disks"][instance["disks"][0]]
    disk.update(name=None, spindles=None)
    config["nodes"][NODE3_UUID].update(hv_state_static={}, disk_state_static={})
    config["cluster"]["tags"] = ["z", "y"]


def every_shape(config: dict[str, Any]) -> list[tuple[T, Any]]:
    """One query per request type and object of ``config``, then the malformed ones."""
    queries = list(WHOLE)
    for uuid, node in config["nodes"].items():
        for name in (node["name"], uuid):
            queries += [(T.NODE_ROLE_BYNAME, name), (T.NODE_DRBD, name)]
            queries.append((T.NODE_INSTANCES, name))
    for uuid, instance in config["instances"].items():
        queries += [(T.INSTANCE_DISKS, instance["name"]), (T.INSTANCE_DISKS, uuid)]
    for table in TABLES:
        queries += [(T.CONFIG_QUERY, f"/{table}/{uuid}") for uuid in config.get(table, {})]
    return queries + MALFORMED


def recorded(version: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((RECORDED / f"{version}.json").read_text())
    return loaded


def make_root(base: Path, config: dict[str, Any]) -> Path:
    """A GANETI_ROOTDIR for the real daemon: config.data, hmac.key, ssconf, run and log."""
    data = base / "var" / "lib" / "ganeti"
    for directory in (data, base / "var" / "run" / "ganeti", base / "var" / "log" / "ganeti"):
        directory.mkdir(parents=True, exist_ok=True)
    (data / "config.data").write_text(json.dumps(config))
    (data / "hmac.key").write_bytes(KEY)
    (data / "ssconf_master_candidates_ips").write_text("127.0.0.1\n")
    return base


def start_real_confd(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port(socket.SOCK_DGRAM)
    process = subprocess.Popen(
        [str(REAL_CONFD), "-f", "--no-user-checks", "-b", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "GANETI_ROOTDIR": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(1.0)
    return process, port


def ask_real(root: Path, port: int, rtype: T, query: Any) -> dict[str, Any]:
    """One answer through Ganeti's own Python client (shared/reference/confd-query.py)."""
    argv = ["/usr/bin/python3", str(CONFD_QUERY), "-p", str(port), str(root), rtype.name]
    if query is not None:
        argv.append(json.dumps(query) if isinstance(query, dict) else query)
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    reply: dict[str, Any] = json.loads(done.stdout.splitlines()[0])
    return {"status": reply["status"], "answer": reply["answer"], "serial": reply["serial"]}


def record(version: str) -> None:
    config = sample_config(version)
    with tempfile.TemporaryDirectory() as scratch:
        root = make_root(Path(scratch) / "vm", config)
        process, port = start_real_confd(root)
        try:
            rows = [
                {"type": rtype.name, "query": query, **ask_real(root, port, rtype, query)}
                for rtype, query in every_shape(config)
            ]
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
    RECORDED.mkdir(exist_ok=True)
    (RECORDED / f"{version}.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{version}: {len(rows)} answers recorded", file=sys.stderr)


if __name__ == "__main__":
    for sample in VERSIONS:
        record(sample)
