"""confd throughput: queries/s and lost replies for PING and NODE_DRBD, ours vs the real one.

Both servers answer the same generated 1,000-instance ``config.data`` with the same key
in the same run: ganeti-agent (``twistd ganeti-agent`` with its confd on a free UDP port)
and, when Debian's Ganeti 3.0.2 is installed, ``ganeti-confd``. The load generator keeps
a fixed window of signed requests in flight from one UDP socket, verifies every reply
(HMAC and salt), and counts as lost whatever got no reply within a timeout.

``python -m bench.confd`` prints the table; :func:`confd_rows` returns it for the suite.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.processes import GANETI_SBIN, SHARED, free_port, start_agent, stop_process
from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import ProtocolError, decode_reply, encode_request

KEY = b"0123456789abcdef0123456789abcdef01234567\n"
INSTANCES = 1000
NODES = 20
SAMPLE = SHARED / "fixtures" / "ganeti" / "cluster_config_3.0.json"
TEMPLATE_INSTANCE = "6c078d22-3eb6-4780-857d-81772e09eef1"
TEMPLATE_DISK = "77ced3a5-6756-49ae-8d1f-274e27664c05"
TEMPLATE_NODE = "41f9c238-173c-4120-9e41-04ad379b647a"
NAMESPACE = uuid.UUID("2f0c1d36-8a51-4d2e-9a7e-c00fd0000000")
WINDOW = 16
REPLY_TIMEOUT = 0.5


@dataclass
class LoadOutcome:
    sent: int
    answered: int
    seconds: float
    errors: int = 0

    @property
    def lost(self) -> int:
        return self.sent - self.answered

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


def udp_load(port: int, rtype: RequestType, query: str | None, seconds: float) -> LoadOutcome:
    """Keep ``WINDOW`` requests in flight to 127.0.0.1:``port`` for ``seconds``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(REPLY_TIMEOUT)
    outstanding: dict[str, float] = {}
    sent = answered = errors = 0

    def send() -> None:
        nonlocal sent
        rsalt = str(uuid.uuid4())
        sock.sendto(encode_request(KEY, rtype, query, rsalt, time.time()), ("127.0.0.1", port))
        outstanding[rsalt] = time.monotonic()
        sent += 1

    started = time.monotonic()
    deadline = started + seconds
    for _ in range(WINDOW):
        send()
    while time.monotonic() < deadline:
        try:
            datagram = sock.recv(65536)
        except TimeoutError:
            outstanding.clear()  # the whole window is lost; start a new one
            for _ in range(WINDOW):
                send()
            continue
        try:
            rsalt, reply = decode_reply(KEY, datagram)
        except ProtocolError:
            continue
        if outstanding.pop(rsalt, None) is not None:
            answered += 1
            errors += not reply.ok
            send()
    elapsed = time.monotonic() - started
    sock.settimeout(REPLY_TIMEOUT)
    while outstanding:
        try:
            rsalt, _ = decode_reply(KEY, sock.recv(65536))
        except (TimeoutError, ProtocolError):
            break
        if outstanding.pop(rsalt, None) is not None:
            answered += 1
    sock.close()
    return LoadOutcome(sent, answered, elapsed, errors)


def _id(kind: str, number: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}-{number}"))


