"""A typed client for Ganeti's RAPI on treq: basic auth, a CA file, job waiting.

It sends what Ganeti's own ``lib/rapi/client.py`` sends (JSON bodies with
sorted keys, booleans in queries as 0/1, ``Accept`` and ``Content-type`` of
``application/json``), so a cluster cannot tell them apart, and turns every
way a request can fail into one of a few exceptions with a message a user can
act on. Shared by ``ganeti-move-instance`` and meant for the other RAPI tools.

TLS: with a CA file the server's chain must verify against it; like Ganeti's
client (cURL with ``SSL_VERIFYHOST=0``) the host name is not checked, because
a cluster's ``rapi.pem`` names its master node, not the cluster. Without a CA
file the platform's trust store and host name checks apply.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import treq
from OpenSSL import SSL
from treq.client import HTTPClient
from twisted.internet import error as net_error
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IReactorPluggableNameResolver,
    IReactorTCP,
    IReactorTime,
)
from twisted.internet.ssl import Certificate, CertificateOptions, trustRootFromCertificates
from twisted.internet.task import deferLater
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, ResponseFailed
from twisted.web.iweb import IPolicyForHTTPS, IResponse
from zope.interface import implementer

from ganeti_agent.core.jsontypes import (
    JSON,
    JSONArray,
    JSONObject,
    JSONShapeError,
    expect_array,
    expect_object,
)
from ganeti_agent.rapi import jobs

DEFAULT_PORT = 5080
RAPI_VERSION = 2
#: The feature a server lists when it takes version-1 instance creation bodies.
INSTANCE_CREATE_REQV1 = "instance-create-reqv1"
#: Bounds: one answer's size, one request's time (a /wait is held 10 s by Ganeti).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0
#: A /wait whose connection drops is asked again this many times in a row.
WAIT_RETRIES = 3
WAIT_RETRY_DELAY = 1.0

LogCallback = Callable[[JSONArray], None]


class RapiError(Exception):
    """Any failure to get an answer from a cluster's RAPI; the text says what happened."""


class RapiConnectionError(RapiError):
    """The cluster could not be reached, or the connection broke."""


class RapiTlsError(RapiError):
    """The server's certificate did not verify against the CA file."""


class RapiResponseError(RapiError):
    """The server answered with something that is not the JSON RAPI speaks."""


class RapiHttpError(RapiError):
    """The server answered with an HTTP error; ``code`` is its status."""

    def __init__(self, url: str, code: int, text: str) -> None:
        super().__init__(f"{url}: HTTP {code}: {text}")
        self.url = url
        self.code = code
        self.text = text


