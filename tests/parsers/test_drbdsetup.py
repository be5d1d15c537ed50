"""DRBD 9's ``drbdsetup status --json`` mapped onto DRBD 8's report fields.

No DRBD 9 system was available to capture from: ``data/drbdsetup-status.json`` was
written by hand from the format DRBD 9's drbdsetup documents and prints (resources with
``devices``, ``connections`` and ``peer_devices``), covering a resync, a peer being
connected to, a suspended resource and a resource without any connection.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganeti_agent.core.report import encode_json
from ganeti_agent.parsers.drbd import DrbdStatus, VersionInfo
from ganeti_agent.parsers.drbdsetup import parse_drbdsetup_status
from ganeti_agent.parsers.errors import ParseError

STATUS = (Path(__file__).parent / "data" / "drbdsetup-status.json").read_text()


def test_devices_map_onto_drbd8_fields() -> None:
    devices = parse_drbdsetup_status(STATUS)
    data: Any = DrbdStatus(VersionInfo((("version", "9.1.16"),)), devices).to_json({0: "inst1"})
    first, second, third = data["deviceInfos"]
    assert first == {
        "minor": 0,
        "connectionState": "SyncSource",
        "localRole": "Primary",
        "remoteRole": "Secondary",
        "localState": "UpToDate",
        "remoteState": "Inconsistent",
        "replicationProtocol": " ",
        "ioFlags": "r-----",
        "perfIndicators": {
            "networkSend": 22,
            "networkReceive": 11,
            "diskWrite": 4096,
            "diskRead": 2048,
            "activityLog": 7,
            "bitMap": 3,
            "localCount": 2,
            "pending": 4,
            "unacknowledged": 5,
            "applicationPending": 1,
            "writeOrder": "f",
            "outOfSync": 524288,
        },
        "syncStatus": {
            "percentage": 50,
            "progress": "524288/1048576",
            "progressUnit": "KiloByte",
            "timeToFinish": "00:00:00",
            "speed": 0,
            "speedUnit": "KiloByte/Second",
        },
        "instance": "inst1",
    }
    assert (second["minor"], second["connectionState"], second["ioFlags"]) == (
        5,
        "WFConnection",
        "s-----",
    )
    assert second["perfIndicators"]["writeOrder"] == "d"
    assert (third["connectionState"], third["remoteRole"], third["localState"]) == (
        "StandAlone",
        "Unknown",
        "Diskless",
    )
    assert data["status"] == {
        "code": 4,
        "message": "\n9: No network config available\n5: Trying to establish a network connection",
    }


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        "[1]",
        '[{"devices": 3}]',
        '[{"devices": [{"minor": "x"}]}]',
        '[{"role": 5, "devices": [{"minor": 1}]}]',
    ],
)
def test_malformed_answers_raise_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_drbdsetup_status(text)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(
            ["devices", "connections", "peer_devices", "minor", "volume", "role", "size",
             "connection-state", "replication-state", "out-of-sync", "done", "eta", "sent"]
        ),
        children,
        max_size=4,
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_random_json_maps_or_raises_parse_error(document: object) -> None:
    try:
        devices = parse_drbdsetup_status(json.dumps(document))
    except ParseError:
        return
    encode_json(DrbdStatus(VersionInfo((("version", "9"),)), devices).to_json())