def generate_config(instances: int = INSTANCES, nodes: int = NODES) -> dict[str, object]:
    """Ganeti's 3.0 sample grown to ``nodes`` nodes and ``instances`` DRBD instances.

    Every object keeps the sample's exact schema (DRBD children with UUIDs), so that
    ganeti-confd 3.0.2, which parses strictly, loads it too. Instance ``i`` mirrors
    its disk between nodes ``i`` and ``i + 1`` (mod ``nodes``), so each node holds about
    ``2 * instances / nodes`` minors, the NODE_DRBD answer of one node of a real cluster.
    """
    config = json.loads(SAMPLE.read_text())
    node_template = config["nodes"][TEMPLATE_NODE]
    instance_template = config["instances"][TEMPLATE_INSTANCE]
    disk_template = config["disks"][TEMPLATE_DISK]
    node_ids = [_id("node", n) for n in range(nodes)]
    config["nodes"] = {}
    for number, node_id in enumerate(node_ids):
        node = copy.deepcopy(node_template)
        node.update(uuid=node_id, name=f"node{number}.example.com", primary_ip=f"10.1.0.{number}")
        node.update(master_candidate=number < 3, serial_no=number + 1)
        config["nodes"][node_id] = node
    config["cluster"]["master_node"] = node_ids[0]
    config["instances"], config["disks"] = {}, {}
    for number in range(instances):
        primary, secondary = node_ids[number % nodes], node_ids[(number + 1) % nodes]
        disk = copy.deepcopy(disk_template)
        disk_id = _id("disk", number)
        minor = number // nodes
        disk.update(uuid=disk_id, nodes=[primary, secondary])
        disk["logical_id"] = [primary, secondary, 11000 + number, minor, minor, f"{number:040x}"]
        for index, child in enumerate(disk["children"]):
            child.update(uuid=f"{disk_id}-child{index}", nodes=[primary, secondary])
        instance = copy.deepcopy(instance_template)
        instance_id = _id("instance", number)
        instance.update(uuid=instance_id, name=f"instance{number}.example.com")
        instance.update(primary_node=primary, disks=[disk_id])
        instance["nics"][0].update(ip=f"10.2.{number >> 8}.{number & 255}", uuid=_id("nic", number))
        config["instances"][instance_id] = instance
        config["disks"][disk_id] = disk
    generated: dict[str, object] = config
    return generated


def make_root(base: Path) -> tuple[Path, str]:
    """A GANETI_ROOTDIR with the key and the generated config; returns it and a node."""
    data = base / "var" / "lib" / "ganeti"
    for directory in (data, base / "var" / "run" / "ganeti", base / "var" / "log" / "ganeti"):
        directory.mkdir(parents=True, exist_ok=True)
    (data / "hmac.key").write_bytes(KEY)
    (data / "ssconf_master_candidates_ips").write_text("127.0.0.1\n")
    (data / "config.data").write_text(json.dumps(generate_config()))
    return base, "node1.example.com"


def real_confd(root: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = GANETI_SBIN / "ganeti-confd"
    if not os.access(binary, os.X_OK):
        return None
    port = free_port(socket.SOCK_DGRAM)
    process = subprocess.Popen(
        [str(binary), "-f", "--no-user-checks", "-b", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "GANETI_ROOTDIR": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(1.5)
    return process, port


def _row(server: str, name: str, outcome: LoadOutcome) -> dict[str, object]:
    lost = 100.0 * outcome.lost / outcome.sent if outcome.sent else 0.0
    return {
        "server": server,
        "request": name,
        "queries/s": round(outcome.rate),
        "sent": outcome.sent,
        "lost": outcome.lost,
        "lost %": round(lost, 3),
        "error replies": outcome.errors,
    }


def confd_rows(quick: bool = False) -> list[dict[str, object]]:
    """One row per (server, request type), plus our/real ratios when the real one ran."""
    seconds = 1.0 if quick else 5.0
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="confd-bench-") as scratch:
        root, node = make_root(Path(scratch) / "root")
        requests = [("PING", RequestType.PING, None), ("NODE_DRBD", RequestType.NODE_DRBD, node)]
        servers: list[tuple[str, int, object]] = []
        agent = start_agent(Path(scratch) / "agent", root, confd=True)
        try:
            if agent.confd_port is None:
                raise RuntimeError("this agent has no --confd-port option")
            servers.append(("ganeti-agent", agent.confd_port, agent))
            real = real_confd(root)
            if real is not None:
                servers.append(("ganeti-confd 3.0.2", real[1], real[0]))
            rates: dict[tuple[str, str], float] = {}
            for name, rtype, query in requests:
                for server, port, _ in servers:
                    udp_load(port, rtype, query, 0.3)  # warm-up
                    outcome = udp_load(port, rtype, query, seconds)
                    rates[(server, name)] = outcome.rate
                    rows.append(_row(server, name, outcome))
            for row in rows:
                real_rate = rates.get(("ganeti-confd 3.0.2", str(row["request"])))
                own = rates[(str(row["server"]), str(row["request"]))]
                row["vs real"] = round(own / real_rate, 2) if real_rate else None
        finally:
            for _, _, process in servers:
                if isinstance(process, subprocess.Popen):
                    stop_process(process)
            agent.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 s per measurement, not 5 s")
    options = parser.parse_args(argv)
    rows = confd_rows(options.quick)
    columns = list(rows[0]) if rows else []
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))


if __name__ == "__main__":
    main()