@dataclass(frozen=True)
class RapiEndpoint:
    """Where a cluster's RAPI listens and how to log in to it."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


@implementer(IOpenSSLClientConnectionCreator)
class _ChainOnlyCreator:
    """TLS connections whose peer chain must verify against the given roots; no name check."""

    def __init__(self, options: CertificateOptions) -> None:
        self._context = options.getContext()

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        connection.set_connect_state()
        return connection


@implementer(IPolicyForHTTPS)
class CaFilePolicy:
    """Trust exactly the certificates of one PEM file (a cluster's ``rapi.pem`` or its CA)."""

    def __init__(self, ca_pem: bytes) -> None:
        blocks = [
            b"-----BEGIN CERTIFICATE-----" + part.split(b"-----END CERTIFICATE-----")[0]
            for part in ca_pem.split(b"-----BEGIN CERTIFICATE-----")[1:]
        ]
        certificates = [
            Certificate.loadPEM(block + b"-----END CERTIFICATE-----\n") for block in blocks
        ]
        if not certificates:
            raise ValueError("no PEM certificate in the CA file")
        self._creator = _ChainOnlyCreator(
            CertificateOptions(trustRoot=trustRootFromCertificates(certificates))
        )

    def creatorForNetloc(self, hostname: bytes, port: int) -> _ChainOnlyCreator:
        return self._creator


def policy_for_ca_file(ca_file: str | None) -> IPolicyForHTTPS:
    """The TLS policy for a CA file, or the platform's when there is none.

    Raises RapiTlsError when the file cannot be read or holds no certificate.
    """
    if ca_file is None:
        return BrowserLikePolicyForHTTPS()
    try:
        with open(ca_file, "rb") as handle:
            return CaFilePolicy(handle.read())
    except OSError as exc:
        raise RapiTlsError(f"cannot read CA file {ca_file}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise RapiTlsError(f"CA file {ca_file} holds no usable certificate: {exc}") from None


def encode_query(query: Sequence[tuple[str, object]]) -> str:
    """Ganeti's ``_EncodeQuery``: None is empty, booleans are 0/1, containers are refused."""
    pairs: list[tuple[str, str]] = []
    for name, value in query:
        if value is None:
            pairs.append((name, ""))
        elif isinstance(value, bool):
            pairs.append((name, str(int(value))))
        elif isinstance(value, list | tuple | dict):
            raise ValueError(f"invalid query data type {type(value).__name__}")
        else:
            pairs.append((name, str(value)))
    return urlencode(pairs)


def encode_body(body: object) -> bytes:
    """JSON with sorted keys, as Ganeti's client encodes (simplejson, ``sort_keys=True``)."""
    return json.dumps(body, sort_keys=True).encode("utf-8")


def _is_tls_failure(failure_reasons: Sequence[object]) -> bool:
    return any(
        getattr(reason, "check", lambda *_: None)(SSL.Error) is not None
        for reason in failure_reasons
    )


def _describe(reasons: Sequence[object]) -> str:
    texts = [str(getattr(reason, "value", reason)) for reason in reasons]
    return "; ".join(text for text in texts if text) or "connection lost"


class IRapiReactor(IReactorTime, IReactorTCP, IReactorPluggableNameResolver):
    """What a RAPI client needs of a reactor: an HTTPS agent's connections, and timers."""


class RapiClient:
    """One cluster's RAPI. Every method returns the decoded JSON answer or raises RapiError."""

    def __init__(
        self,
        endpoint: RapiEndpoint,
        reactor: IRapiReactor,
        *,
        http: HTTPClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        user_agent: str = "ganeti-agent RAPI client",
        wait_retry_delay: float = WAIT_RETRY_DELAY,
    ) -> None:
        self.endpoint = endpoint
        self._reactor = reactor
        self._timeout = timeout
        self._user_agent = user_agent
        self._wait_retry_delay = wait_retry_delay
        if http is None:
            policy = policy_for_ca_file(endpoint.ca_file)
            http = HTTPClient(Agent(reactor, contextFactory=policy))
        self._http = http

    def _headers(self) -> dict[bytes | str, list[bytes | str]]:
        headers: dict[bytes | str, list[bytes | str]] = {
            b"Accept": [b"application/json"],
            b"Content-type": [b"application/json"],
            b"User-Agent": [self._user_agent.encode()],
        }
        if self.endpoint.username is not None:
            secret = f"{self.endpoint.username}:{self.endpoint.password or ''}"
            headers[b"Authorization"] = [b"Basic " + base64.b64encode(secret.encode("utf-8"))]
        return headers

    async def request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, object]] = (),
        body: object = None,
    ) -> JSON:
        """Send one request; the decoded JSON answer, or a RapiError saying what went wrong."""
        url = self.endpoint.base_url + path + (f"?{encode_query(query)}" if query else "")
        data = encode_body(body) if body is not None else None
        try:
            response: IResponse = await self._http.request(
                method, url, headers=self._headers(), data=data, timeout=self._timeout
            )
            raw = await self._read(response, url)
        except RapiError:
            raise
        except CancelledError:
            raise RapiConnectionError(f"{url}: no answer within {self._timeout:g} s") from None
        except net_error.DNSLookupError as exc:
            raise RapiConnectionError(
                f"{url}: cannot resolve {self.endpoint.host}: {exc}"
            ) from None
        except net_error.ConnectError as exc:
            raise RapiConnectionError(f"{url}: cannot connect: {exc}") from None
        except ResponseFailed as exc:
            if _is_tls_failure(exc.reasons):
                raise RapiTlsError(self._tls_message(url, exc.reasons)) from None
            raise RapiConnectionError(
                f"{url}: connection broken: {_describe(exc.reasons)}"
            ) from None
        except Exception as exc:
            reasons = getattr(exc, "reasons", None)
            if reasons and _is_tls_failure(reasons):
                raise RapiTlsError(self._tls_message(url, reasons)) from None
            raise RapiConnectionError(f"{url}: request failed: {exc}") from None
        return self._decode(url, response.code, raw)

    def _tls_message(self, url: str, reasons: Sequence[object]) -> str:
        against = (
            f"the CA file {self.endpoint.ca_file}" if self.endpoint.ca_file else "the system CAs"
        )
        return f"{url}: TLS certificate does not verify against {against} ({_describe(reasons)})"

    async def _read(self, response: IResponse, url: str) -> bytes:
        chunks: list[bytes] = []
        size = 0

        def collect(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise RapiResponseError(f"{url}: answer larger than {MAX_RESPONSE_BYTES} bytes")
            chunks.append(chunk)

        await treq.collect(response, collect)
        return b"".join(chunks)

    @staticmethod
    def _decode(url: str, code: int, raw: bytes) -> JSON:
        try:
            value: JSON = json.loads(raw) if raw.strip() else None
        except ValueError:
            if code != 200:
                raise RapiHttpError(url, code, raw[:200].decode("utf-8", "replace")) from None
            raise RapiResponseError(f"{url}: answer is not JSON: {raw[:80]!r}") from None
        if code == 200:
            return value
        if isinstance(value, dict) and {"code", "message"} <= value.keys():
            text = f"{value['code']} {value['message']}: {value.get('explain', '')}"
        else:
            text = str(value)
        raise RapiHttpError(url, code, text)

    # Resources, one method each, named after Ganeti's client.

    async def get_version(self) -> JSON:
        return await self.request("GET", "/version")

    async def get_info(self) -> JSON:
        return await self.request("GET", f"/{RAPI_VERSION}/info")

    async def get_features(self) -> list[str]:
        """The optional features; an old server without the resource has none."""
        try:
            features = await self.request("GET", f"/{RAPI_VERSION}/features")
        except RapiHttpError as exc:
            if exc.code == 404:
                return []
            raise
        if not features:
            return []
        url = f"{self.endpoint.base_url}/{RAPI_VERSION}/features"
        return [str(feature) for feature in _array(url, features)]

    @staticmethod
    def _instance_path(name: str, tail: str = "") -> str:
        return f"/{RAPI_VERSION}/instances/{quote(name, safe='')}{tail}"

    async def get_instance(self, name: str) -> JSONObject:
        """The instance's record; RapiResponseError when the answer is not an object."""
        path = self._instance_path(name)
        return _object(self.endpoint.base_url + path, await self.request("GET", path))

    async def get_instance_info(self, name: str, static: bool | None = None) -> str:
        query = [] if static is None else [("static", static)]
        return str(await self.request("GET", self._instance_path(name, "/info"), query))

    async def prepare_export(self, name: str, mode: str) -> str:
        path = self._instance_path(name, "/prepare-export")
        return str(await self.request("PUT", path, [("mode", mode)]))

    async def create_instance(self, body: Mapping[str, JSON]) -> str:
        """POST /2/instances with a version-1 body; refused first if the server cannot take it."""
        if INSTANCE_CREATE_REQV1 not in await self.get_features():
            raise RapiError(
                f"{self.endpoint.base_url}: server does not support new-style"
                " (version 1) instance creation requests"
            )
        document = {**body, "__version__": 1}
        return str(await self.request("POST", f"/{RAPI_VERSION}/instances", (), document))

    async def export_instance(self, name: str, body: Mapping[str, JSON]) -> str:
        return str(await self.request("PUT", self._instance_path(name, "/export"), (), dict(body)))

    async def shutdown_instance(self, name: str) -> str:
        return str(await self.request("PUT", self._instance_path(name, "/shutdown")))

    # Bulk queries and the repairs ganeti-harep submits; each write answers a job id.

    async def get_groups(self, bulk: bool = False) -> JSON:
        return await self.request("GET", f"/{RAPI_VERSION}/groups", _bulk(bulk))

    async def get_nodes(self, bulk: bool = False) -> JSON:
        return await self.request("GET", f"/{RAPI_VERSION}/nodes", _bulk(bulk))

    async def get_instances(self, bulk: bool = False) -> JSON:
        return await self.request("GET", f"/{RAPI_VERSION}/instances", _bulk(bulk))

    async def add_instance_tags(
        self, name: str, tags: Sequence[str], reason: str | None = None
    ) -> str:
        query = _with_reason([("tag", tag) for tag in tags], reason)
        return str(await self.request("PUT", self._instance_path(name, "/tags"), query))

    async def delete_instance_tags(
        self, name: str, tags: Sequence[str], reason: str | None = None
    ) -> str:
        query = _with_reason([("tag", tag) for tag in tags], reason)
        return str(await self.request("DELETE", self._instance_path(name, "/tags"), query))

    async def failover_instance(
        self, name: str, ignore_consistency: bool = False, reason: str | None = None
    ) -> str:
        path = self._instance_path(name, "/failover")
        body = {"ignore_consistency": ignore_consistency}
        return str(await self.request("PUT", path, _with_reason([], reason), body))

    async def replace_instance_disks(
        self, name: str, mode: str, iallocator: str | None = None, reason: str | None = None
    ) -> str:
        query: list[tuple[str, object]] = [("mode", mode)]
        if iallocator is not None:
            query.append(("iallocator", iallocator))
        path = self._instance_path(name, "/replace-disks")
        return str(await self.request("POST", path, _with_reason(query, reason)))

    async def recreate_instance_disks(
        self, name: str, iallocator: str | None = None, reason: str | None = None
    ) -> str:
        body = {} if iallocator is None else {"iallocator": iallocator}
        path = self._instance_path(name, "/recreate-disks")
        return str(await self.request("POST", path, _with_reason([], reason), body))

    async def reinstall_instance(
        self, name: str, start: bool = True, reason: str | None = None
    ) -> str:
        """A version-1 reinstall (the current OS); ``start`` boots the instance after it."""
        path = self._instance_path(name, "/reinstall")
        return str(await self.request("POST", path, _with_reason([], reason), {"start": start}))

    async def get_job_status(self, job_id: str) -> JSON:
        return await self.request("GET", f"/{RAPI_VERSION}/jobs/{quote(job_id, safe='')}")

    async def cancel_job(self, job_id: str) -> JSON:
        return await self.request("DELETE", f"/{RAPI_VERSION}/jobs/{quote(job_id, safe='')}")

    async def wait_for_job_change(
        self,
        job_id: str,
        fields: Sequence[str],
        previous_job_info: Sequence[JSON] | None,
        previous_log_serial: int | None,
    ) -> JSON:
        """One long poll: the changed ``{job_info, log_entries}``, or None if nothing changed."""
        body = {
            "fields": list(fields),
            "previous_job_info": None if previous_job_info is None else list(previous_job_info),
            "previous_log_serial": previous_log_serial,
        }
        path = f"/{RAPI_VERSION}/jobs/{quote(job_id, safe='')}/wait"
        return await self.request("GET", path, (), body)

    async def check_write_access(self) -> None:
        """Raise RapiHttpError 401/403 unless the user may write; nothing changes on the cluster.

        ``/2/jobs/<id>/wait`` needs write access in Ganeti, and job 0 never
        exists, so an authorised user gets a 404 at once.
        """
        try:
            await self.wait_for_job_change("0", ["status"], None, None)
        except RapiHttpError as exc:
            if exc.code in (401, 403):
                raise

    async def wait_for_job(
        self,
        job_id: str,
        on_log: LogCallback | None = None,
        on_unchanged: Callable[[], None] | None = None,
    ) -> JSONArray:
        """Wait for a job as Ganeti's ``GenericPollJob`` does; its opresult list.

        Long-polls ``/wait`` for ``status`` until final, handing each new log
        entry to ``on_log`` and calling ``on_unchanged`` when a poll times out
        (it may raise to stop waiting), then reads ``GET /2/jobs/<id>``.
        Raises JobFailed, JobLost or RapiError. A /wait whose connection drops
        is retried up to WAIT_RETRIES times in a row.
        """
        previous_info: JSONArray | None = None
        previous_serial: int | None = None
        while True:
            change = await self._wait_once(job_id, previous_info, previous_serial)
            if change is None:
                if on_unchanged is not None:
                    on_unchanged()
                continue
            job_info = change.get("job_info") if isinstance(change, dict) else None
            if not isinstance(change, dict) or not isinstance(job_info, list):
                shown = jobs.excerpt(change)
                raise RapiResponseError(f"job {job_id}: malformed wait answer {shown}")
            (status,) = job_info[:1] or [None]
            try:
                entries = jobs.log_entries(change)
            except jobs.MalformedAnswer as exc:
                raise RapiResponseError(f"job {job_id}: {exc}") from None
            for entry in entries:
                if on_log is not None:
                    on_log(entry)
                serial = entry[0]
                if isinstance(serial, int):
                    previous_serial = (
                        serial if previous_serial is None else max(previous_serial, serial)
                    )
            if not entries and status in jobs.FINAL_STATUSES:
                break
            previous_info = job_info
        try:
            job = await self.get_job_status(job_id)
        except RapiHttpError as exc:
            if exc.code == 404:
                raise jobs.JobLost(job_id) from None
            raise
        if not isinstance(job, dict):
            raise jobs.JobLost(job_id)
        return jobs.job_result(job_id, job)

    async def _wait_once(
        self, job_id: str, previous_info: JSONArray | None, previous_serial: int | None
    ) -> JSON:
        failures = 0
        while True:
            try:
                return await self.wait_for_job_change(
                    job_id, ["status"], previous_info, previous_serial
                )
            except RapiHttpError as exc:
                if exc.code == 404:
                    raise jobs.JobLost(job_id) from None
                raise
            except RapiConnectionError:
                failures += 1
                if failures > WAIT_RETRIES:
                    raise
                await sleep(self._reactor, self._wait_retry_delay)


def _object(url: str, answer: JSON) -> JSONObject:
    """``answer`` as a JSON object, or a RapiResponseError naming the resource."""
    try:
        return expect_object(answer, url)
    except JSONShapeError as exc:
        raise RapiResponseError(str(exc)) from None


def _array(url: str, answer: JSON) -> JSONArray:
    """``answer`` as a JSON array, or a RapiResponseError naming the resource."""
    try:
        return expect_array(answer, url)
    except JSONShapeError as exc:
        raise RapiResponseError(str(exc)) from None


def _bulk(bulk: bool) -> list[tuple[str, object]]:
    return [("bulk", True)] if bulk else []


def _with_reason(query: list[tuple[str, object]], reason: str | None) -> list[tuple[str, object]]:
    """Ganeti's ``_AppendReason``: the reason goes into the job's reason trail."""
    return [*query, ("reason", reason)] if reason else query


def sleep(clock: IReactorTime, seconds: float) -> Deferred[None]:
    """A Deferred that fires after ``seconds`` on ``clock``."""
    return deferLater(clock, seconds, lambda: None)
