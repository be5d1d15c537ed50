"""The RAPI backend (``-m``): the cluster as Ganeti's remote API shows it.

Ganeti's ``Backend/Rapi.hs`` fetches ``/2/groups?bulk=1``,
``/2/nodes?bulk=1``, ``/2/instances?bulk=1`` and ``/2/info`` with curl, one
after the other, and only then reads them (groups first), so the first
failure in that order is the one reported. A bare host becomes
``https://HOST:5080``; an address with a ``:`` is used as given (without a
scheme, curl speaks plain HTTP); ``file://DIR`` reads ``groups.json``,
``nodes.json``, ``instances.json`` and ``info.json`` from a directory.

TLS: like Ganeti (curl with ``SSLVerifyPeer`` and ``SSLVerifyHost`` off),
the server's certificate is **not** checked, because Ganeti's RAPI
certificate is self-signed; the connection is encrypted but not
authenticated. Credentials, if the RAPI needs them, go in the URL
(``https://USER:PASSWORD@HOST:5080``) and are sent as HTTP basic auth, as
curl does; error messages show the URL with the password replaced by ``***``.

Timeouts are Ganeti's: 15 s to connect, 60 s for each resource. A body
larger than ``MAX_BODY_BYTES`` is refused.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar, cast
from urllib.parse import quote, unquote, urlsplit

from OpenSSL import SSL
from twisted.internet import defer
from twisted.internet import error as net_error
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IPushProducer,
    IReactorTCP,
    IReactorTime,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.ssl import CertificateOptions
from twisted.python.failure import Failure
from twisted.web import client as web_client
from twisted.web import http as web_http
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from ganeti_agent.htools import ghcio
from ganeti_agent.htools import instance as instance_model
from ganeti_agent.htools import node as node_model
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.instance import NO_SECONDARY, Disk, Instance
from ganeti_agent.htools.live import (
    LiveCluster,
    assemble,
    index_by_name,
    read_alloc_policy,
    read_disk_template,
    read_hypervisor,
    read_instance_status,
    read_ipolicy,
)
from ganeti_agent.htools.loader import lookup_group, lookup_node
from ganeti_agent.htools.node import Node
from ganeti_agent.htools.textjson import (
    JSObject,
    JSONError,
    JSValue,
    Reader,
    annotate,
    decode_strict,
    from_jval,
    from_obj,
    maybe_from_obj,
    pretty,
    read_bool,
    read_double,
    read_int,
    read_list,
    read_object,
    read_string,
)
from ganeti_agent.htools.types import AllocPolicy, IPolicy, LoadError

T = TypeVar("T")

DEFAULT_RAPI_PORT = 5080
CONNECT_TIMEOUT = 15
"""Seconds to connect (Ganeti's ``connTimeout``)."""
QUERY_TIMEOUT = 60
"""Seconds for one resource, connection included (Ganeti's ``queryTimeout``)."""
MAX_BODY_BYTES = 256 * 1024 * 1024
"""A larger reply is refused instead of filling the memory."""
FILE_PREFIX = "file://"
DEFAULT_GROUP_ID = "00000000-0000-0000-0000-000000000000"
RESOURCES = ("/2/groups?bulk=1", "/2/nodes?bulk=1", "/2/instances?bulk=1", "/2/info")
"""What htools fetch, in the order they fetch it."""
FILES = ("groups.json", "nodes.json", "instances.json", "info.json")


@dataclass(frozen=True)
class Body:
    """One resource: its text, or the error text Ganeti would print."""

    text: str = ""
    error: str | None = None

    def get(self) -> str:
        if self.error is not None:
            raise LoadError(self.error)
        return self.text


@dataclass(frozen=True)
class Bodies:
    groups: Body
    nodes: Body
    instances: Body
    info: Body


def format_host(master: str) -> str:
    """Ganeti's ``formatHost``: a bare host name means HTTPS on the RAPI port."""
    if ":" in master:
        return master
    return f"https://{master}:{DEFAULT_RAPI_PORT}"


# --- parsing -------------------------------------------------------------------------


def _objects(owner: str, body: Body) -> list[JSObject]:
    """``loadJSArray``: the body must be a JSON array of objects."""
    text = body.get()
    return annotate(owner, lambda: read_list(read_object)(decode_strict(text)))


def _extract(owner: str, obj: JSObject, key: str, reader: Reader[T]) -> T:
    """``tryFromObj``."""
    return annotate(owner, lambda: from_obj(obj, key, reader))


def _any(value: JSValue) -> JSValue:
    return value


def _parse_group(obj: JSObject) -> tuple[str, Group]:
    name = _extract("Parsing new group", obj, "name", read_string)
    owner = f"Group '{name}'"
    uuid = _extract(owner, obj, "uuid", read_string)
    policy = _extract(owner, obj, "alloc_policy", read_alloc_policy)
    ipolicy = _extract(owner, obj, "ipolicy", read_ipolicy)
    tags = _extract(owner, obj, "tags", read_list(read_string))
    group = Group(
        name=name,
        uuid=uuid,
        alloc_policy=AllocPolicy[policy],
        tags=tuple(tags),
        ipolicy=ipolicy,
    )
    return uuid, group


def _lookup(action: Callable[[], int]) -> int:
    try:
        return action()
    except LoadError as error:
        raise JSONError(str(error)) from None


def _as_object(value: JSValue) -> JSObject:
    if isinstance(value, JSObject):
        return value
    raise JSONError("not an object")


def _parse_node(groups_by_uuid: dict[str, int], obj: JSObject) -> tuple[str, Node]:
    name = _extract("Parsing new node", obj, "name", read_string)
    owner = f"Node '{name}', error while parsing data"

    def extract(key: str, reader: Reader[T]) -> T:
        return _extract(owner, obj, key, reader)

    offline = extract("offline", read_bool)
    drained = extract("drained", read_bool)
    vm_capable = annotate(owner, lambda: maybe_from_obj(obj, "vm_capable", read_bool))
    ndparams = _as_object(extract("ndparams", _any))
    exclusive = _extract(owner, ndparams, "exclusive_storage", read_bool)
    group_uuid = annotate(owner, lambda: maybe_from_obj(obj, "group.uuid", read_string))
    group = _lookup(
        lambda: lookup_group(
            groups_by_uuid, name, DEFAULT_GROUP_ID if group_uuid is None else group_uuid
        )
    )
    live = not offline and (vm_capable is None or vm_capable)

    def live_value(key: str, reader: Reader[T], default: T) -> T:
        return extract(key, reader) if live else default

    def live_or_default(key: str, reader: Reader[T], default: T) -> T:
        if not live:
            return default
        found = maybe_from_obj(obj, key, reader)
        return default if found is None else found

    if exclusive:
        total_spindles = live_value("sptotal", read_int, 0)
    else:
        total_spindles = _extract(owner, ndparams, "spindle_count", read_int)
    free_spindles = live_or_default("spfree", read_int, 0)
    total_mem = live_value("mtotal", read_double, 0.0)
    node_mem = live_value("mnode", read_int, 0)
    free_mem = live_value("mfree", read_int, 0)
    total_disk = live_or_default("dtotal", read_double, 0.0)
    free_disk = live_or_default("dfree", read_int, 0)
    total_cpu = live_value("ctotal", read_double, 0.0)
    node_cpu = live_value("cnos", read_int, 0)
    tags = extract("tags", read_list(read_string))
    node = node_model.create(
        name, total_mem, node_mem, free_mem, total_disk, free_disk, total_cpu, node_cpu,
        not live or drained, total_spindles, free_spindles, group, exclusive,
    )  # fmt: skip
    node.tags = tuple(tags)
    return name, node


def _read_spindles(owner: str, obj: JSObject) -> list[int | None]:
    """``tryArrayMaybeFromObj``: a list of numbers or nulls."""

    def read() -> list[int | None]:
        value = from_obj(obj, "disk.spindles", _any)
        if not isinstance(value, list):
            raise JSONError(f"Expecting array, got '{pretty(value)}'")
        return [None if item is None else from_jval(item, read_int) for item in value]

    return annotate(owner, read)


def _memory(owner: str, obj: JSObject, beparams: JSObject) -> int:
    """The running size if the RAPI reports one, else the configured one."""
    oper_ram = _extract(owner, obj, "oper_ram", _any)
    if isinstance(oper_ram, Fraction):
        return annotate(owner, lambda: from_jval(oper_ram, read_int))
    try:
        return _extract(owner, beparams, "memory", read_int)
    except JSONError as first:
        try:
            return _extract(owner, beparams, "maxmem", read_int)
        except JSONError as second:
            raise JSONError(f"{first}; {second}") from None


def _parse_instance(nodes_by_name: dict[str, int], obj: JSObject) -> tuple[str, Instance]:
    name = _extract("Parsing new instance", obj, "name", read_string)
    owner = f"Instance '{name}', error while parsing data"

    def extract(source: JSObject, key: str, reader: Reader[T]) -> T:
        return _extract(owner, source, key, reader)

    disk = extract(obj, "disk_usage", read_int)
    sizes = extract(obj, "disk.sizes", read_list(read_int))
    spindles = _read_spindles(owner, obj)
    beparams = extract(obj, "beparams", read_object)
    memory = _memory(owner, obj, beparams)
    vcpus = extract(beparams, "vcpus", read_int)
    primary_name = extract(obj, "pnode", read_string)
    primary = _lookup(lambda: lookup_node(nodes_by_name, name, primary_name))
    secondaries = extract(obj, "snodes", read_list(_any))
    secondary = NO_SECONDARY
    if secondaries:
        first = secondaries[0]
        if not isinstance(first, str):
            raise JSONError("Wrong JSON type")
        secondary = _lookup(lambda: lookup_node(nodes_by_name, name, first))
    status = extract(obj, "status", read_instance_status)
    tags = extract(obj, "tags", read_list(read_string))
    auto_balance = extract(beparams, "auto_balance", read_bool)
    template = extract(obj, "disk_template", read_disk_template)
    spindle_use = extract(beparams, "spindle_use", read_int)
    try:
        forthcoming = extract(obj, "forthcoming", read_bool)
    except JSONError:
        forthcoming = False
    disks = tuple(Disk(size, count) for size, count in zip(sizes, spindles, strict=False))
    inst = instance_model.create(
        name, memory, disk, disks, vcpus, status, tuple(tags), auto_balance, primary,
        secondary, template, spindle_use, forthcoming,
    )  # fmt: skip
    return name, inst


def _parse_cluster(body: Body) -> tuple[str, list[str], IPolicy, str]:
    text = body.get()
    info = annotate("Parsing cluster info", lambda: read_object(decode_strict(text)))
    owner = "Parsing cluster data"
    master = _extract(owner, info, "master", read_string)
    tags = _extract(owner, info, "tags", read_list(read_string))
    policy = _extract(owner, info, "ipolicy", read_ipolicy)
    hypervisor = _extract(owner, info, "default_hypervisor", read_hypervisor)
    return master, tags, policy, hypervisor


def parse_data(bodies: Bodies) -> LiveCluster:
    """``parseData``: the cluster from the four bodies; ``LoadError`` with Ganeti's text."""
    try:
        groups = [_parse_group(o) for o in _objects("Parsing group data", bodies.groups)]
        groups_by_uuid, _ = index_by_name(groups)
        nodes = [
            _parse_node(groups_by_uuid, o) for o in _objects("Parsing node data", bodies.nodes)
        ]
        nodes_by_name, node_list = index_by_name(nodes)
        instances = [
            _parse_instance(nodes_by_name, o)
            for o in _objects("Parsing instance data", bodies.instances)
        ]
        master, tags, policy, hypervisor = _parse_cluster(bodies.info)
    except JSONError as error:
        raise LoadError(str(error)) from None
    data = assemble(
        groups, node_list, [inst for _, inst in instances], tags, policy, master, nodes_by_name
    )
    return LiveCluster(data=data, hypervisor=hypervisor)


# --- fetching ------------------------------------------------------------------------


@implementer(IOpenSSLClientConnectionCreator)
class _Unverified:
    """TLS without checking the peer, as Ganeti's curl options do (SNI still sent)."""

    def __init__(self, hostname: str) -> None:
        self._context = CertificateOptions(verify=False).getContext()
        self._hostname = hostname

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        if self._hostname and not _is_ip_address(self._hostname):
            connection.set_tlsext_host_name(self._hostname.encode("idna"))
        connection.set_connect_state()
        return connection


def _is_ip_address(host: str) -> bool:
    return all(part.isdigit() for part in host.split(".")) or ":" in host


@implementer(IPolicyForHTTPS)
class UnverifiedTLS:
    """The HTTPS policy of Ganeti's RAPI backend: encrypt, do not authenticate the server."""

    def creatorForNetloc(self, hostname: bytes, port: int) -> _Unverified:
        return _Unverified(hostname.decode("ascii", "replace"))


def _shown(url: str) -> str:
    """The URL for messages, with a password hidden."""
    try:
        parts = urlsplit(url) if "://" in url else None
        password = None if parts is None else parts.password
    except ValueError:
        return url
    if parts is None or password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return url.replace(parts.netloc, f"{user}:***@{host}", 1)


def _timed_out(_result: object, _timeout: float) -> None:
    """However the agent reports the cancelled request, it was a timeout."""
    raise defer.TimeoutError()


class _BodyTooLarge(Exception):
    """A reply beyond ``MAX_BODY_BYTES``."""


def _curl_code(error: BaseException) -> str:
    """The name of the curl error Ganeti would have reported for this failure."""
    reasons = [reason.value for reason in getattr(error, "reasons", None) or ()]
    if any(isinstance(reason, SSL.Error) for reason in reasons):
        return "CurlSSLConnectError"
    codes: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
        ((defer.TimeoutError, CancelledError, net_error.TimeoutError), "CurlOperationTimeout"),
        (net_error.DNSLookupError, "CurlCouldntResolveHost"),
        (SSL.Error, "CurlSSLConnectError"),
        (web_client.ResponseNeverReceived, "CurlGotNothing"),
        (web_client.ResponseFailed, "CurlPartialFile"),
        (net_error.ConnectError, "CurlCouldntConnect"),
        (_BodyTooLarge, "CurlFilesizeExceeded"),
    )
    for kinds, name in codes:
        if isinstance(error, kinds):
            return name
    return "CurlRecvError"


