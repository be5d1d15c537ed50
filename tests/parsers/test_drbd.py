"""The /proc/drbd parser: Ganeti's fixtures, its rejections, our departures, and fuzzing."""

from __future__ import annotations

import contextlib
import json
import string
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganeti_agent.core.report import encode_json
from ganeti_agent.parsers.drbd import (
    CONNECTION_STATES,
    DrbdStatus,
    drbd9_version,
    json_double,
    parse_drbd,
    parse_pairing,
)
from ganeti_agent.parsers.errors import ParseError
from tests.support import GOLDEN, shared_fixture

FIXTURES = [
    "proc_drbd8",
    "proc_drbd80-emptyline",
    "proc_drbd80-emptyversion",
    "proc_drbd83",
    "proc_drbd83_sync",
    "proc_drbd83_sync_krnl2.6.39",
    "proc_drbd83_sync_want",
    "proc_drbd84",
    "proc_drbd84_emptyfirst",
    "proc_drbd84_sync",
]
HEADER = "version: 8.4.2 (api:1/proto:86-101)\n"
PERF = "    ns:1 nr:2 dw:3 dr:4 al:5 bm:6 lo:7 pe:8 ua:9 ap:10 ep:1 wo:f oos:0\n"


def device(minor: int, state: str, flags: str = " C r-----") -> str:
    return f" {minor}: cs:{state} ro:Primary/Secondary ds:UpToDate/UpToDate{flags}\n" + PERF


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_data_equals_the_real_mon_collector(name: str) -> None:
    text = shared_fixture(f"{name}.txt").read_text()
    pairing = parse_pairing(json.loads(shared_fixture("instance-minor-pairing.txt").read_text()))
    golden = json.loads((GOLDEN / f"drbd-{name}.json").read_text())["data"]
    data: Any = parse_drbd(text).to_json(pairing)
    assert data == golden
    assert list(data) == ["status", "versionInfo", "deviceInfos"]
    assert [list(d) for d in data["deviceInfos"]] == [list(d) for d in golden["deviceInfos"]]


def test_member_order_of_a_configured_device() -> None:
    data: Any = parse_drbd(HEADER + device(0, "Connected")).to_json({0: "inst"})
    assert list(data["deviceInfos"][0]) == [
        "minor",
        "connectionState",
        "localRole",
        "remoteRole",
        "localState",
        "remoteState",
        "replicationProtocol",
        "ioFlags",
        "perfIndicators",
        "instance",
    ]


@pytest.mark.parametrize(
    ("state", "code", "message"),
    [
        ("StandAlone", 4, "No network config available"),
        ("Disconnecting", 4, "The peer is being disconnected"),
        ("Disconnectiog", 4, "The peer is being disconnected"),
        ("TearDown", 4, "The peer is closing the connection"),
        ("Unconnected", 1, "Trying to establish a network connection"),
        ("WFConnection", 1, "Trying to establish a network connection"),
        ("WFReportParams", 1, "Trying to establish a network connection"),
        ("Timeout", 1, "Communication problems between the peers"),
        ("BrokenPipe", 1, "Communication problems between the peers"),
        ("NetworkFailure", 1, "Communication problems between the peers"),
        ("ProtocolError", 1, "Communication problems between the peers"),
        ("Connected", 0, ""),
        ("VerifyT", 0, ""),
        ("PausedSyncS", 0, ""),
    ],
)
def test_status_rules(state: str, code: int, message: str) -> None:
    status = parse_drbd(HEADER + device(7, state)).to_json()["status"]
    assert status == {"code": code, "message": f"\n7: {message}" if message else ""}


def test_disconnecting_is_accepted_unlike_ganeti() -> None:
    devices = parse_drbd(HEADER + device(0, "Disconnecting")).devices
    assert devices[0].connection_state == "Disconnecting"


def test_every_state_parses() -> None:
    text = HEADER + "".join(
        device(i, s) if s not in ("SyncSource", "SyncTarget", "Unconfigured") else ""
        for i, s in enumerate(CONNECTION_STATES)
    )
    assert len(parse_drbd(text).devices) == len(CONNECTION_STATES) - 3


