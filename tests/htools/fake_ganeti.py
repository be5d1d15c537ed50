"""One small cluster told three ways (text file, LUXI replies, RAPI replies), and fake servers.

The live backends must read from ganeti-luxid and the RAPI what the text
backend reads from a file, so the tests describe one cluster once and render
it as each source would show it. The same replies, served to the real
``hspace -L``/``-m`` and saved with ``-S``, give back this text file (checked
by hand with Ganeti 3.0.2-3; see the report of the change that added this).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol
from twisted.web.resource import Resource
from twisted.web.server import Request

Json = Any


@dataclass(frozen=True)
class FakeNode:
    name: str
    group: str
    t_mem: int
    n_mem: int
    f_mem: int
    t_dsk: int
    f_dsk: int
    t_cpu: int
    n_cpu: int
    spindles: int = 1
    free_spindles: int = 0
    offline: bool = False
    drained: bool = False
    tags: tuple[str, ...] = ()
    cpu_speed: float = 1.0


@dataclass(frozen=True)
class FakeInstance:
    name: str
    mem: int
    dsk: int
    vcpus: int
    status: str
    pnode: str
    snode: str
    template: str
    tags: tuple[str, ...] = ()
    auto_balance: bool = True
    spindle_use: int = 1


SPEC_KEYS = ("memory-size", "cpu-count", "disk-size", "disk-count", "nic-count", "spindle-use")


def spec(mem: int, cpu: int, disk: int, disks: int = 1, nics: int = 1, spindles: int = 1) -> Json:
    return dict(zip(SPEC_KEYS, (mem, cpu, disk, disks, nics, spindles), strict=True))


def policy(vcpu_ratio: float = 4.0, templates: tuple[str, ...] = ("drbd", "plain")) -> Json:
    return {
        "minmax": [{"min": spec(128, 1, 1024), "max": spec(32768, 8, 1048576, 16, 8, 12)}],
        "std": spec(1024, 1, 10240),
        "disk-templates": list(templates),
        "vcpu-ratio": vcpu_ratio,
        "spindle-ratio": 32.0,
    }


@dataclass
class FakeCluster:
    """The cluster, and how each source shows it."""

    groups: list[tuple[str, str, str, tuple[str, ...], Json]]  # name, uuid, policy, tags, ipol
    nodes: list[FakeNode]
    instances: list[FakeInstance]
    master: str
    tags: tuple[str, ...] = ()
    ipolicy: Json = field(default_factory=policy)
    hypervisor: str = "xen-pvm"

    def _uuid(self, group: str) -> str:
        return next(uuid for name, uuid, *_ in self.groups if name == group)

    # --- text ----------------------------------------------------------------------

    def to_text(self) -> str:
        groups = [f"{n}|{u}|{p}|{','.join(t)}|" for n, u, p, t, _ in self.groups]
        nodes = [self._node_line(node) for node in self.nodes]
        instances = [
            f"{i.name}|{i.mem}|{i.dsk}|{i.vcpus}|{i.status}|{'Y' if i.auto_balance else 'N'}"
            f"|{i.pnode}|{i.snode}|{i.template}|{','.join(i.tags)}|{i.spindle_use}|-|N"
            for i in self.instances
        ]
        policies = [_policy_line("", self.ipolicy)]
        policies += [_policy_line(name, ipol) for name, _, _, _, ipol in self.groups]
        sections = [groups, nodes, instances, list(self.tags), policies]
        return "\n\n".join("\n".join(lines) for lines in sections) + "\n"

    def _node_line(self, node: FakeNode) -> str:
        live = not node.offline
        flag = "Y" if node.offline or node.drained else ("M" if node.name == self.master else "N")
        values = (
            (node.t_mem, node.n_mem, node.f_mem, node.t_dsk, node.f_dsk, node.t_cpu)
            if live
            else (0, 0, 0, 0, 0, 0)
        )
        t_mem, n_mem, f_mem, t_dsk, f_dsk, t_cpu = values
        return (
            f"{node.name}|{t_mem}|{n_mem}|{f_mem}|{t_dsk}|{f_dsk}|{t_cpu}|{flag}"
            f"|{self._uuid(node.group)}|{node.spindles}|{','.join(node.tags)}|N"
            f"|{node.free_spindles if live else 0}|{node.n_cpu if live else 0}|{node.cpu_speed}"
        )

    # --- LUXI ----------------------------------------------------------------------

    def _node_values(self, node: FakeNode) -> dict[str, Json]:
        return {
            "name": node.name, "mtotal": node.t_mem, "mnode": node.n_mem, "mfree": node.f_mem,
            "dtotal": node.t_dsk, "dfree": node.f_dsk, "ctotal": node.t_cpu, "cnos": node.n_cpu,
            "offline": node.offline, "drained": node.drained, "vm_capable": True,
            "ndp/spindle_count": node.spindles, "group.uuid": self._uuid(node.group),
            "tags": list(node.tags), "ndp/exclusive_storage": False,
            "sptotal": node.spindles, "spfree": node.free_spindles,
            "ndp/cpu_speed": node.cpu_speed,
        }  # fmt: skip

    def _instance_values(self, inst: FakeInstance) -> dict[str, Json]:
        return {
            "name": inst.name, "disk_usage": inst.dsk, "be/memory": inst.mem,
            "be/vcpus": inst.vcpus, "status": inst.status, "pnode": inst.pnode,
            "snodes": [inst.snode] if inst.snode else [], "tags": list(inst.tags),
            "be/auto_balance": inst.auto_balance, "disk_template": inst.template,
            "be/spindle_use": inst.spindle_use, "disk.sizes": [inst.dsk],
            "disk.spindles": [None], "forthcoming": False,
        }  # fmt: skip

    def _group_values(self, group: tuple[str, str, str, tuple[str, ...], Json]) -> dict[str, Json]:
        name, uuid, alloc_policy, tags, ipol = group
        return {
            "uuid": uuid, "name": name, "alloc_policy": alloc_policy, "ipolicy": ipol,
            "tags": list(tags),
        }  # fmt: skip

    def cluster_info(self) -> Json:
        return {
            "name": "cluster.example.com",
            "master": self.master,
            "tags": list(self.tags),
            "ipolicy": self.ipolicy,
            "default_hypervisor": self.hypervisor,
            "enabled_hypervisors": [self.hypervisor],
        }

    def luxi_result(self, method: str, args: list[Json]) -> Json:
        """The ``result`` ganeti-luxid gives to this call."""
        if method == "QueryClusterInfo":
            return self.cluster_info()
        item, fields, _ = args
        rows: list[dict[str, Json]] = {
            "node": [self._node_values(n) for n in self.nodes],
            "instance": [self._instance_values(i) for i in self.instances],
            "group": [self._group_values(g) for g in self.groups],
        }[item]
        unavailable = {"mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal", "cnos", "spfree"}
        data = []
        for row in rows:
            offline = item == "node" and row["offline"]
            data.append(
                [
                    [2, None] if offline and name in unavailable else [0, row[name]]
                    for name in fields
                ]
            )
        return {"fields": [{"name": name} for name in fields], "data": data}

    # --- RAPI ----------------------------------------------------------------------

    def rapi_bodies(self) -> dict[str, Json]:
        """The bodies of the four resources htools read, by path."""
        nodes = []
        for node in self.nodes:
            values = self._node_values(node)
            entry = {k: v for k, v in values.items() if "/" not in k and k != "group.uuid"}
            entry["group.uuid"] = values["group.uuid"]
            entry["ndparams"] = {
                "spindle_count": node.spindles,
                "exclusive_storage": False,
                "oob_program": "",
            }
            if node.offline:
                for key in ("mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal", "cnos"):
                    entry[key] = None
            nodes.append(entry)
        instances = []
        for inst in self.instances:
            instances.append(
                {
                    "name": inst.name, "disk_usage": inst.dsk, "disk.sizes": [inst.dsk],
                    "disk.spindles": [None], "oper_ram": None,
                    "beparams": {"memory": inst.mem, "maxmem": inst.mem, "minmem": inst.mem,
                                 "vcpus": inst.vcpus, "auto_balance": inst.auto_balance,
                                 "spindle_use": inst.spindle_use},
                    "pnode": inst.pnode, "snodes": [inst.snode] if inst.snode else [],
                    "status": inst.status, "tags": list(inst.tags),
                    "disk_template": inst.template, "forthcoming": False,
                }
            )  # fmt: skip
        groups = [self._group_values(g) for g in self.groups]
        return {
            "/2/groups": groups,
            "/2/nodes": nodes,
            "/2/instances": instances,
            "/2/info": self.cluster_info(),
        }


def _spec_text(values: Json) -> str:
    return ",".join(str(values[key]) for key in SPEC_KEYS)


def _policy_line(owner: str, ipol: Json) -> str:
    minmax = ";".join(f"{_spec_text(m['min'])};{_spec_text(m['max'])}" for m in ipol["minmax"])
    return "|".join(
        [
            owner,
            _spec_text(ipol["std"]),
            minmax,
            ",".join(ipol["disk-templates"]),
            str(ipol["vcpu-ratio"]),
            str(ipol["spindle-ratio"]),
        ]
    )


def sample_cluster() -> FakeCluster:
    """Two groups, five nodes (an offline one, a drained one), five instances."""
    return FakeCluster(
        groups=[
            ("default", "uuid-default", "preferred", ("rack:a",), policy()),
            ("spare", "uuid-spare", "last_resort", (), policy(2.5, ("plain", "diskless"))),
        ],
        nodes=[
            FakeNode("node1.example.com", "default", 32768, 1024, 20000, 409600, 300000, 8, 1,
                     spindles=4, free_spindles=3, tags=("htools:nlocation:r1",)),
            FakeNode("node2.example.com", "default", 32768, 1024, 24576, 409600, 350000, 8, 1,
                     cpu_speed=1.5),
            FakeNode("node3.example.com", "default", 65536, 2048, 60000, 819200, 800000, 16, 2,
                     drained=True),
            FakeNode("node4.example.com", "spare", 16384, 512, 16000, 204800, 204800, 4, 1,
                     offline=True),
            FakeNode("node5.example.com", "spare", 16384, 512, 15872, 204800, 204800, 4, 1),
        ],
        instances=[
            FakeInstance("web1.example.com", 4096, 51200, 2, "running", "node1.example.com",
                         "node2.example.com", "drbd", ("app:web",)),
            FakeInstance("web2.example.com", 2048, 25600, 1, "ADMIN_down", "node2.example.com",
                         "node1.example.com", "drbd", (), auto_balance=False),
            FakeInstance("db1.example.com", 8192, 102400, 4, "running", "node1.example.com", "",
                         "plain", ("app:db", "tier:1"), spindle_use=2),
            FakeInstance("tmp1.example.com", 512, 0, 1, "ERROR_down", "node5.example.com", "",
                         "diskless"),
            FakeInstance("big1.example.com", 1024, 10240, 1, "running", "node3.example.com", "",
                         "plain"),
        ],
        master="node1.example.com",
        tags=("htools:iextags:app", "htools:nlocation:r"),
    )  # fmt: skip


# --- servers ----------------------------------------------------------------------------


class Silence:
    """An answer that is never sent (the fake keeps the connection open)."""


Answer = Callable[[bytes], "bytes | Silence | None"]


class LuxiServerProtocol(Protocol):
    """Answers each 0x03-terminated request with the factory's answer."""

    factory: FakeLuxiFactory

    def connectionMade(self) -> None:
        self._buffer = b""

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while b"\x03" in self._buffer:
            message, self._buffer = self._buffer.split(b"\x03", 1)
            self.factory.requests.append(message)
            reply = self.factory.answer(message)
            if isinstance(reply, Silence):
                continue
            if reply is None:
                assert self.transport is not None
                self.transport.loseConnection()
                return
            assert self.transport is not None
            self.transport.write(reply + b"\x03")


