"""confd's wire format: ``plj0`` framing, the signed envelope, requests and replies.

Everything here is pure (bytes in, values out) so the server, the client and the tests
share one definition of the protocol (spec/confd.md sections 2, 3 and 7). Parsing is
as strict as the Haskell daemon's, so that we drop exactly what it drops.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from json.decoder import scanstring as _scan_string  # type: ignore[attr-defined]
from typing import NoReturn, TypeAlias, TypeGuard

from ganeti_agent.confd.constants import (
    MAGIC,
    MAX_CLOCK_SKEW,
    MAX_REQUEST_SIZE,
    PROTOCOL_VERSION,
    QueryKey,
    ReplyStatus,
    RequestField,
    RequestType,
)
from ganeti_agent.core.jsontypes import JSON, JSONObject

ENVELOPE_KEYS = frozenset({"hmac", "msg", "salt"})
REQUEST_KEYS = frozenset({"protocol", "type", "query", "rsalt"})
REPLY_KEYS = ("protocol", "status", "answer", "serial")
_TIMESTAMP = re.compile(r"[ \t\n\r\f\v]*-?[0-9]+\Z")
_JSON_SPACE = " \t\n\r"
_SPACE = re.compile(f"[{_JSON_SPACE}]*")
#: Members an envelope may have: three, plus room for Python's optional key_selector.
MAX_ENVELOPE_MEMBERS = 8


class DropReason(enum.Enum):
    """Why the server ignored a datagram; each has its own counter."""

    TOO_LARGE = "too-large"
    BAD_MAGIC = "bad-magic"
    BAD_ENVELOPE = "bad-envelope"
    BAD_HMAC = "bad-hmac"
    BAD_REQUEST = "bad-request"
    BAD_TIMESTAMP = "bad-timestamp"
    CLOCK_SKEW = "clock-skew"
    NO_KEY = "no-key"
    REPLAY = "replay"
    INTERNAL_ERROR = "internal-error"


class ProtocolError(ValueError):
    """A datagram that must be dropped; ``reason`` says which check it failed."""

    def __init__(self, reason: DropReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def sign(key: bytes, salt: str, msg: str) -> str:
    """Lowercase hex HMAC-SHA1 over ``salt`` then ``msg``, as UTF-8."""
    return hmac.new(key, (salt + msg).encode("utf-8"), hashlib.sha1).hexdigest()


def verify(key: bytes, salt: str, msg: str, digest: str) -> bool:
    """Constant-time check of a received digest; case does not matter, as in Ganeti.

    Text no client can have signed (an escaped lone surrogate) simply fails.
    """
    if not digest.isascii():
        return False
    try:
        expected = sign(key, salt, msg)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), digest.lower().encode("ascii"))


def dump_compact(value: JSON) -> str:
    """Compact, ASCII-only JSON: the Haskell daemon's formatting, safe for every client."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def pack(key: bytes, salt: str, msg: str) -> bytes:
    """A signed datagram, formatted as the Haskell side does (hmac, msg, salt)."""
    envelope: JSONObject = {"hmac": sign(key, salt, msg), "msg": msg, "salt": salt}
    return MAGIC + dump_compact(envelope).encode("ascii")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"invalid JSON constant {name}")


def load_json(text: str) -> JSON:
    """Strict JSON: no NaN/Infinity, which Ganeti's parsers do not know.

    Every failure is a ``ValueError``, nesting too deep for the parser included.
    """
    try:
        loaded: JSON = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return loaded


def load_envelope(text: str) -> dict[str, str]:
    """The outer object, read as what it must be: a few members, all strings.

    It is the first thing parsed of unauthenticated input, so it never reaches a
    general JSON parser: nothing here recurses or converts a number, and the work is
    one pass over the text (json's C scanner decodes the strings). Trailing JSON
    whitespace is accepted, as the Haskell parser accepts it.
    """
    if not text.startswith("{"):
        raise ValueError("not a JSON object")
    members: dict[str, str] = {}
    position = _skip_space(text, 1)
    closing = text.startswith("}", position)
    read = 0
    while not closing:
        read += 1
        if read > MAX_ENVELOPE_MEMBERS:
            raise ValueError(f"more than {MAX_ENVELOPE_MEMBERS} members")
        name, position = _string(text, position)
        position = _after(text, position, ":")
        members[name], position = _string(text, position)
        position = _skip_space(text, position)
        closing = text.startswith("}", position)
        if not closing:
            position = _after(text, position, ",")
    if _skip_space(text, position + 1) != len(text):
        raise ValueError(f"extra data at character {position + 1}")
    return members


