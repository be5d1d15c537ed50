"""An in-process fake Ganeti cluster that speaks RAPI over HTTPS, for tests.

Like ``treq.testing``, the fake ships with the client so that every user of
the RAPI client (move-instance today, harep and the htools backend later)
tests against the same thing. A FakeCluster answers the resources
move-instance uses, runs jobs from a script, records every request (method,
path, query, JSON body), checks basic auth with read and write users, holds
``/wait`` long polls until a job changes, and signs what it hands out with
its cluster domain secret, checking what it is sent the way Ganeti does. Two
linked fakes play the source and the destination of a move: the import on the
destination finishes when the export on the source does.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorSSL, IReactorTime, ITCPTransport
from twisted.internet.ssl import Port, PrivateCertificate
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from ganeti_agent.core.jsontypes import (
    JSON,
    JSONArray,
    JSONObject,
    JSONShapeError,
    expect_array,
    expect_int,
    expect_object,
    expect_str,
    member,
)
from ganeti_agent.rapi import x509 as signing

FIXED_TIMESTAMP: JSONArray = [1700000000, 0]
#: Encoded Ganeti errors, as job results carry them.
EncodedError = JSONArray


class IFakeClusterReactor(IReactorSSL, IReactorTime):
    """What a fake cluster needs of a reactor: a TLS port, and timers for held /wait polls."""


def self_signed_certificate(common_name: str) -> tuple[bytes, bytes]:
    """A fresh (private key PEM, certificate PEM) pair, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = crypto_x509.Name([crypto_x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        crypto_x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(crypto_x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(crypto_x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it; ``body`` is the decoded JSON, None when empty."""

    method: str
    path: str
    query: list[tuple[str, str]]
    body: JSON

    def as_json(self) -> JSONObject:
        return {
            "method": self.method,
            "path": self.path,
            "query": [[name, value] for name, value in self.query],
            "body": self.body,
        }


@dataclass
class FakeJob:
    """A job's state; ``kind`` names what it does (info, prepare-export, create, export…)."""

    job_id: int
    kind: str
    instance: str
    status: str = "queued"
    log: list[JSONArray] = field(default_factory=list)
    opstatus: list[str] = field(default_factory=lambda: ["queued"])
    opresult: JSONArray = field(default_factory=lambda: [None])
    waiters: list[Callable[[], None]] = field(default_factory=list)

    def changed(self) -> None:
        waiters, self.waiters = self.waiters, []
        for wake in waiters:
            wake()

    def succeed(self, result: JSON) -> None:
        self.status, self.opstatus, self.opresult = "success", ["success"], [result]
        self.changed()

    def fail(self, error: EncodedError) -> None:
        self.status, self.opstatus, self.opresult = "error", ["error"], [error]
        self.changed()

    def run(self) -> None:
        self.status, self.opstatus = "running", ["running"]
        self.changed()

    def add_log(self, log_type: str, message: JSON) -> None:
        self.log.append([len(self.log) + 1, FIXED_TIMESTAMP, log_type, message])
        self.changed()

    def as_json(self) -> JSONObject:
        return {
            "id": self.job_id,
            "status": self.status,
            "opstatus": list(self.opstatus),
            "opresult": self.opresult,
            "oplog": [[entry] for entry in self.log],
            "summary": [f"{self.kind}({self.instance})"],
        }


def instance_records(
    name: str,
    *,
    disk_template: str = "plain",
    disks: int = 1,
    tags: list[str] | None = None,
    config_state: str = "up",
    nics: list[JSONArray] | None = None,
) -> tuple[JSONObject, JSONObject]:
    """(``GET /2/instances/<name>`` answer, static ``info`` job result) of a typical instance."""
    disk_list: JSONArray = [
        {"size": 1024 * (index + 1), "mode": "rw", "name": None, "spindles": None}
        for index in range(disks)
    ]
    nic_list: list[JSONArray] = nics or [
        [None, "nic-uuid-0", None, "aa:00:00:00:00:01", "bridged", "br0", "", None, None]
    ]
    details: JSONObject = {
        "name": name,
        "tags": list[JSON](tags or []),
        "disk_template": disk_template,
        "status": "running" if config_state == "up" else "ADMIN_down",
        "admin_state": config_state,
        "os": "debootstrap+default",
    }
    info: JSONObject = {
        "name": name,
        "config_state": config_state,
        "run_state": config_state,
        "disk_template": disk_template,
        "os": "debootstrap+default",
        "hypervisor": "kvm",
        "pnode": "node1.example.com",
        "snodes": ["node2.example.com"] if disk_template == "drbd" else [],
        "disks": disk_list,
        "nics": list[JSON](nic_list),
        "be_instance": {"maxmem": 512},
        "hv_instance": {},
        "os_instance": {},
    }
    return details, info


class FakeCluster:
    """One fake cluster; ``resource()`` serves it, ``requests`` is what it was sent."""

    def __init__(
        self,
        name: str,
        *,
        secret: str = "cluster-domain-secret",  # noqa: S107 (a fake cluster's)
        users: dict[str, tuple[str, bool]] | None = None,
        read_needs_auth: bool = False,
        info: JSONObject | None = None,
        features: list[str] | None = None,
        first_job_id: int = 100,
        wait_timeout: float = 0.5,
        reactor: IFakeClusterReactor | None = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = cast(IFakeClusterReactor, default_reactor)
        self.name = name
        self.secret = secret
        self.users = dict(users or {"admin": ("secret", True)})
        self.read_needs_auth = read_needs_auth
        self.info: JSONObject = info if info is not None else {"name": name}
        #: The /2/features answer; any JSON, so that a test can play a server that answers wrongly.
        self.features: JSON = (
            [*features]
            if features is not None
            else [
                "instance-create-reqv1",
                "instance-reinstall-reqv1",
                "node-migrate-reqv1",
                "node-evac-res1",
                "instance-multi-alloc",
            ]
        )
        self.instances: dict[str, JSONObject] = {}
        self.instance_info: dict[str, JSONObject] = {}
        self.jobs: dict[int, FakeJob] = {}
        self.requests: list[RecordedRequest] = []
        #: Job kind → the encoded error the next such job ends with.
        self.failures: dict[str, EncodedError] = {}
        #: How many of the next /wait requests lose their connection instead of an answer.
        self.drop_waits = 0
        #: Whether a failed export also fails the peer's running import at once. A real
        #: import only gives up after its connect timeout, so by default it keeps running.
        self.export_failure_reaches_peer = False
        #: Whether DELETE /2/jobs/<id> cancels a running job. Ganeti only cancels jobs
        #: still waiting in the queue; False answers as it does and leaves the job running.
        self.cancel_running = True
        self.peer: FakeCluster | None = None
        self.wait_timeout = wait_timeout
        self._reactor = reactor
        self._next_job = first_job_id
        self._key_pem, self.ca_pem = self_signed_certificate(f"{name}-x509")

    # Set-up

    def add_instance(self, details: JSONObject, info: JSONObject) -> None:
        name = str(details["name"])
        self.instances[name] = details
        self.instance_info[name] = info

    def resource(self) -> Resource:
        return _ClusterResource(self)

    def site(self) -> Site:
        return Site(self.resource())

    def listen_tls(self, certificate: tuple[bytes, bytes]) -> Port:
        """Serve over HTTPS on 127.0.0.1 with ``(key PEM, certificate PEM)``; the port object."""
        key_pem, cert_pem = certificate
        options = PrivateCertificate.loadPEM(key_pem + cert_pem).options()
        port = self._reactor.listenSSL(0, self.site(), options, interface="127.0.0.1")
        return cast(Port, port)

    # Jobs

    def _new_job(self, kind: str, instance: str) -> FakeJob:
        job = FakeJob(self._next_job, kind, instance)
        self._next_job += 1
        self.jobs[job.job_id] = job
        return job

    def submit(self, kind: str, instance: str, body: JSON) -> int:
        job = self._new_job(kind, instance)
        error = None if kind == "export" else self.failures.pop(kind, None)
        if error is not None:
            job.fail(error)
            return job.job_id
        run: Callable[[FakeJob, JSON], None] = getattr(self, f"_run_{kind.replace('-', '_')}")
        run(job, body)
        return job.job_id

    def _run_info(self, job: FakeJob, body: JSON) -> None:
        job.succeed({job.instance: self.instance_info[job.instance]})

    def _run_shutdown(self, job: FakeJob, body: JSON) -> None:
        self.instances[job.instance]["admin_state"] = "down"
        job.succeed(None)

    def _run_prepare_export(self, job: FakeJob, body: JSON) -> None:
        salt = f"{job.job_id:08x}"
        key_name = f"x509-{job.job_id}"
        job.succeed(
            {
                "handshake": signing.remote_export_handshake(self.secret, salt),
                "x509_key_name": signing.x509_key_name(self.secret, key_name, salt),
                "x509_ca": signing.sign_x509_certificate(
                    self.ca_pem.decode("ascii"), self.secret, salt
                ),
            }
        )

    def _run_create(self, job: FakeJob, body: JSON) -> None:
        try:
            fields = expect_object(body, "creation body")
            handshake = expect_array(
                member(fields, "source_handshake", "creation body"), "handshake"
            )
            source_ca = expect_str(member(fields, "source_x509_ca", "creation body"), "source CA")
            disk_count = len(expect_array(member(fields, "disks", "creation body"), "disks"))
        except JSONShapeError as exc:
            job.fail(["OpPrereqError", [str(exc), "invalid"]])
            return
        problem = signing.check_remote_export_handshake(self.secret, handshake)
        if problem is None:
            try:
                signing.load_signed_x509_certificate(source_ca, self.secret)
            except signing.SignatureError as exc:
                problem = str(exc)
        if problem is not None:
            job.fail(["OpPrereqError", [problem, "invalid"]])
            return
        salt = f"{job.job_id:08x}"
        disks: JSONArray = [
            signing.remote_import_disk_info(
                self.secret, salt, index, "10.0.0.1", 11000 + index, f"magic{job.job_id}x{index}"
            )
            for index in range(disk_count)
        ]
        job.run()
        job.add_log(
            "remote-import",
            {
                "x509_ca": signing.sign_x509_certificate(
                    self.ca_pem.decode("ascii"), self.secret, salt
                ),
                "disks": disks,
            },
        )

    def _run_export(self, job: FakeJob, body: JSON) -> None:
        if "export" in self.failures:
            error = self.failures.pop("export")
            job.fail(error)
            if self.export_failure_reaches_peer:
                self._finish_peer_import(["OpExecError", ["Disk 0 failed to receive data"]])
            return
        try:
            fields = expect_object(body, "export body")
            key_name = expect_array(member(fields, "x509_key_name", "export body"), "key name")
            signing.check_x509_key_name(self.secret, key_name)
            dest_ca = expect_str(member(fields, "destination_x509_ca", "export body"), "CA")
            signing.load_signed_x509_certificate(dest_ca, self.secret)
            destination = expect_array(member(fields, "destination", "export body"), "disks")
            for index, disk in enumerate(destination):
                disk_info = expect_array(disk, f"destination disk {index}")
                signing.check_remote_export_disk_info(self.secret, index, disk_info)
        except (signing.SignatureError, JSONShapeError) as exc:
            job.fail(["OpPrereqError", [str(exc), "invalid"]])
            self._finish_peer_import(["OpExecError", ["Disk 0 failed to receive data"]])
            return
        if fields.get("remove_instance"):
            self.instances.pop(job.instance, None)
        else:
            self.instances[job.instance]["exported"] = True
        job.succeed([True, [True] * len(destination)])
        self._finish_peer_import(None)

    def _finish_peer_import(self, error: EncodedError | None) -> None:
        if self.peer is None:
            return
        for job in self.peer.jobs.values():
            if job.kind == "create" and job.status == "running":
                if error is None:
                    job.succeed(["node3.example.com"])
                else:
                    job.fail(error)
                return

    def cancel(self, job: FakeJob) -> JSONArray:
        if job.status in ("success", "error", "canceled"):
            return [False, f"Job {job.job_id} is finished"]
        if job.status == "running" and not self.cancel_running:
            return [False, f"Job {job.job_id} is no longer waiting in the queue"]
        job.status, job.opstatus = "canceled", ["canceled"]
        job.opresult = [["OpExecError", ["Job canceled by request"]]]
        job.changed()
        return [True, f"Job {job.job_id} canceled"]

    def job_change(self, job: FakeJob, body: JSON) -> JSONObject | None:
        """The /wait answer now, or None while nothing changed (Ganeti's rule)."""
        previous_info = body.get("previous_job_info") if isinstance(body, dict) else None
        previous_serial = body.get("previous_log_serial") if isinstance(body, dict) else None
        serial = previous_serial if isinstance(previous_serial, int) else 0
        entries: JSONArray = [entry for entry in job.log if expect_int(entry[0], "serial") > serial]
        info: JSONArray = [job.status]
        if info != previous_info or entries or job.status not in ("queued", "waiting", "running"):
            return {"job_info": info, "log_entries": entries}
        return None


def link(source: FakeCluster, destination: FakeCluster) -> None:
    """Make ``destination``'s imports finish with ``source``'s exports."""
    source.peer = destination


class _ClusterResource(Resource):
    isLeaf = True

    def __init__(self, cluster: FakeCluster) -> None:
        Resource.__init__(self)
        self.cluster = cluster

    def render(self, request: Request) -> bytes | int:
        method = request.method.decode("ascii")
        parts = urlsplit(request.uri.decode("utf-8"))
        path = unquote(parts.path)
        raw = request.content.read() if request.content is not None else b""
        body: JSON
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.cluster.requests.append(RecordedRequest(method, path, query, body))
        segments = [segment for segment in path.split("/") if segment]
        writes = method != "GET" or segments[-1:] == ["wait"]
        denied = self._authorise(request, writes)
        if denied is not None:
            return denied
        try:
            return self._route(request, method, segments, dict(query), body)
        except _HttpError as exc:
            return _reply(
                request, exc.code, {"code": exc.code, "message": exc.title, "explain": exc.explain}
            )

    def _authorise(self, request: Request, writes: bool) -> bytes | None:
        if not writes and not self.cluster.read_needs_auth:
            return None
        user = self._user(request)
        if user is None:
            request.setHeader(b"WWW-Authenticate", b'Basic realm="Ganeti Remote API"')
            return _reply(
                request,
                401,
                {"code": 401, "message": "Unauthorized", "explain": "No authentication data"},
            )
        if writes and not self.cluster.users[user][1]:
            return _reply(
                request, 403, {"code": 403, "message": "Forbidden", "explain": "Access denied"}
            )
        return None

    def _user(self, request: Request) -> str | None:
        header = (request.getHeader(b"authorization") or b"").decode("latin-1")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return None
        known = self.cluster.users.get(user)
        return user if known is not None and known[0] == password else None

    def _route(
        self, request: Request, method: str, segments: list[str], query: dict[str, str], body: JSON
    ) -> bytes | int:
        cluster = self.cluster
        match method, segments:
            case "GET", ["version"]:
                return _reply(request, 200, 2)
            case "GET", ["2", "info"]:
                return _reply(request, 200, cluster.info)
            case "GET", ["2", "features"]:
                return _reply(request, 200, cluster.features)
            case "GET", ["2", "instances", name]:
                return _reply(request, 200, self._instance(name))
            case "GET", ["2", "instances", name, "info"]:
                self._instance(name)
                return _reply(request, 200, cluster.submit("info", name, body))
            case "PUT", ["2", "instances", name, "prepare-export"]:
                self._instance(name)
                return _reply(request, 200, cluster.submit("prepare-export", name, body))
            case "PUT", ["2", "instances", name, "export"]:
                self._instance(name)
                return _reply(request, 200, cluster.submit("export", name, body))
            case "PUT", ["2", "instances", name, "shutdown"]:
                self._instance(name)
                return _reply(request, 200, cluster.submit("shutdown", name, body))
            case "POST", ["2", "instances"]:
                if not isinstance(body, dict) or body.get("__version__") != 1:
                    raise _HttpError(400, "Bad Request", "Unsupported request data version")
                return _reply(request, 200, cluster.submit("create", str(body.get("name")), body))
            case "GET", ["2", "jobs", job_id]:
                return _reply(request, 200, self._job(job_id).as_json())
            case "DELETE", ["2", "jobs", job_id]:
                return _reply(request, 200, cluster.cancel(self._job(job_id)))
            case "GET", ["2", "jobs", job_id, "wait"]:
                return self._wait(request, self._job(job_id), body)
        raise _HttpError(404, "Not Found", f"No resource for {method} /{'/'.join(segments)}")

    def _instance(self, name: str) -> JSONObject:
        try:
            return self.cluster.instances[name]
        except KeyError:
            raise _HttpError(404, "Not Found", f"Instance '{name}' not known") from None

    def _job(self, job_id: str) -> FakeJob:
        try:
            return self.cluster.jobs[int(job_id)]
        except (KeyError, ValueError):
            raise _HttpError(404, "Not Found", f"Job {job_id} not found") from None

    def _wait(self, request: Request, job: FakeJob, body: JSON) -> bytes | int:
        cluster = self.cluster
        if cluster.drop_waits > 0:
            cluster.drop_waits -= 1
            cast(ITCPTransport, request.transport).abortConnection()
            return NOT_DONE_YET
        change = cluster.job_change(job, body)
        if change is not None:
            return _reply(request, 200, change)
        finished: Deferred[None] = Deferred()
        answered = False

        def answer() -> None:
            nonlocal answered
            if answered:
                return
            answered = True
            if timer.active():
                timer.cancel()
            if wake in job.waiters:
                job.waiters.remove(wake)
            if not finished.called:
                request.write(_encode(request, 200, cluster.job_change(job, body)))
                request.finish()

        def wake() -> None:
            answer()

        timer = cluster._reactor.callLater(cluster.wait_timeout, answer)
        job.waiters.append(wake)
        request.notifyFinish().addBoth(lambda _: finished.callback(None))
        return NOT_DONE_YET


class _HttpError(Exception):
    def __init__(self, code: int, title: str, explain: str) -> None:
        super().__init__(explain)
        self.code, self.title, self.explain = code, title, explain


def _encode(request: Request, code: int, value: JSON) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json")
    return json.dumps(value).encode("utf-8")


def _reply(request: Request, code: int, value: JSON) -> bytes:
    return _encode(request, code, value)
