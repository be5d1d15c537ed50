"""Interoperability with Debian's Ganeti 3.0.2 (ganeti-confd and ganeti.confd.client).

Skipped unless the packages are installed (``../shared/reference/setup-ganeti.sh``);
CI need not install them. The root is built here from Ganeti's sample configuration
exactly as spec/confd.md section 8 describes, so both servers answer the same file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor as global_reactor
from twisted.internet.utils import getProcessOutputAndValue

from ganeti_agent.confd.answers import ConfigStatus, answer
from ganeti_agent.confd.client import ConfdClient, QueryResult
from ganeti_agent.confd.config import build_config
from ganeti_agent.confd.constants import RequestType as T
from ganeti_agent.confd.protocol import Request, parse_query
from ganeti_agent.confd.server import ConfdServer
from tests.confd.support import (
    INSTANCE3_UUID,
    KEY,
    MASTER_UUID,
    NODE3_UUID,
    inline_callbacks,
    load_sample,
    section8_config,
)
from tests.support import SHARED, shared_missing_reason

reactor: Any = global_reactor
CONFD = Path("/usr/lib/ganeti/3.0/usr/sbin/ganeti-confd")
PYTHON_GANETI = Path("/usr/share/ganeti/3.0/ganeti/confd/client.py")
CONFD_QUERY = SHARED / "reference" / "confd-query.py"

pytestmark = pytest.mark.skipif(
    not CONFD.exists() or not PYTHON_GANETI.exists(),
    reason="Debian's ganeti-3.0/ganeti-haskell-3.0 are not installed "
    "(../shared/reference/setup-ganeti.sh installs them)",
)

QUERIES: list[tuple[T, Any]] = [
    (T.PING, None),
    (T.NODE_ROLE_BYNAME, "node1.example.com"),
    (T.NODE_ROLE_BYNAME, "node1"),
    (T.NODE_ROLE_BYNAME, "node5.example.com"),
    (T.NODE_ROLE_BYNAME, "nosuchnode"),
    (T.NODE_ROLE_BYNAME, None),
    (T.NODE_ROLE_BYNAME, {"1": "x"}),
    (T.NODE_DRBD, {"3": [0, 2], "0": "br0", "2": ["a"]}),
    (T.NODE_PIP_BY_INSTANCE_IP, {"1": "198.51.100.11"}),
    (T.NODE_PIP_BY_INSTANCE_IP, {"1": "203.0.113.11", "0": "br100"}),
    (T.NODE_PIP_BY_INSTANCE_IP, {"2": ["198.51.100.11", "10.9.9.9", "198.51.100.12"]}),
    (T.NODE_PIP_BY_INSTANCE_IP, "x"),
    (T.CLUSTER_MASTER, None),
    (T.CLUSTER_MASTER, {"3": [0, 1, 2]}),
    (T.CLUSTER_MASTER, "x"),
    (T.NODE_PIP_LIST, None),
    (T.MC_PIP_LIST, None),
    (T.INSTANCES_IPS_LIST, None),
    (T.INSTANCES_IPS_LIST, "br100"),
    (T.INSTANCES_IPS_LIST, {}),
    (T.NODE_DRBD, "node1.example.com"),
    (T.NODE_DRBD, NODE3_UUID),
    (T.NODE_DRBD, "nosuchnode"),
    (T.NODE_INSTANCES, "node3.example.com"),
    (T.NODE_INSTANCES, "nosuchnode"),
    (T.INSTANCE_DISKS, "instance1.example.com"),
    (T.INSTANCE_DISKS, INSTANCE3_UUID),
    (T.INSTANCE_DISKS, "nosuchinstance"),
    (T.CONFIG_QUERY, "/cluster/cluster_name"),
    (T.CONFIG_QUERY, f"/nodes/{MASTER_UUID}/primary_ip"),
    (T.CONFIG_QUERY, "/cluster/nonexistent"),
    (T.CONFIG_QUERY, None),
    (T.DATA_COLLECTORS, None),
]


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("interop") / "vm"
    data = base / "var" / "lib" / "ganeti"
    for directory in (data, base / "var" / "run" / "ganeti", base / "var" / "log" / "ganeti"):
        directory.mkdir(parents=True)
    (data / "config.data").write_text(
        json.dumps(section8_config(load_sample("cluster_config_3.0.json")))
    )
    (data / "hmac.key").write_bytes(KEY)
    (data / "ssconf_master_candidates_ips").write_text("127.0.0.1\n")
    return base


@pytest.fixture(scope="module")
def real_confd(root: Path) -> Iterator[int]:
    port = free_udp_port()
    process = subprocess.Popen(
        [str(CONFD), "-f", "--no-user-checks", "-b", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "GANETI_ROOTDIR": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(1.0)
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(10)


@pytest.fixture
def our_confd(root: Path) -> Iterator[int]:
    config = build_config(json.loads((root / "var/lib/ganeti/config.data").read_text()))

    class Source:
        key: bytes | None = KEY
        status = ConfigStatus(config)

    listening = reactor.listenUDP(0, ConfdServer(Source()), interface="127.0.0.1")
    yield listening.getHost().port
    listening.stopListening()


def comparable(rtype: T, answer: Any) -> Any:
    """Objects the real daemon re-serializes are compared by the members that matter."""
    if rtype is T.INSTANCE_DISKS and isinstance(answer, list):
        return [
            (d["uuid"], d["dev_type"], d["logical_id"], d["iv_name"], d["size"]) for d in answer
        ]
    if rtype is T.NODE_INSTANCES and isinstance(answer, list):
        return [
            [(i["uuid"], i["name"], i["primary_node"], i["disks"]) for i in group]
            for group in answer
        ]
    return answer


@inline_callbacks
def test_same_answers_as_real_confd(real_confd: int, our_confd: int) -> Generator[Any, Any, None]:
    differences = []
    for rtype, query in QUERIES:
        real: QueryResult = yield ConfdClient(reactor, KEY, ["127.0.0.1"], real_confd, 5).query(
            rtype, query
        )
        ours: QueryResult = yield ConfdClient(reactor, KEY, ["127.0.0.1"], our_confd, 5).query(
            rtype, query
        )
        assert real.best is not None, f"real confd did not answer {rtype.name} {query!r}"
        assert ours.best is not None
        expected = (real.best.status, comparable(rtype, real.best.answer), real.best.serial)
        got = (ours.best.status, comparable(rtype, ours.best.answer), ours.best.serial)
        if expected != got:
            differences.append((rtype.name, query, expected, got))
    assert differences == []


@pytest.mark.skipif(
    not CONFD_QUERY.exists(), reason=shared_missing_reason("reference/confd-query.py")
)
@inline_callbacks
def test_ganeti_python_client_against_our_server(
    root: Path, our_confd: int
) -> Generator[Any, Any, None]:
    config = build_config(json.loads((root / "var/lib/ganeti/config.data").read_text()))
    for rtype, query in QUERIES:
        if rtype is T.NODE_INSTANCES:
            continue  # not in CONFD_REQS: Ganeti's Python client refuses to send it
        argv = [str(CONFD_QUERY), "-p", str(our_confd), "-t", "5", str(root), rtype.name]
        if query is not None:
            argv.append(json.dumps(query) if isinstance(query, dict) else query)
        out, err, code = yield getProcessOutputAndValue(
            "/usr/bin/python3", argv, env={"PATH": "/usr/bin:/bin"}
        )
        assert code == 0, (rtype.name, query, err.decode())
        reply = json.loads(out.decode().splitlines()[0])
        expected = answer(ConfigStatus(config), Request(rtype, parse_query(query), "s"))
        assert reply["server"] == f"127.0.0.1:{our_confd}"
        assert (reply["status"], reply["answer"], reply["serial"]) == (
            expected.status,
            expected.answer,
            expected.serial,
        )