def _skip_space(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    return match.end() if match else position


def _string(text: str, position: int) -> tuple[str, int]:
    """A JSON string at ``position`` (after optional space) and where it ends."""
    position = _skip_space(text, position)
    if not text.startswith('"', position):
        raise ValueError(f"expected a string at character {position}")
    value: str
    end: int
    value, end = _scan_string(text, position + 1)
    return value, end


def _after(text: str, position: int, separator: str) -> int:
    """The position after ``separator``, which must follow (after optional space)."""
    position = _skip_space(text, position)
    if not text.startswith(separator, position):
        raise ValueError(f"expected {separator!r} at character {position}")
    return position + 1


@dataclass(frozen=True)
class Envelope:
    """The three decoded members of a signed message."""

    msg: str
    salt: str
    hmac: str


def unpack(datagram: bytes) -> Envelope:
    """Framing and envelope checks (pipeline steps 2-3); raises ``ProtocolError``.

    Bytes become characters one to one (Latin-1), as in the Haskell daemon, so a raw
    non-ASCII request fails the HMAC there and here alike.
    """
    if not datagram.startswith(MAGIC):
        raise ProtocolError(DropReason.BAD_MAGIC, "invalid magic code")
    return _read_envelope(datagram[len(MAGIC) :].decode("latin-1"), exact=True)


def _read_envelope(text: str, exact: bool) -> Envelope:
    """The three members; ``exact`` refuses others, as the Haskell side does."""
    try:
        outer = load_envelope(text)
    except ValueError as exc:
        raise ProtocolError(DropReason.BAD_ENVELOPE, f"parsing signed message: {exc}") from None
    keys = set(outer)
    if (keys != ENVELOPE_KEYS) if exact else not keys >= ENVELOPE_KEYS:
        needs = "exactly hmac, msg, salt" if exact else "hmac, msg, salt"
        raise ProtocolError(DropReason.BAD_ENVELOPE, f"signed message needs {needs}")
    return Envelope(outer["msg"], outer["salt"], outer["hmac"])


def authenticate(key: bytes, envelope: Envelope) -> None:
    if not verify(key, envelope.salt, envelope.msg, envelope.hmac):
        raise ProtocolError(DropReason.BAD_HMAC, "HMAC verification failed")


@dataclass(frozen=True)
class DictQuery:
    """A dictionary query: link, ip, ip list and CLUSTER_MASTER field selectors."""

    link: str | None = None
    ip: str | None = None
    ip_list: tuple[str, ...] = ()
    fields: tuple[RequestField, ...] = ()


Query: TypeAlias = str | DictQuery | None

Address: TypeAlias = tuple[str, int]
"""A UDP peer as Twisted types it (an IPv6 peer's tuple also has flow and scope)."""


@dataclass(frozen=True)
class Request:
    """A parsed request; ``query`` is None (empty), a string or a ``DictQuery``."""

    type: RequestType
    query: Query
    rsalt: str
    protocol: int = PROTOCOL_VERSION


def _is_int(value: object) -> TypeGuard[int | float]:
    """An integer, or a float with an integral value (Haskell's JSON reads both)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _optional_str(value: object, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{what} must be a string")


def _string_list(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError("ip list must be a list of strings")


def _fields(value: object) -> tuple[RequestField, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(_is_int(item) for item in value):
        raise ValueError("fields must be a list of integers")
    try:
        return tuple(RequestField(int(item)) for item in value)
    except ValueError:
        raise ValueError("unknown field selector") from None


def parse_query(value: object) -> Query:
    """The query as the Haskell server reads it, whatever the request type."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise ValueError("query must be null, a string or an object")
    if not set(value) <= set(QueryKey):
        raise ValueError("unknown query key")
    return DictQuery(
        link=_optional_str(value.get(QueryKey.LINK), "link"),
        ip=_optional_str(value.get(QueryKey.IP), "ip"),
        ip_list=_string_list(value.get(QueryKey.IPLIST)),
        fields=_fields(value.get(QueryKey.FIELDS)),
    )


def parse_request(msg: str) -> Request:
    """The inner request (pipeline step 5); anything unexpected is a ``ProtocolError``."""
    try:
        inner = load_json(msg)
        if not isinstance(inner, dict) or not set(inner) <= REQUEST_KEYS:
            raise ValueError("request must be an object with known keys")
        protocol, rtype, rsalt = inner.get("protocol"), inner.get("type"), inner.get("rsalt")
        if not _is_int(protocol) or not _is_int(rtype) or not isinstance(rsalt, str):
            raise ValueError("protocol and type must be integers, rsalt a string")
        rsalt.encode("utf-8")  # the reply is signed with it: no lone surrogates
        assert isinstance(protocol, int | float) and isinstance(rtype, int | float)
        request_type = RequestType(int(rtype))
        return Request(request_type, parse_query(inner.get("query")), rsalt, int(protocol))
    except ValueError as exc:
        raise ProtocolError(DropReason.BAD_REQUEST, f"parsing message: {exc}") from None


def check_timestamp(salt: str, now: float) -> None:
    """Pipeline step 6: ``salt`` is an integer within ±300 s of our clock."""
    if not _TIMESTAMP.match(salt):
        raise ProtocolError(DropReason.BAD_TIMESTAMP, f"parsing timestamp: {salt!r}")
    if abs(int(salt) - int(now)) > MAX_CLOCK_SKEW:
        raise ProtocolError(DropReason.CLOCK_SKEW, "too old/too new timestamp or clock skew")


def decode_request(key: bytes, datagram: bytes, now: float) -> Request:
    """Every check of the server pipeline (spec 2.9 steps 1-6), in the daemon's order."""
    if len(datagram) > MAX_REQUEST_SIZE:
        raise ProtocolError(DropReason.TOO_LARGE, f"request of {len(datagram)} bytes")
    envelope = unpack(datagram)
    authenticate(key, envelope)
    request = parse_request(envelope.msg)
    check_timestamp(envelope.salt, now)
    return request


def request_message(
    request_type: RequestType, query: JSON, rsalt: str, protocol: int = PROTOCOL_VERSION
) -> str:
    """The inner request text; a None query is left out, as Ganeti's Python client does."""
    inner: dict[str, JSON] = {"protocol": protocol, "type": int(request_type)}
    if query is not None:
        inner["query"] = query
    inner["rsalt"] = rsalt
    return dump_compact(inner)


def encode_request(
    key: bytes, request_type: RequestType, query: JSON, rsalt: str, now: float
) -> bytes:
    """A signed request datagram with the timestamp salt of a client at ``now``."""
    return pack(key, str(int(now)), request_message(request_type, query, rsalt))


@dataclass(frozen=True)
class Reply:
    """The inner reply object."""

    status: int
    answer: JSON
    serial: int
    protocol: int = PROTOCOL_VERSION

    @property
    def ok(self) -> bool:
        return self.status == ReplyStatus.OK


def reply_message(reply: Reply) -> str:
    """Compact inner reply with members in 3.0.2's order."""
    return dump_compact(
        {
            "protocol": reply.protocol,
            "status": reply.status,
            "answer": reply.answer,
            "serial": reply.serial,
        }
    )


def encode_reply(key: bytes, rsalt: str, reply: Reply) -> bytes:
    """A signed reply datagram; byte-identical to ganeti-confd 3.0.2's for ASCII data."""
    return pack(key, rsalt, reply_message(reply))


def decode_reply(key: bytes, datagram: bytes) -> tuple[str, Reply]:
    """``(rsalt, reply)`` of a verified reply datagram, in Python or Haskell formatting.

    The inner reply must have exactly the four members, as the Haskell client demands.
    """
    envelope = unpack_lenient(datagram)
    authenticate(key, envelope)
    try:
        inner = load_json(envelope.msg)
    except ValueError as exc:
        raise ProtocolError(DropReason.BAD_REQUEST, f"parsing reply: {exc}") from None
    if not isinstance(inner, dict) or set(inner) != set(REPLY_KEYS):
        raise ProtocolError(DropReason.BAD_REQUEST, "reply needs protocol, status, answer, serial")
    protocol, status, serial = inner["protocol"], inner["status"], inner["serial"]
    if not (_is_int(protocol) and _is_int(status) and _is_int(serial)):
        raise ProtocolError(DropReason.BAD_REQUEST, "reply protocol, status, serial not integers")
    return envelope.salt, Reply(int(status), inner["answer"], int(serial), int(protocol))


def unpack_lenient(datagram: bytes) -> Envelope:
    """Envelope of a reply: any JSON formatting, as Ganeti's clients accept."""
    if not datagram.startswith(MAGIC):
        raise ProtocolError(DropReason.BAD_MAGIC, "invalid magic code")
    try:
        text = datagram[len(MAGIC) :].decode("utf-8")
    except ValueError:
        raise ProtocolError(DropReason.BAD_ENVELOPE, "signed message is not UTF-8") from None
    return _read_envelope(text.lstrip(_JSON_SPACE), exact=False)
