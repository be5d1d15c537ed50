"""The fake master of ``fake_master`` behind a RAPI (HTTPS, basic auth), for harep's -m.

It serves the bulk resources htools read and the writes harep makes; each
write queues one job on the same ``FakeMaster`` a LUXI run uses, so a
scenario runs the same over both. Every request is kept (method, path,
query, JSON body).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from twisted.internet import reactor
from twisted.internet.ssl import PrivateCertificate
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from ganeti_agent.rapi.testing import RecordedRequest
from tests.harep.fake_master import FakeMaster
from tests.rapi.support import certificate

USER, PASSWORD = "repair", "s3cret"

_WRITES = {
    ("PUT", "failover"): "OP_INSTANCE_FAILOVER",
    ("POST", "replace-disks"): "OP_INSTANCE_REPLACE_DISKS",
    ("POST", "recreate-disks"): "OP_INSTANCE_RECREATE_DISKS",
    ("POST", "reinstall"): "OP_INSTANCE_REINSTALL",
}


class FakeRapi(Resource):
    isLeaf = True

    def __init__(self, master: FakeMaster) -> None:
        super().__init__()
        self.master = master
        self.requests: list[RecordedRequest] = []

    def render(self, request: Request) -> bytes:
        method = request.method.decode("ascii")
        parts = urlsplit(request.uri.decode("utf-8"))
        path = unquote(parts.path)
        raw = request.content.read() if request.content is not None else b""
        body = json.loads(raw) if raw.strip() else None
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.requests.append(RecordedRequest(method, path, query, body))
        expected = b"Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode())
        if request.getHeader(b"authorization") != expected:
            return _reply(request, 401, {"code": 401, "message": "Unauthorized", "explain": ""})
        answer = self._route(method, path.strip("/").split("/"), query)
        if answer is None:
            return _reply(request, 404, {"code": 404, "message": "Not Found", "explain": path})
        return _reply(request, 200, answer)

    def _route(self, method: str, segments: list[str], query: list[tuple[str, str]]) -> Any:
        master = self.master
        bodies = master.cluster.rapi_bodies()
        match method, segments:
            case "GET", ["2", ("groups" | "nodes" | "instances" | "info") as what]:
                return bodies[f"/2/{what}"]
            case ("PUT" | "DELETE") as verb, ["2", "instances", name, "tags"]:
                tags = [value for key, value in query if key == "tag"]
                kind = "OP_TAGS_SET" if verb == "PUT" else "OP_TAGS_DEL"
                return master.add_job(
                    [{"OP_ID": kind, "kind": "instance", "tags": tags, "name": name}]
                )
            case verb, ["2", "instances", name, action] if (verb, action) in _WRITES:
                return master.add_job([{"OP_ID": _WRITES[verb, action], "instance_name": name}])
            case "GET", ["2", "jobs", job]:
                status = master.job_status.get(int(job))
                return None if status is None else {"id": int(job), "status": status}
            case "DELETE", ["2", "jobs", job]:
                return master.cancel(int(job))
        return None


def _reply(request: Request, code: int, value: Any) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json")
    return json.dumps(value).encode("utf-8")


@dataclass
class ServedRapi:
    rapi: FakeRapi
    port: int
    ca_file: Path
    password_file: Path


@asynccontextmanager
async def served_rapi(master: FakeMaster, directory: Path) -> AsyncIterator[ServedRapi]:
    """The fake RAPI on 127.0.0.1 over TLS; its certificate is the CA file."""
    key_pem, cert_pem = certificate("harep-rapi")
    ca_file = directory / "rapi.pem"
    ca_file.write_bytes(cert_pem)
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n")
    rapi = FakeRapi(master)
    options = PrivateCertificate.loadPEM(key_pem + cert_pem).options()
    port = reactor.listenSSL(0, Site(rapi), options, interface="127.0.0.1")  # type: ignore[attr-defined]
    try:
        yield ServedRapi(rapi, port.getHost().port, ca_file, password_file)
    finally:
        await port.stopListening()
