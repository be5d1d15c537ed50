"""The LUXI backend (``-L``): the cluster as ganeti-luxid answers htools' queries.

Ganeti's ``Backend/Luxi.hs`` sends four requests over the query socket (a
Unix stream socket; each message a JSON object ended by the byte 0x03):
``Query node``, ``Query instance``, ``QueryClusterInfo`` and ``Query
group``, in that order, with exactly the fields below, then reads the
replies in the order groups, nodes, instances, cluster. This module sends
the same bytes and reads the replies the same way, with the same error
texts, and returns what the text backend returns for the same cluster.

``parse_data`` is pure (replies in, cluster out); ``read_data`` is the
Twisted client; ``load_data`` is both.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError, ConnectionRefusedError, TimeoutError
from twisted.internet.interfaces import IReactorTime, IReactorUNIX
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from ganeti_agent.htools import ghcio
from ganeti_agent.htools import instance as instance_model
from ganeti_agent.htools import node as node_model
from ganeti_agent.htools.group import Group
from ganeti_agent.htools.haskell_read import haskell_show_string
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
    pretty,
    read_bool,
    read_double,
    read_int,
    read_list,
    read_object,
    read_string,
    show_pairs,
    show_value,
)
from ganeti_agent.htools.types import AllocPolicy, IPolicy, LoadError

T = TypeVar("T")

END_OF_MESSAGE = b"\x03"
CONNECT_TIMEOUT = 30
"""Seconds to connect (Ganeti's ``luxiDefCtmo``)."""
REPLY_TIMEOUT = 180
"""Seconds to wait for each reply (Ganeti's ``luxiDefRwto``)."""
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
"""A reply larger than this is refused instead of filling the memory."""
SOCKET_LABEL = "<socket: 3>"
"""How GHC names the client socket in its errors (the first descriptor after stdio)."""

NODE_FIELDS = (
    "name", "mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal", "cnos", "offline",
    "drained", "vm_capable", "ndp/spindle_count", "group.uuid", "tags",
    "ndp/exclusive_storage", "sptotal", "spfree", "ndp/cpu_speed",
)  # fmt: skip
INSTANCE_FIELDS = (
    "name", "disk_usage", "be/memory", "be/vcpus", "status", "pnode", "snodes", "tags",
    "be/auto_balance", "disk_template", "be/spindle_use", "disk.sizes", "disk.spindles",
    "forthcoming",
)  # fmt: skip
GROUP_FIELDS = ("uuid", "name", "alloc_policy", "ipolicy", "tags")


@dataclass(frozen=True)
class Request:
    """One LUXI call."""

    method: str
    args: list[object]

    def encode(self) -> bytes:
        """The message as Ganeti's ``buildCall`` writes it (compact JSON, then 0x03)."""
        body = json.dumps(
            {"method": self.method, "args": self.args}, separators=(",", ":"), ensure_ascii=False
        )
        return body.encode("utf-8") + END_OF_MESSAGE


def _query(item: str, fields: Sequence[str]) -> Request:
    return Request("Query", [item, list(fields), None])


NODES_QUERY = _query("node", NODE_FIELDS)
INSTANCES_QUERY = _query("instance", INSTANCE_FIELDS)
CLUSTER_QUERY = Request("QueryClusterInfo", [])
GROUPS_QUERY = _query("group", GROUP_FIELDS)
REQUESTS = (NODES_QUERY, INSTANCES_QUERY, CLUSTER_QUERY, GROUPS_QUERY)
"""What htools send, in the order they send it."""


@dataclass(frozen=True)
class Answer:
    """The outcome of one call: a result, or the error text Ganeti would print."""

    result: JSValue = None
    error: str | None = None

    def get(self) -> JSValue:
        if self.error is not None:
            raise LoadError(self.error)
        return self.result


@dataclass(frozen=True)
class Replies:
    """The four answers, by query."""

    nodes: Answer
    instances: Answer
    cluster: Answer
    groups: Answer


# --- replies ---------------------------------------------------------------------

_ERROR_CODES = {
    "resolver_error": "ECodeResolver",
    "insufficient_resources": "ECodeNoRes",
    "temp_insufficient_resources": "ECodeTempNoRes",
    "wrong_input": "ECodeInval",
    "wrong_state": "ECodeState",
    "unknown_entity": "ECodeNoEnt",
    "already_exists": "ECodeExists",
    "resource_not_unique": "ECodeNotUnique",
    "internal_error": "ECodeFault",
    "environment_error": "ECodeEnviron",
}

_PREFIXES = {
    "OpExecError": "Failure: command execution error:\n",
    "TagError": "Failure: invalid tag(s) given:\n",
    "HooksFailure": "Failure: hooks general failure: ",
    "TypeEnforcementError": "Parameter Error: ",
    "JobLost": "Error checking job status: ",
    "QueryFilterParseError": "Error while parsing query filter: ",
    "GenericError": "Unhandled Ganeti error: ",
    "ConfigurationError": "Corrupt configuration file: ",
}


def _format_exception(value: JSValue) -> str:
    """Ganeti's ``formatError`` of the exception a failed call carries."""
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
        raise JSONError(
            "Invalid exception: expected '(string, [args])'       but got " + pretty(value) + "'"
        )
    name = value[0]
    args = value[1]
    messages = read_list(read_string)(args) if isinstance(args, list) else []
    text = messages[0] if messages else ""
    if name == "OpPrereqError" and len(messages) == 2 and messages[1] in _ERROR_CODES:
        return (
            "Failure: prerequisites not met for this operation:\n"
            f"error type: {_ERROR_CODES[messages[1]]}, error details:\n{text}"
        )
    if name == "ConfigurationError":
        return f"{_PREFIXES[name]}{text}\nAborting."
    if name == "ParameterError":
        return f"Failure: unknown/wrong parameter name '{text}'"
    if name == "JobQueueDrainError":
        return "Failure: the job queue is marked for drain and doesn't accept new requests"
    if name == "JobQueueFull":
        return (
            "Failure: the job queue is full and doesn't accept new job submissions until"
            " old jobs are archived"
        )
    if name in _PREFIXES:
        return _PREFIXES[name] + text
    return f"Unhandled exception: {name} {haskell_show_string(text)}"


def parse_response(raw: bytes) -> Answer:
    """Ganeti's ``parseResponse``: ``{"success": bool, "result": value}``."""
    text = raw.decode("utf-8", "replace")
    generic = "Unhandled Ganeti error: "
    if "\ufffd" in text:
        return Answer(
            error=generic + "Failed to decode UTF-8, detected replacement char after decoding"
        )
    try:
        reply = annotate("Parsing LUXI response", lambda: read_object(decode_strict(text)))
        success = from_obj(reply, "success", read_bool)
        result = from_obj(reply, "result", lambda value: value)
    except JSONError as error:
        return Answer(error=generic + str(error))
    if success:
        return Answer(result=result)
    try:
        return Answer(error=_format_exception(result))
    except JSONError as error:
        return Answer(error=f"{generic}Cannot convert value '{pretty(result)}', error: {error}")


# --- query results -----------------------------------------------------------------

Field = tuple[JSValue, JSValue]
_STATUS_ERRORS = {
    1: "Unknown field",
    2: "No data for a field",
    3: "Ganeti reports unavailable data",
    4: "Ganeti reports resource as offline",
}


def _rows(reply: JSValue) -> list[list[Field]]:
    """``extractArray``: the ``data`` of a query result, as (status, value) pairs."""
    if not isinstance(reply, JSObject):
        raise JSONError(f"Invalid input, expected dict entry but got {show_value(reply)}")
    data = from_obj(reply, "data", lambda value: value)
    if not isinstance(data, list):
        raise JSONError(f"Invalid query result, expected array but got {show_value(data)}")
    rows = []
    for row in data:
        if not isinstance(row, list):
            raise JSONError(f"Invalid query row result, expected array but got {show_value(row)}")
        fields = []
        for field in row:
            if not (isinstance(field, list) and len(field) == 2):
                raise JSONError(
                    f"Invalid query field, expected (status, value) but got {show_value(field)}"
                )
            fields.append((field[0], field[1]))
        rows.append(fields)
    return rows


def _read_status(value: JSValue) -> int:
    try:
        status = read_int(value)
    except JSONError as error:
        raise JSONError(f"Can't parse value for 'ResultStatus': {error}") from None
    if status not in (0, *_STATUS_ERRORS):
        raise JSONError(f"Invalid string value for type ResultStatus: {status}")
    return status


def _with_status(field: Field, reader: Reader[T]) -> T:
    """``fromJValWithStatus``: only a normal status carries a value."""
    status = from_jval(field[0], _read_status)
    if status != 0:
        raise JSONError(_STATUS_ERRORS[status])
    return from_jval(field[1], reader)


def _convert(kind: str, name: str) -> Callable[[str, Field, Reader[T]], T]:
    def convert(attribute: str, field: Field, reader: Reader[T]) -> T:
        owner = f"{kind} '{name}', error while reading attribute '{attribute}'"
        return annotate(owner, lambda: _with_status(field, reader))

    return convert


def _live_or(live: bool, default: T, read: Callable[[], T]) -> T:
    """``eitherLive``: an offline or non-vm-capable node's resources are not read."""
    return read() if live else default


def _or_default(default: T, read: Callable[[], T]) -> T:
    try:
        return read()
    except JSONError:
        return default


def _read_maybe_ints(value: JSValue) -> list[int | None]:
    if not isinstance(value, list):
        raise JSONError(f"Expecting array, got '{pretty(value)}'")
    return [None if item is None else from_jval(item, read_int) for item in value]


def _parse_group(row: list[Field]) -> tuple[str, Group]:
    if len(row) != len(GROUP_FIELDS):
        raise JSONError(f"Invalid group query result: {show_pairs(row)}")
    uuid, name, policy, ipolicy, tags = row
    group_name = annotate("Parsing new group", lambda: _with_status(name, read_string))
    convert = _convert("Group", group_name)
    group_uuid = convert("uuid", uuid, read_string)
    alloc_policy = convert("alloc_policy", policy, read_alloc_policy)
    group_policy = convert("ipolicy", ipolicy, read_ipolicy)
    group_tags = convert("tags", tags, read_list(read_string))
    group = Group(
        name=group_name,
        uuid=group_uuid,
        alloc_policy=AllocPolicy[alloc_policy],
        tags=tuple(group_tags),
        ipolicy=group_policy,
    )
    return group_uuid, group


def _parse_node(groups_by_uuid: dict[str, int], row: list[Field]) -> tuple[str, Node]:
    if len(row) != len(NODE_FIELDS):
        raise JSONError(f"Invalid node query result: {show_pairs(row)}")
    (name, mtotal, mnode, mfree, dtotal, dfree, ctotal, cnos, offline, drained, vm_capable,
     spindles, group_uuid, tags, excl_stor, sptotal, spfree, cpu_speed) = row  # fmt: skip
    node_name = annotate("Parsing new node", lambda: _with_status(name, read_string))
    convert = _convert("Node", node_name)
    is_offline = convert("offline", offline, read_bool)
    is_drained = convert("drained", drained, read_bool)
    is_vm_capable = convert("vm_capable", vm_capable, read_bool)
    uuid = convert("group.uuid", group_uuid, read_string)
    group = _lookup(lambda: lookup_group(groups_by_uuid, node_name, uuid))
    node_tags = convert("tags", tags, read_list(read_string))
    exclusive = convert("exclusive_storage", excl_stor, read_bool)
    speed = convert("cpu_speed", cpu_speed, read_double)
    live = not is_offline and is_vm_capable

    def live_value(attribute: str, field: Field, reader: Reader[T], default: T) -> T:
        return _live_or(live, default, lambda: convert(attribute, field, reader))

    if exclusive:
        total_spindles = live_value("sptotal", sptotal, read_int, 0)
    else:
        total_spindles = convert("spindles", spindles, read_int)
    free_spindles = _or_default(0, lambda: live_value("spfree", spfree, read_int, 0))
    total_mem = live_value("mtotal", mtotal, read_double, 0.0)
    node_mem = live_value("mnode", mnode, read_int, 0)
    free_mem = live_value("mfree", mfree, read_int, 0)
    total_disk = _or_default(0.0, lambda: live_value("dtotal", dtotal, read_double, 0.0))
    free_disk = _or_default(0, lambda: live_value("dfree", dfree, read_int, 0))
    total_cpu = live_value("ctotal", ctotal, read_double, 0.0)
    node_cpu = live_value("cnos", cnos, read_int, 0)
    node = node_model.create(
        node_name, total_mem, node_mem, free_mem, total_disk, free_disk, total_cpu, node_cpu,
        not live or is_drained, total_spindles, free_spindles, group, exclusive,
    )  # fmt: skip
    node.tags = tuple(node_tags)
    node.t_cpu_speed = speed
    return node_name, node


def _lookup(action: Callable[[], int]) -> int:
    try:
        return action()
    except LoadError as error:
        raise JSONError(str(error)) from None


def _parse_instance(nodes_by_name: dict[str, int], row: list[Field]) -> tuple[str, Instance]:
    if len(row) != len(INSTANCE_FIELDS):
        raise JSONError(f"Invalid instance query result: {show_pairs(row)}")
    (name, disk, mem, vcpus, status, pnode, snodes, tags, auto_balance, template,
     spindle_use, disk_sizes, disk_spindles, forthcoming) = row  # fmt: skip
    inst_name = annotate("Parsing new instance", lambda: _with_status(name, read_string))
    convert = _convert("Instance", inst_name)
    disk_usage = convert("disk_usage", disk, read_int)
    memory = convert("be/memory", mem, read_int)
    cpus = convert("be/vcpus", vcpus, read_int)
    primary_name = convert("pnode", pnode, read_string)
    primary = _lookup(lambda: lookup_node(nodes_by_name, inst_name, primary_name))
    secondaries = convert("snodes", snodes, read_list(read_string))
    secondary = NO_SECONDARY
    if secondaries:
        secondary = _lookup(lambda: lookup_node(nodes_by_name, inst_name, secondaries[0]))
    run_status = convert("status", status, read_instance_status)
    inst_tags = convert("tags", tags, read_list(read_string))
    balanced = convert("auto_balance", auto_balance, read_bool)
    disk_template = convert("disk_template", template, read_disk_template)
    spindles_used = convert("be/spindle_use", spindle_use, read_int)
    sizes = convert("disk.sizes", disk_sizes, read_list(read_int))
    spindles = _convert_maybe_array(inst_name, disk_spindles)
    is_forthcoming = convert("forthcoming", forthcoming, read_bool)
    disks = tuple(Disk(size, count) for size, count in zip(sizes, spindles, strict=False))
    inst = instance_model.create(
        inst_name, memory, disk_usage, disks, cpus, run_status, tuple(inst_tags), balanced,
        primary, secondary, disk_template, spindles_used, is_forthcoming,
    )  # fmt: skip
    return inst_name, inst


def _convert_maybe_array(inst_name: str, field: Field) -> list[int | None]:
    """``convertArrayMaybe``: the status is checked outside the annotation."""
    status = from_jval(field[0], _read_status)
    if status != 0:
        raise JSONError(_STATUS_ERRORS[status])
    owner = f"Instance '{inst_name}', error while reading attribute 'disk.spindles'"
    return annotate(owner, lambda: _read_maybe_ints(field[1]))


def _cluster_info(reply: JSValue) -> tuple[list[str], IPolicy, str, str]:
    if not isinstance(reply, JSObject):
        raise JSONError("Cannot parse cluster info, not a JSON record")
    owner = "Parsing cluster info"
    tags = annotate(owner, lambda: from_obj(reply, "tags", read_list(read_string)))
    policy = annotate(owner, lambda: from_obj(reply, "ipolicy", read_ipolicy))
    master = annotate(owner, lambda: from_obj(reply, "master", read_string))
    hypervisor = annotate(owner, lambda: from_obj(reply, "default_hypervisor", read_hypervisor))
    return tags, policy, master, hypervisor


def parse_data(replies: Replies) -> LiveCluster:
    """``parseData``: the cluster from the four answers; ``LoadError`` with Ganeti's text."""
    try:
        groups = [_parse_group(row) for row in _rows(replies.groups.get())]
        groups_by_uuid, _ = index_by_name(groups)
        nodes = [_parse_node(groups_by_uuid, row) for row in _rows(replies.nodes.get())]
        nodes_by_name, node_list = index_by_name(nodes)
        instances = [_parse_instance(nodes_by_name, row) for row in _rows(replies.instances.get())]
        tags, policy, master, hypervisor = _cluster_info(replies.cluster.get())
    except JSONError as error:
        raise LoadError(str(error)) from None
    data = assemble(
        groups, node_list, [inst for _, inst in instances], tags, policy, master, nodes_by_name
    )
    return LiveCluster(data=data, hypervisor=hypervisor)


# --- the client --------------------------------------------------------------------


class LuxiProtocol(Protocol):
    """Sends calls and hands back each 0x03-terminated reply in order."""

    def __init__(
        self,
        clock: IReactorTime,
        reply_timeout: float = REPLY_TIMEOUT,
        max_message: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._clock = clock
        self._reply_timeout = reply_timeout
        self._max_message = max_message
        self._buffer = b""
        self._waiting: list[Deferred[bytes]] = []
        self._closed: Failure | None = None

    def call(self, request: Request) -> Deferred[bytes]:
        """Send one request; the Deferred fires with the raw reply (without 0x03)."""
        waiting: Deferred[bytes] = Deferred()
        if self._closed is not None:
            waiting.errback(self._closed)
            return waiting
        waiting.addTimeout(self._reply_timeout, self._clock, self._timed_out)
        self._waiting.append(waiting)
        assert self.transport is not None
        self.transport.write(request.encode())
        return waiting

    def _timed_out(self, _result: object, _timeout: float) -> None:
        raise LoadError("user error (Timeout in reading a response)")

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while END_OF_MESSAGE in self._buffer and self._waiting:
            message, self._buffer = self._buffer.split(END_OF_MESSAGE, 1)
            self._waiting.pop(0).callback(message)
        if len(self._buffer) > self._max_message:
            self._fail_all(LoadError(f"LUXI reply larger than {self._max_message} bytes"))
            assert self.transport is not None
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._fail_all(LoadError(f"{SOCKET_LABEL}: hWaitForInput: end of file"))

    def _fail_all(self, error: Exception) -> None:
        self._closed = Failure(error)
        waiting, self._waiting = self._waiting, []
        for pending in waiting:
            if not pending.called:
                pending.errback(self._closed)


MAX_SOCKET_PATH = 108
"""``sun_path``'s size on Linux. GHC refuses longer paths before connecting; Python
cannot connect to one of exactly this length either, so that is refused the same way."""


def _connect_error(error: BaseException) -> LoadError:
    """The text of GHC's ``IOException`` for a failed ``connect``."""
    if isinstance(error, TimeoutError):
        return LoadError("user error (Timeout in creating a connection)")
    code = errno.ECONNREFUSED if isinstance(error, ConnectionRefusedError) else None
    if code is None and isinstance(error, ConnectError):
        code = error.osError if isinstance(error.osError, int) else None
    kind = ghcio.io_kind(code) if code is not None else "failed"
    reason = os.strerror(code) if code is not None else str(error)
    return LoadError(f"Network.Socket.connect: {SOCKET_LABEL}: {kind} ({reason})")


async def _read(
    reactor: IReactorUNIX, clock: IReactorTime, path: str, reply_timeout: float
) -> Replies:
    if len(os.fsencode(path)) >= MAX_SOCKET_PATH:
        raise LoadError("pokeSockAddr: path is too long")
    endpoint = UNIXClientEndpoint(reactor, path, timeout=CONNECT_TIMEOUT)
    try:
        protocol = await connectProtocol(endpoint, LuxiProtocol(clock, reply_timeout))
    except Exception as error:
        raise _connect_error(error) from None
    try:
        answers = [parse_response(await protocol.call(request)) for request in REQUESTS]
    finally:
        assert protocol.transport is not None
        protocol.transport.loseConnection()
    nodes, instances, cluster, groups = answers
    return Replies(nodes=nodes, instances=instances, cluster=cluster, groups=groups)


def read_data(
    reactor: IReactorUNIX, path: str, reply_timeout: float = REPLY_TIMEOUT
) -> Deferred[Replies]:
    """Connect, send the four requests in Ganeti's order, and collect the answers.

    ``reactor`` must also be an ``IReactorTime`` (every real reactor is); the
    Deferred fails with ``LoadError`` carrying Ganeti's text when the socket
    cannot be reached, closes early or stays silent.
    """
    clock = cast(IReactorTime, reactor)
    return Deferred.fromCoroutine(_read(reactor, clock, path, reply_timeout))


def load_data(
    reactor: IReactorUNIX, path: str, reply_timeout: float = REPLY_TIMEOUT
) -> Deferred[LiveCluster]:
    """``loadData``: read the cluster from the LUXI socket at ``path``."""
    return read_data(reactor, path, reply_timeout).addCallback(parse_data)
