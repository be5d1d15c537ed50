"""The wire format against the proven test vectors of spec/confd.md section 7."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganeti_agent.confd.constants import RequestField, RequestType
from ganeti_agent.confd.protocol import (
    DictQuery,
    DropReason,
    ProtocolError,
    Reply,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    load_envelope,
    pack,
    parse_request,
    sign,
    verify,
)

KEY = b"0123456789abcdef0123456789abcdef01234567\n"
NOW = 1700000000

PING_MSG = '{"protocol": 1, "type": 0, "rsalt": "11111111-2222-4333-8444-555555555555"}\n'
PING_REQUEST = (
    b'plj0{"msg": "{\\"protocol\\": 1, \\"type\\": 0, \\"rsalt\\": '
    b'\\"11111111-2222-4333-8444-555555555555\\"}\\n", "salt": "1700000000", '
    b'"hmac": "a4e8702b34407f97778e2c4bb08ec35d15abd51a"}\n'
)
PING_REPLY = (
    b'plj0{"hmac":"598f1fe6df13b05c8b521da898de2aee0ca163bd","msg":"{\\"protocol\\":1,'
    b'\\"status\\":0,\\"answer\\":3000000,\\"serial\\":0}",'
    b'"salt":"11111111-2222-4333-8444-555555555555"}'
)
MASTER_REQUEST = (
    b'plj0{"msg": "{\\"protocol\\": 1, \\"type\\": 3, \\"rsalt\\": '
    b'\\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\\"}\\n", "salt": "1700000000", '
    b'"hmac": "3f8ddb8d08c7afb548b908a988d73f11ad33ef0c"}\n'
)
MASTER_REPLY = (
    b'plj0{"hmac":"9cea124ee5bed0a97ca9981648ca0700f01960da","msg":"{\\"protocol\\":1,'
    b'\\"status\\":0,\\"answer\\":\\"node1.example.com\\",\\"serial\\":3189}",'
    b'"salt":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}'
)
HASKELL_REQUEST = (
    b'plj0{"hmac":"e0bba2508cc625c96ac04ae91ed7fae10e89ee39","msg":"{\\"protocol\\":1,'
    b'\\"type\\":8,\\"query\\":\\"vm\\",\\"rsalt\\":\\"6f2f115c-a0a3-41a9-bcf6-8e9790b1ea2a\\"}",'
    b'"salt":"1795460662"}'
)
HASKELL_REPLY = (
    b'plj0{"hmac":"fd06c1b7fc1281cf49c1c2d34a1727d24d32aa4c","msg":"{\\"protocol\\":1,'
    b'\\"status\\":0,\\"answer\\":[[],[]],\\"serial\\":5}",'
    b'"salt":"6f2f115c-a0a3-41a9-bcf6-8e9790b1ea2a"}'
)


def test_vector_lengths() -> None:
    assert len(PING_REQUEST) == 175
    assert len(MASTER_REQUEST) == 175
    assert len(PING_REPLY) == 171
    assert len(MASTER_REPLY) == 188


def test_request_hmac_vectors() -> None:
    assert sign(KEY, "1700000000", PING_MSG) == "a4e8702b34407f97778e2c4bb08ec35d15abd51a"
    master = PING_MSG.replace('"type": 0', '"type": 3').replace(
        "11111111-2222-4333-8444-555555555555", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    )
    assert sign(KEY, "1700000000", master) == "3f8ddb8d08c7afb548b908a988d73f11ad33ef0c"


def test_key_newline_matters() -> None:
    assert sign(KEY.rstrip(b"\n"), "1700000000", PING_MSG) != sign(KEY, "1700000000", PING_MSG)


@pytest.mark.parametrize("datagram", [PING_REQUEST, PING_REQUEST.rstrip(b"\n")])
def test_python_request_decodes(datagram: bytes) -> None:
    request = decode_request(KEY, datagram, NOW)
    assert request.type is RequestType.PING
    assert request.query is None
    assert request.rsalt == "11111111-2222-4333-8444-555555555555"


def test_haskell_request_decodes() -> None:
    request = decode_request(KEY, HASKELL_REQUEST, 1795460662)
    assert request.type is RequestType.NODE_INSTANCES
    assert request.query == "vm"


def test_reply_vectors_byte_for_byte() -> None:
    ping = encode_reply(KEY, "11111111-2222-4333-8444-555555555555", Reply(0, 3000000, 0))
    assert ping == PING_REPLY
    master = encode_reply(
        KEY, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", Reply(0, "node1.example.com", 3189)
    )
    assert master == MASTER_REPLY
    haskell = encode_reply(KEY, "6f2f115c-a0a3-41a9-bcf6-8e9790b1ea2a", Reply(0, [[], []], 5))
    assert haskell == HASKELL_REPLY


def test_reply_vectors_decode() -> None:
    assert decode_reply(KEY, MASTER_REPLY) == (
        "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
        Reply(0, "node1.example.com", 3189),
    )


def test_python_formatted_reply_accepted() -> None:
    msg = '{"protocol": 1, "status": 0, "answer": 7, "serial": 2}\n'
    outer = {"msg": msg, "salt": "abc", "hmac": sign(KEY, "abc", msg).upper()}
    datagram = b"plj0" + json.dumps(outer).encode() + b"\n"
    assert decode_reply(KEY, datagram) == ("abc", Reply(0, 7, 2))


def test_reply_with_extra_member_rejected() -> None:
    msg = '{"protocol":1,"status":0,"answer":7,"serial":2,"x":1}'
    with pytest.raises(ProtocolError):
        decode_reply(KEY, pack(KEY, "abc", msg))


def reason(datagram: bytes, now: float = NOW) -> DropReason:
    with pytest.raises(ProtocolError) as raised:
        decode_request(KEY, datagram, now)
    return raised.value.reason


def test_stale_vector_is_clock_skew() -> None:
    assert reason(PING_REQUEST, NOW + 301) is DropReason.CLOCK_SKEW
    assert reason(PING_REQUEST, NOW - 301) is DropReason.CLOCK_SKEW
    decode_request(KEY, PING_REQUEST, NOW + 300)
    decode_request(KEY, PING_REQUEST, NOW - 300)


def test_tampered_vector_is_bad_hmac() -> None:
    assert reason(PING_REQUEST.replace(b"a4e8", b"a4e9")) is DropReason.BAD_HMAC


def test_uppercase_hmac_accepted() -> None:
    decode_request(KEY, PING_REQUEST.replace(b"a4e8702b34", b"A4E8702B34"), NOW)


@pytest.mark.parametrize(
    ("datagram", "expected"),
    [
        (b"plj1" + PING_REQUEST[4:], DropReason.BAD_MAGIC),
        (b"plj", DropReason.BAD_MAGIC),
        (b"plj0 " + PING_REQUEST[4:], DropReason.BAD_ENVELOPE),
        (PING_REQUEST + b"x", DropReason.BAD_ENVELOPE),
        (MASTER_REQUEST + b"}", DropReason.BAD_ENVELOPE),
        (b"plj0[]", DropReason.BAD_ENVELOPE),
        (b"plj0" + b"x" * 5000, DropReason.TOO_LARGE),
    ],
)
def test_framing_drops(datagram: bytes, expected: DropReason) -> None:
    assert reason(datagram) is expected


def envelope(msg: str, salt: str = str(NOW), **extra: str) -> bytes:
    outer = {"msg": msg, "salt": salt, "hmac": sign(KEY, salt, msg), **extra}
    return b"plj0" + json.dumps(outer).encode()


def test_superfluous_envelope_key_dropped() -> None:
    msg = '{"protocol":1,"type":0,"rsalt":"x"}'
    assert reason(envelope(msg, key_selector="x")) is DropReason.BAD_ENVELOPE


def test_non_ascii_request_fails_hmac_like_the_daemon() -> None:
    msg = '{"protocol":1,"type":1,"query":"café","rsalt":"x"}'
    salt = str(NOW)
    quoted = json.dumps(msg, ensure_ascii=False)
    outer = f'{{"msg": {quoted}, "salt": "{salt}", "hmac": "{sign(KEY, salt, msg)}"}}'
    assert reason(b"plj0" + outer.encode("utf-8")) is DropReason.BAD_HMAC


@pytest.mark.parametrize(
    "msg",
    [
        '{"protocol":1,"type":12,"rsalt":"x"}',
        '{"protocol":1,"type":-1,"rsalt":"x"}',
        '{"protocol":1,"type":0,"query":5,"rsalt":"x"}',
        '{"protocol":1,"type":0,"query":["a"],"rsalt":"x"}',
        '{"protocol":1,"type":0}',
        '{"type":0,"rsalt":"x"}',
        '{"protocol":1,"type":"0","rsalt":"x"}',
        '{"protocol":"1","type":0,"rsalt":"x"}',
        '{"protocol":1,"type":0,"rsalt":5}',
        '{"protocol":1,"type":0,"rsalt":"x","extra":1}',
        '[1,0,null,"x"]',
        '{"protocol":1,"type":3,"query":{"3":["0","1"]},"rsalt":"x"}',
        '{"protocol":1,"type":3,"query":{"3":[5]},"rsalt":"x"}',
        '{"protocol":1,"type":2,"query":{"1":"198.51.100.11","9":1},"rsalt":"x"}',
        '{"protocol":1,"type":true,"rsalt":"x"}',
        '{"protocol":1,"type":NaN,"rsalt":"x"}',
    ],
)
def test_bad_requests_dropped(msg: str) -> None:
    assert reason(envelope(msg)) is DropReason.BAD_REQUEST


@pytest.mark.parametrize("salt", ["1700000000.5", "", "1700000000 ", "abc", "+1700000000"])
def test_bad_timestamps_dropped(salt: str) -> None:
    assert reason(envelope('{"protocol":1,"type":0,"rsalt":"x"}', salt)) is DropReason.BAD_TIMESTAMP


def test_leading_space_timestamp_accepted() -> None:
    decode_request(KEY, envelope('{"protocol":1,"type":0,"rsalt":"x"}', " 1700000000"), NOW)


def test_accepted_shapes() -> None:
    msg = '{"protocol":2,"type":0.0,"query":{"3":[2,0],"0":null},"rsalt":""}'
    request = parse_request(msg)
    assert request.type is RequestType.PING
    assert request.protocol == 2
    assert request.query == DictQuery(fields=(RequestField.MNODE_PIP, RequestField.NAME))


@given(
    st.sampled_from(list(RequestType)),
    st.one_of(st.none(), st.text(max_size=40), st.lists(st.integers(0, 2), max_size=4)),
    st.text(max_size=40),
)
def test_request_round_trip(rtype: RequestType, query: object, rsalt: str) -> None:
    wire_query: Any = {"3": query} if isinstance(query, list) else query
    datagram = encode_request(KEY, rtype, wire_query, rsalt, NOW)
    assert datagram.isascii()
    request = decode_request(KEY, datagram, NOW)
    assert (request.type, request.rsalt) == (rtype, rsalt)


@given(
    st.text(max_size=30),
    st.integers(-(2**40), 2**40),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    ),
)
def test_reply_round_trip(rsalt: str, serial: int, answer: object) -> None:
    reply = Reply(1, cast(Any, answer), serial)
    assert decode_reply(KEY, encode_reply(KEY, rsalt, reply)) == (rsalt, reply)


def test_verify_rejects_non_ascii_digest() -> None:
    assert not verify(KEY, "a", "b", "é" * 40)


DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "datagram",
    [
        b'plj0{"a":' + DEEP.encode() + b"}",
        b'plj0{"hmac":"0","msg":"x","salt":"1","a":' + DEEP.encode() + b"}",
        b'plj0{"hmac":' + b"9" * 4000 + b',"msg":"x","salt":"1"}',
        b'plj0{"hmac":1e999999,"msg":"x","salt":"1"}',
        b'plj0{"hmac":"0","msg":"x","salt":"1","n":NaN}',
    ],
)
def test_envelope_that_is_not_flat_is_dropped_before_parsing(datagram: bytes) -> None:
    """Nesting or numbers in unauthenticated input never reach the JSON parser."""
    assert reason(datagram) is DropReason.BAD_ENVELOPE


def test_lone_surrogate_in_envelope_fails_hmac() -> None:
    assert reason(b'plj0{"hmac":"00","msg":"\\ud800","salt":"1"}') is DropReason.BAD_HMAC


@pytest.mark.parametrize(
    "msg", [DEEP, '{"protocol":1,"type":0,"rsalt":"x","query":' + DEEP + "}", "\\ud800"]
)
def test_signed_but_unparsable_requests_dropped(msg: str) -> None:
    assert reason(envelope(msg)) is DropReason.BAD_REQUEST


def test_rsalt_that_cannot_sign_a_reply_is_dropped() -> None:
    msg = '{"protocol":1,"type":0,"rsalt":"\\udfff"}'
    assert reason(envelope(msg)) is DropReason.BAD_REQUEST


@pytest.mark.parametrize(
    "datagram",
    [
        b'plj0{"a":' + DEEP.encode() + b"}",
        b"plj0" + pack(KEY, "r", DEEP)[4:],
        b'plj0{"hmac":"00","msg":"\\ud800","salt":"r"}',
        b"plj0\xff\xfe",
    ],
)
def test_hostile_replies_are_protocol_errors(datagram: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_reply(KEY, datagram)


@pytest.mark.parametrize(
    "text",
    [
        '{"hmac":"a","hmac":"b",' + '"x":"",' * 10 + '"msg":"m","salt":"s"}',
        '{"hmac":"a","msg":"m","salt":"s"} {}',
        '{"hmac":"a" "msg":"m","salt":"s"}',
        '{"hmac":"a","msg":"m","salt":"s",}',
        '{"hmac":"a","msg":"m","salt":"\x01"}',
        '{"hmac":"a","msg":"m","salt":"s"',
    ],
)
def test_envelope_reader_refuses_what_json_refuses_and_long_member_lists(text: str) -> None:
    assert reason(b"plj0" + text.encode()) is DropReason.BAD_ENVELOPE


def test_envelope_reader_accepts_json_whitespace_and_escapes() -> None:
    msg = '{"protocol":1,"type":0,"rsalt":"x"}'
    salt = str(NOW)
    text = json.dumps({"salt": salt, "msg": msg, "hmac": sign(KEY, salt, msg)}, indent="\t")
    assert decode_request(KEY, b"plj0" + text.encode() + b" \r\n", NOW).rsalt == "x"


FLAT_OBJECTS = st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(
    FLAT_OBJECTS,
    st.sampled_from([None, 0, "\t", " \n "]),
    st.sampled_from([(",", ":"), (", ", ": "), (" ,\r", "\n:\t")]),
    st.booleans(),
)
def test_envelope_reader_reads_flat_objects_as_json_does(
    members: dict[str, str], indent: int | str | None, separators: tuple[str, str], ascii: bool
) -> None:
    text = json.dumps(members, indent=indent, separators=separators, ensure_ascii=ascii)
    assert load_envelope(text) == json.loads(text) == members


@given(JSON_VALUES.map(lambda value: json.dumps(value, allow_nan=True)) | st.text(max_size=60))
def test_envelope_reader_accepts_nothing_json_would_read_otherwise(text: str) -> None:
    try:
        members = load_envelope(text)
    except ValueError:
        return
    assert json.loads(text) == members