class FakeLuxiFactory(Factory[LuxiServerProtocol]):
    """A ganeti-luxid stand-in; ``answer`` maps a request to reply bytes (None: hang up)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []

    def buildProtocol(self, addr: IAddress | None) -> LuxiServerProtocol:
        protocol = LuxiServerProtocol()
        protocol.factory = self
        return protocol


def luxi_answers(cluster: FakeCluster) -> Answer:
    def answer(message: bytes) -> bytes:
        request = json.loads(message)
        result = cluster.luxi_result(request["method"], request["args"])
        return json.dumps({"success": True, "result": result}).encode()

    return answer


class FakeRapi(Resource):
    """The four RAPI resources htools read; optional basic auth like Ganeti's RAPI."""

    isLeaf = True

    def __init__(self, bodies: dict[str, bytes], credentials: tuple[str, str] | None) -> None:
        super().__init__()
        self.bodies = bodies
        self.credentials = credentials
        self.paths: list[bytes] = []

    def render_GET(self, request: Request) -> bytes:
        self.paths.append(request.uri)
        if self.credentials is not None:
            user, password = self.credentials
            expected = b"Basic " + base64.b64encode(f"{user}:{password}".encode())
            if request.getHeader("authorization") != expected.decode():
                request.setResponseCode(401)
                return b"Unauthorized"
        body = self.bodies.get(request.path.decode())
        if body is None:
            request.setResponseCode(404)
            return b"Not found"
        return body