class _Collect(Protocol):
    """Collects a response body up to a size, as ``readBody`` does without one."""

    def __init__(self, done: Deferred[bytes], max_body: int) -> None:
        self._done = done
        self._max_body = max_body
        self._chunks: list[bytes] = []
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        if self._done.called:
            return
        self._size += len(data)
        if self._size > self._max_body:
            self._done.errback(_BodyTooLarge())
            cast(IPushProducer, self.transport).stopProducing()
            return
        self._chunks.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._done.called:
            return
        if reason.check(web_client.ResponseDone, web_http.PotentialDataLoss):
            self._done.callback(b"".join(self._chunks))
        else:
            self._done.errback(reason)


def _request_target(url: str) -> tuple[bytes, Headers]:
    """The URL as bytes Twisted's agent takes, and the basic auth header from its user info.

    Host names are IDNA-encoded; IPv6 literals stay in brackets.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    host_text = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    port = f":{parts.port}" if parts.port is not None else ""
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = f"?{parts.query}" if parts.query else ""
    target = f"{parts.scheme}://{host_text}{port}{path}{query}".encode("ascii")
    headers = Headers()
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        headers.addRawHeader(b"authorization", f"Basic {token}".encode("ascii"))
    return target, headers


class Fetcher:
    """Fetches the resources over HTTP(S) with Twisted's agent, as Ganeti's curl calls do.

    ``reactor`` must also be an ``IReactorTime`` (every real reactor is), for the timeout.
    """

    def __init__(
        self,
        reactor: IReactorTCP,
        max_body: int = MAX_BODY_BYTES,
        query_timeout: float = QUERY_TIMEOUT,
    ) -> None:
        self._clock = cast(IReactorTime, reactor)
        self._max_body = max_body
        self._query_timeout = query_timeout
        self._agent = web_client.Agent(
            reactor, contextFactory=UnverifiedTLS(), connectTimeout=CONNECT_TIMEOUT
        )

    async def fetch(self, url: str) -> Body:
        """One resource; any failure is the body's error, in Ganeti's words."""
        failed = f"Curl error for '{_shown(url)}', error "
        target = url if "://" in url else "http://" + url
        scheme = urlsplit(target).scheme.lower() if _parses(target) else ""
        if scheme not in ("http", "https"):
            code = "CurlUnspportedProtocol" if scheme else "CurlUrlMalformat"
            return Body(error=failed + code)
        try:
            request_url, headers = _request_target(target)
        except (ValueError, UnicodeError):
            return Body(error=failed + "CurlUrlMalformat")
        request = Deferred.fromCoroutine(self._get(request_url, headers))
        request.addTimeout(self._query_timeout, self._clock, onTimeoutCancel=_timed_out)
        try:
            status, content = await request
        except Exception as error:  # every failure becomes one curl code, as in Ganeti
            return Body(error=failed + _curl_code(error))
        if status >= 400:
            return Body(error=failed + "CurlHttpReturnedError")
        return Body(text=content.decode("utf-8", "replace"))

    async def _get(self, url: bytes, headers: Headers) -> tuple[int, bytes]:
        response = await self._agent.request(b"GET", url, headers)
        body: Deferred[bytes] = Deferred(lambda _: response.deliverBody(_Discard()))
        response.deliverBody(_Collect(body, self._max_body))
        return response.code, await body


class _Discard(Protocol):
    """Where a cancelled body goes."""


_HOST = re.compile(r"[\w.~%-]+|[0-9A-Fa-f:.]+")


def _parses(url: str) -> bool:
    """Whether curl would take this as a URL: a host name it accepts, a valid port."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return parts.hostname is not None and _HOST.fullmatch(parts.hostname) is not None