def test_combined_message_is_reverse_order() -> None:
    text = HEADER + device(1, "StandAlone") + " 2: cs:Unconfigured\n" + device(3, "WFConnection")
    status = parse_drbd(text).to_json()["status"]
    assert status == {
        "code": 4,
        "message": "\n3: Trying to establish a network connection\n1: No network config available",
    }


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n" + HEADER,
        " 0: cs:Unconfigured\n",
        HEADER + " 0: cs:Unconfigured  \n",
        HEADER + device(0, "Connected").rstrip("\n"),
        HEADER + device(0, "Connected") + "   \n",
        HEADER + device(0, "Connected") + "\x00",
        HEADER + "Transports (api:18): tcp (9.1.16)\n",
        HEADER + device(0, "PausedSyncS") + " [==>...] sync'ed: 1.0% (1/2)K\n",
        HEADER + device(0, "SyncSource"),
        HEADER + device(0, "Bogus"),
        HEADER + " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/Bogus C r---\n" + PERF,
    ],
)
def test_rejections_of_the_real_parser(text: str) -> None:
    with pytest.raises(ParseError):
        parse_drbd(text)


def test_version_only_file_has_no_devices() -> None:
    status = parse_drbd(HEADER)
    assert status.devices == ()
    assert status.version.to_json() == {"version": "8.4.2", "api": "1", "proto": "86-101"}


def test_version_runs_across_a_newline_as_in_ganeti() -> None:
    version = parse_drbd("version: 8.4.2\nsrcversion:\n 0: cs:Unconfigured\n").version
    assert version.to_json()["version"] == "8.4.2\nsrcversion:\n"
    with pytest.raises(ParseError):
        parse_drbd("version: 8.4.2\nsrcversion: X\n")


def test_git_hash_without_build_by_keeps_the_newline() -> None:
    version = parse_drbd("GIT-hash: abcdef\n").version
    assert version.to_json() == {"gitHash": "abcdef\n"}


def test_sync_status_fields() -> None:
    text = (
        HEADER
        + device(3, "SyncTarget")
        + "\t[=>....] sync'ed: 100% (0007/1024)M\n\tfinish: 1:02:3 speed: 1,234 (5) want: 9 M/sec\n"
    )
    sync = cast(Any, parse_drbd(text).to_json())["deviceInfos"][0]["syncStatus"]
    assert sync == {
        "percentage": 100,
        "progress": "7/1024",
        "progressUnit": "MegaByte",
        "timeToFinish": "01:02:03",
        "speed": 1234,
        "want": 9,
        "speedUnit": "MegaByte/Second",
    }


def test_numbers_wrap_like_haskell_int() -> None:
    text = HEADER + device(18446744073709551615, "Connected")
    assert parse_drbd(text).devices[0].minor == -1


def test_json_double() -> None:
    assert json_double(100.0) == 100
    assert json_double(34.9) == 34.9
    assert json_double(float("inf")) == 2**1024


def test_pairing_first_entry_wins_and_minors_round() -> None:
    pairing = parse_pairing([["n", 1.6, "a", "d", "r", "p"], ["n", 2, "b", "d", "r", "p"]])
    assert pairing == {2: "a"}
    with pytest.raises(ValueError, match="DrbdInstMinor"):
        parse_pairing([["n", 1, "a"]])
    with pytest.raises(ValueError, match="String"):
        parse_pairing([["n", 1, "a", "d", "r", 5]])


def test_drbd9_header_is_recognised() -> None:
    text = HEADER.replace("8.4.2", "9.1.16") + "Transports (api:18): tcp (9.1.16)\n"
    version = drbd9_version(text)
    assert version is not None
    assert version.get("version") == "9.1.16"
    assert drbd9_version(HEADER) is None
    assert drbd9_version(HEADER.replace("8.4.2", "9.0.0") + device(0, "Connected")) is None


def _encodable(status: DrbdStatus) -> None:
    encode_json(status.to_json({0: "x"}))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "\x00\xa0é", max_size=400))
def test_random_text_parses_or_raises_parse_error(text: str) -> None:
    try:
        _encodable(parse_drbd(text))
    except ParseError as error:
        assert isinstance(error.reason, str)


def _fixture_texts() -> list[str]:
    texts = []
    for name in FIXTURES:
        try:
            texts.append(shared_fixture(f"{name}.txt").read_text())
        except pytest.skip.Exception:
            texts.append(HEADER + device(0, "Connected") + device(1, "StandAlone"))
    return texts


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_fixture_texts()),
    st.integers(min_value=0, max_value=2000),
    st.integers(min_value=0, max_value=20),
    st.text(alphabet=" \t\r\n\x00:/%[]=>.,0123456789KMabcUpToDate", max_size=12),
)
def test_mutated_files_parse_or_raise_parse_error(
    original: str, where: int, cut: int, insert: str
) -> None:
    where = min(where, len(original))
    text = original[:where] + insert + original[where + cut :]
    with contextlib.suppress(ParseError):
        _encodable(parse_drbd(text))