def rapi_json(cluster: FakeCluster) -> dict[str, bytes]:
    return {path: json.dumps(body).encode() for path, body in cluster.rapi_bodies().items()}


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A key and certificate for 127.0.0.1, written to ``directory``."""
    from ganeti_agent.rapi.testing import self_signed_certificate

    key_pem, cert_pem = self_signed_certificate("ganeti-rapi-test")
    key_path, cert_path = directory / "rapi-key.pem", directory / "rapi-cert.pem"
    key_path.write_bytes(key_pem)
    cert_path.write_bytes(cert_pem)
    return key_path, cert_path


# --- broken replies ----------------------------------------------------------------------

Mutation = Callable[[str, Json], Json]
"""Changes the ``result`` for one query item (``node``, ``instance``, ``group``, ``cluster``)."""


def _set_field(item: str, row: int, name: str, value: Json) -> Mutation:
    def mutate(which: str, result: Json) -> Json:
        if which == item:
            index = [f["name"] for f in result["fields"]].index(name)
            result["data"][row][index] = value
        return result

    return mutate


def _edit_info(change: Callable[[Json], None]) -> Mutation:
    def mutate(which: str, result: Json) -> Json:
        if which == "cluster":
            change(result)
        return result

    return mutate


def _edit_group_policy(change: Callable[[Json], None]) -> Mutation:
    def mutate(which: str, result: Json) -> Json:
        if which == "group":
            index = [f["name"] for f in result["fields"]].index("ipolicy")
            change(result["data"][0][index][1])
        return result

    return mutate


def _replace(item: str, value: Json) -> Mutation:
    return lambda which, result: value if which == item else result


LUXI_BROKEN_RESULTS: dict[str, Mutation] = {
    "field-no-data": _set_field("group", 0, "ipolicy", [2, None]),
    "field-unknown": _set_field("node", 1, "mtotal", [1, None]),
    "field-bad-status": _set_field("node", 1, "mtotal", [7, 1]),
    "field-not-a-pair": _set_field("node", 0, "tags", 5),
    "node-mtotal-string": _set_field("node", 0, "mtotal", [0, "x"]),
    "node-unknown-group": _set_field("node", 2, "group.uuid", [0, "uuid-nowhere"]),
    "node-name-missing": _set_field("node", 0, "name", [2, None]),
    "offline-node-bad-memory-ignored": _set_field("node", 3, "mfree", [0, "junk"]),
    "instance-unknown-pnode": _set_field("instance", 1, "pnode", [0, "node9"]),
    "instance-bad-status": _set_field("instance", 0, "status", [0, "bogus"]),
    "instance-bad-template": _set_field("instance", 2, "disk_template", [0, "floppy"]),
    "instance-status-number": _set_field("instance", 2, "status", [0, 3]),
    "instance-spindles-not-list": _set_field("instance", 0, "disk.spindles", [0, 4]),
    "instance-mem-rounds-half-even": _set_field("instance", 1, "be/memory", [0, 2048.5]),
    "group-bad-policy": _set_field("group", 1, "alloc_policy", [0, "sometimes"]),
    "group-policy-missing-std": _edit_group_policy(lambda p: p.pop("std")),
    "group-policy-extra-key": _edit_group_policy(lambda p: p.update({"memory-ratio": 1.0})),
    "group-policy-spec-missing-key": _edit_group_policy(lambda p: p["std"].pop("nic-count")),
    "cluster-no-master": _edit_info(lambda info: info.pop("master")),
    "cluster-unknown-master": _edit_info(lambda info: info.update({"master": "node9"})),
    "cluster-bad-hypervisor": _edit_info(lambda info: info.update({"default_hypervisor": "vmw"})),
    "cluster-info-list": _replace("cluster", [1, 2]),
    "query-not-object": _replace("node", 5),
    "query-data-not-list": _replace("node", {"fields": [], "data": 7}),
    "query-row-not-list": _replace("instance", {"fields": [], "data": [True]}),
    "row-too-short": _replace("group", {"fields": [], "data": [[[0, "x"]]]}),
}
"""Replies ganeti-luxid could send that htools must refuse (or, for two, accept)."""

LUXI_BROKEN_MESSAGES: dict[str, bytes | None] = {
    "hang-up": None,
    "not-json": b"garbage",
    "json-array": b"[1, 2]",
    "trailing-bytes": b'{"success": true, "result": 1} x',
    "no-success": b'{"result": 1}',
    "no-result": b'{"success": true}',
    "not-utf8": b'{"success": true, "result": "\xff"}',
    "prereq-error": b'{"success": false, "result": ["OpPrereqError", ["boom", "wrong_input"]]}',
    "exec-error": b'{"success": false, "result": ["OpExecError", ["it broke"]]}',
    "generic-error": b'{"success": false, "result": ["GenericError", ["oops"]]}',
    "other-error": b'{"success": false, "result": ["LuxiError", ["bad"]]}',
    "error-not-pair": b'{"success": false, "result": "x"}',
    "bad-escape": b'{"success": true, "result": "\\q"}',
    "unterminated": b'{"success": true, "result": [1, 2',
}
"""Whole replies (the same to every request) that break the protocol."""


def broken_luxi_answers(cluster: FakeCluster, case: str) -> Answer:
    """Answers for one of the cases above."""
    if case in LUXI_BROKEN_MESSAGES:
        fixed = LUXI_BROKEN_MESSAGES[case]
        return lambda _message: fixed
    mutate = LUXI_BROKEN_RESULTS[case]

    def answer(message: bytes) -> bytes:
        request = json.loads(message)
        result = cluster.luxi_result(request["method"], request["args"])
        which = "cluster" if request["method"] == "QueryClusterInfo" else request["args"][0]
        return json.dumps({"success": True, "result": mutate(which, result)}).encode()

    return answer


# --- broken RAPI replies ----------------------------------------------------------------

RapiEdit = Callable[[dict[str, Json]], None]
"""Changes the decoded bodies (by path) in place."""


def _drop(path: str, index: int, key: str) -> RapiEdit:
    return lambda bodies: bodies[path][index].pop(key)


def _put(path: str, index: int, key: str, value: Json) -> RapiEdit:
    return lambda bodies: bodies[path][index].update({key: value})


def _beparams(index: int, change: Callable[[Json], None]) -> RapiEdit:
    return lambda bodies: change(bodies["/2/instances"][index]["beparams"])


def _pop_all(values: Json, *keys: str) -> None:
    for key in keys:
        values.pop(key)


def _std_spec(bodies: dict[str, Json]) -> Json:
    return bodies["/2/groups"][0]["ipolicy"]["std"]


def _whole(path: str, value: Json) -> RapiEdit:
    return lambda bodies: bodies.update({path: value})


RAPI_BROKEN_BODIES: dict[str, RapiEdit] = {
    "groups-object": _whole("/2/groups", {}),
    "groups-item-not-object": _whole("/2/groups", [1]),
    "group-no-name": _drop("/2/groups", 0, "name"),
    "group-name-number": _put("/2/groups", 0, "name", 5),
    "group-bad-policy": _put("/2/groups", 1, "alloc_policy", "never"),
    "group-ipolicy-spec-missing-key": lambda b: b["/2/groups"][0]["ipolicy"]["std"].pop(
        "cpu-count"
    ),
    "node-no-ndparams": _drop("/2/nodes", 1, "ndparams"),
    "node-ndparams-not-object": _put("/2/nodes", 1, "ndparams", [1]),
    "node-no-group-uuid": _drop("/2/nodes", 2, "group.uuid"),
    "node-spfree-string": _put("/2/nodes", 0, "spfree", "x"),
    "node-spfree-null": _put("/2/nodes", 0, "spfree", None),
    "node-mtotal-missing": _drop("/2/nodes", 0, "mtotal"),
    "node-vm-capable-false": _put("/2/nodes", 4, "vm_capable", False),
    "instance-oper-ram": _put("/2/instances", 0, "oper_ram", 3000),
    "instance-oper-ram-string": _put("/2/instances", 0, "oper_ram", "3000"),
    "instance-only-maxmem": _beparams(1, lambda p: p.pop("memory")),
    "instance-no-memory": _beparams(1, lambda p: _pop_all(p, "memory", "maxmem")),
    "instance-snode-number": _put("/2/instances", 0, "snodes", [7]),
    "instance-forthcoming-junk": _put("/2/instances", 0, "forthcoming", "maybe"),
    "instance-no-beparams": _drop("/2/instances", 2, "beparams"),
    "instance-spindles-not-list": _put("/2/instances", 2, "disk.spindles", 4),
    "instance-unknown-pnode": _put("/2/instances", 3, "pnode", "node9"),
    "info-array": _whole("/2/info", [1]),
    "info-no-master": lambda bodies: bodies["/2/info"].pop("master"),
    "info-bad-hypervisor": lambda bodies: bodies["/2/info"].update({"default_hypervisor": "x"}),
}
"""Bodies the RAPI could send that htools must refuse (or, for some, read differently)."""

RAPI_BROKEN_RAW: dict[str, tuple[str, bytes | None]] = {
    "groups-not-json": ("/2/groups", b"<html>hello</html>"),
    "nodes-empty": ("/2/nodes", b""),
    "nodes-404": ("/2/nodes", None),
    "info-trailing": ("/2/info", b'{"master": "x"} [] '),
}
"""Raw bodies (None: 404) replacing one resource."""


def broken_rapi_bodies(cluster: FakeCluster, case: str) -> dict[str, bytes]:
    bodies = cluster.rapi_bodies()
    if case in RAPI_BROKEN_BODIES:
        RAPI_BROKEN_BODIES[case](bodies)
    encoded = {path: json.dumps(body).encode() for path, body in bodies.items()}
    if case in RAPI_BROKEN_RAW:
        path, raw = RAPI_BROKEN_RAW[case]
        if raw is None:
            del encoded[path]
        else:
            encoded[path] = raw
    return encoded


# --- any cluster the text backend reads, as LUXI and RAPI would show it -------------------


def _spec_json(values: Any) -> Json:
    return dict(
        zip(
            SPEC_KEYS,
            (values.mem, values.cpu, values.disk_size, values.disk_count, values.nic_count,
             values.spindle_use),
            strict=True,
        )
    )  # fmt: skip


def policy_json(ipolicy: Any) -> Json:
    """An htools ``IPolicy`` as Ganeti stores it in JSON."""
    return {
        "minmax": [{"min": _spec_json(m.min_spec), "max": _spec_json(m.max_spec)}
                   for m in ipolicy.minmax],
        "std": _spec_json(ipolicy.std),
        "disk-templates": list(ipolicy.disk_templates),
        "vcpu-ratio": ipolicy.vcpu_ratio,
        "spindle-ratio": ipolicy.spindle_ratio,
    }  # fmt: skip


def _number(value: float) -> Json:
    return int(value) if float(value).is_integer() else value


def model_views(data: Any, master: str) -> tuple[dict[str, list[dict[str, Json]]], Json]:
    """Query rows (by item) and cluster info showing a text-loaded cluster live.

    Offline nodes become drained ones: Ganeti reads a drained node's
    resources and marks it offline, which is what the text format means by
    ``Y`` (an offline node's resources would not be read at all).
    """
    groups = sorted(data.groups.values(), key=lambda g: g.idx)
    nodes = [
        {
            "name": n.name, "mtotal": _number(n.t_mem), "mnode": n.n_mem, "mfree": n.f_mem,
            "dtotal": _number(n.t_dsk), "dfree": n.f_dsk, "ctotal": _number(n.t_cpu),
            "cnos": n.n_cpu, "offline": False, "drained": n.offline, "vm_capable": True,
            "ndp/spindle_count": n.t_spindles, "group.uuid": data.groups[n.group].uuid,
            "tags": list(n.tags), "ndp/exclusive_storage": n.excl_stor,
            "sptotal": n.t_spindles, "spfree": n.f_spindles,
            "ndp/cpu_speed": _number(n.t_cpu_speed),
        }
        for n in data.nodes
    ]  # fmt: skip
    names = [n.name for n in data.nodes]
    instances = [
        {
            "name": i.name, "disk_usage": i.dsk, "be/memory": i.mem, "be/vcpus": i.vcpus,
            "status": i.run_st, "pnode": names[i.pnode],
            "snodes": [names[i.snode]] if i.snode >= 0 else [], "tags": list(i.all_tags),
            "be/auto_balance": i.auto_balance, "disk_template": i.disk_template,
            "be/spindle_use": i.spindle_use, "disk.sizes": [d.size for d in i.disks],
            "disk.spindles": [d.spindles for d in i.disks], "forthcoming": i.forthcoming,
        }
        for i in data.instances
    ]  # fmt: skip
    group_rows = [
        {"uuid": g.uuid, "name": g.name, "alloc_policy": g.alloc_policy.name,
         "ipolicy": policy_json(g.ipolicy), "tags": list(g.tags)}
        for g in groups
    ]  # fmt: skip
    info = {
        "name": "cluster",
        "master": master,
        "tags": list(data.tags),
        "ipolicy": policy_json(data.ipolicy),
        "default_hypervisor": "xen-pvm",
    }
    return {"node": nodes, "instance": instances, "group": group_rows}, info


def model_luxi_answers(data: Any, master: str) -> Answer:
    rows, info = model_views(data, master)

    def answer(message: bytes) -> bytes:
        request = json.loads(message)
        if request["method"] == "QueryClusterInfo":
            result: Json = info
        else:
            item, fields, _ = request["args"]
            result = {
                "fields": [{"name": name} for name in fields],
                "data": [[[0, row[name]] for name in fields] for row in rows[item]],
            }
        return json.dumps({"success": True, "result": result}).encode()

    return answer


def model_rapi_bodies(data: Any, master: str) -> dict[str, bytes]:
    rows, info = model_views(data, master)
    nodes = []
    for row in rows["node"]:
        node = {k: v for k, v in row.items() if "/" not in k}
        node["ndparams"] = {
            "spindle_count": row["ndp/spindle_count"],
            "exclusive_storage": row["ndp/exclusive_storage"],
        }
        nodes.append(node)
    instances = []
    for row in rows["instance"]:
        inst = {k: v for k, v in row.items() if not k.startswith("be/")}
        inst["oper_ram"] = None
        inst["beparams"] = {
            "memory": row["be/memory"], "vcpus": row["be/vcpus"],
            "auto_balance": row["be/auto_balance"], "spindle_use": row["be/spindle_use"],
        }  # fmt: skip
        instances.append(inst)
    bodies = {"/2/groups": rows["group"], "/2/nodes": nodes, "/2/instances": instances,
              "/2/info": info}  # fmt: skip
    return {path: json.dumps(body).encode() for path, body in bodies.items()}


# --- random damage, for differential runs against the real tools --------------------------

ODD_VALUES: tuple[Json, ...] = (
    None, True, False, 0, -1, 2.5, 1e30, "x", "", "running", "drbd", [], [1], ["a"], {},
    {"a": 1}, [[0, 1]], [0, None], [2, None], "node1.example.com", "uuid-default", 7, -3.5,
    [None], [[0, "x"]],
)  # fmt: skip


def _paths(node: Json, path: list[Any]) -> list[list[Any]]:
    """Every path into a JSON value, the value itself first."""
    found = [path]
    if isinstance(node, dict):
        children: Any = node.items()
    elif isinstance(node, list):
        children = enumerate(node)
    else:
        children = ()
    for key, child in children:
        found += _paths(child, [*path, key])
    return found


def damage(value: Json, rnd: Any, times: int) -> Json:
    """Replace or delete ``times`` random parts of a JSON value (a copy)."""
    value = json.loads(json.dumps(value))
    for _ in range(times):
        paths = _paths(value, [])
        if len(paths) == 1:
            return json.loads(json.dumps(rnd.choice(ODD_VALUES)))
        path = rnd.choice(paths[1:])
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and rnd.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = json.loads(json.dumps(rnd.choice(ODD_VALUES)))
    return value


def damaged_luxi_answers(cluster: FakeCluster, item: str, seed: int) -> Answer:
    """Answers with one query's result damaged the same way every time it is asked."""
    import random

    def answer(message: bytes) -> bytes:
        rnd = random.Random(seed)
        request = json.loads(message)
        which = "cluster" if request["method"] == "QueryClusterInfo" else request["args"][0]
        result = cluster.luxi_result(request["method"], request["args"])
        if which == item:
            result = damage(result, rnd, rnd.randint(1, 3))
        return json.dumps({"success": True, "result": result}).encode()

    return answer


def damaged_rapi_bodies(cluster: FakeCluster, path: str, seed: int) -> dict[str, bytes]:
    import random

    rnd = random.Random(seed)
    bodies = cluster.rapi_bodies()
    bodies[path] = damage(bodies[path], rnd, rnd.randint(1, 3))
    return {name: json.dumps(body).encode() for name, body in bodies.items()}