def _read_files(directory: str) -> Bodies:
    """``readDataFile``: the four JSON files of a directory, errors as GHC words them."""
    bodies = []
    for name in FILES:
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read(MAX_BODY_BYTES + 1)
        except OSError as error:
            bodies.append(Body(error=ghcio.open_error(path, error)))
            continue
        if len(text) > MAX_BODY_BYTES:
            bodies.append(Body(error=f"{path}: larger than {MAX_BODY_BYTES} bytes"))
        else:
            bodies.append(Body(text=text))
    return Bodies(*bodies)


async def _read_http(reactor: IReactorTCP, master: str) -> Bodies:
    fetcher = Fetcher(reactor)
    base = format_host(master)
    bodies = [await fetcher.fetch(base + resource) for resource in RESOURCES]
    return Bodies(*bodies)


def read_data(reactor: IReactorTCP, master: str) -> Deferred[Bodies]:
    """``readData``: fetch the four resources (or read them from a ``file://`` directory).

    ``reactor`` must be a real reactor (TCP, SSL, time). The Deferred never
    fails for an unreachable or broken RAPI: each body carries its error text.
    """
    if master.startswith(FILE_PREFIX):
        bodies: Deferred[Bodies] = Deferred()
        bodies.callback(_read_files(master[len(FILE_PREFIX) :]))
        return bodies
    return Deferred.fromCoroutine(_read_http(reactor, master))


def load_data(reactor: IReactorTCP, master: str) -> Deferred[LiveCluster]:
    """``loadData``: the cluster from the RAPI at ``master``."""
    return read_data(reactor, master).addCallback(parse_data)
