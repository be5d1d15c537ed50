"""The lvs parser and the instance ownership rules of the ``lv`` collector."""

from __future__ import annotations

import contextlib
import copy
import json
import string
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganeti_agent.core.report import encode_json
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.lvs import (
    LVS_ARGUMENTS,
    InstanceDataError,
    lv_data,
    parse_instances_document,
    parse_lvs,
)
from tests.support import GOLDEN, shared_fixture

RECORD = (
    "  Uu1;inst.disk0_data;-wi-ao----;-1;-1;253;0;1073741824B;1;;;Vg1;xenvg;linear;"
    "0B;0;1073741824B;;/dev/loop0:0-255;/dev/loop0(0)\n"
)


def test_command_line_is_ganetis() -> None:
    assert LVS_ARGUMENTS[:7] == ("lvs", "--noheadings", "--units", "B", "--separator", ";", "-o")
    assert LVS_ARGUMENTS[7].split(",")[0] == "lv_uuid"
    assert len(LVS_ARGUMENTS[7].split(",")) == 20


def test_fixture_equals_the_real_mon_collector() -> None:
    volumes = parse_lvs(shared_fixture("lvs_lv.txt").read_text())
    instances = parse_instances_document(
        json.loads(shared_fixture("instance-disks.txt").read_text())
    )
    golden = json.loads((GOLDEN / "lv-lvs_lv.json").read_text())["data"]
    data: Any = lv_data(volumes, instances)
    assert data == golden
    assert [list(d) for d in data] == [list(d) for d in golden]


def test_fields_and_types() -> None:
    (record,) = cast(Any, lv_data(parse_lvs(RECORD), []))
    assert record["uuid"] == "Uu1"
    assert record["size"] == 1073741824
    assert record["major"] == -1
    assert record["devices"] == "/dev/loop0(0)"
    assert record["instance"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("\n" + RECORD, ["\n  Uu1"]),
        (RECORD.replace("\n", "\r\n"), ["Uu1"]),
    ],
)
def test_accepted_oddities(text: str, expected: list[str]) -> None:
    assert [v.uuid for v in parse_lvs(text)] == expected


def test_crlf_keeps_the_carriage_return_in_devices() -> None:
    (volume,) = parse_lvs(RECORD.replace("\n", "\r\n"))
    assert volume.to_json(None)["devices"] == "/dev/loop0(0)\r"


@pytest.mark.parametrize(
    "text",
    [
        RECORD.rstrip("\n"),
        RECORD.replace("1073741824B;1;", "1073741824.00B;1;"),
        RECORD.replace("1073741824B;1;", "1073741824;1;"),
        RECORD.replace("\n", ";extra\n"),
        RECORD.replace(";/dev/loop0(0)", ""),
        RECORD.replace(";-1;-1;", ";x;-1;"),
        "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n",
    ],
)
def test_rejections(text: str) -> None:
    with pytest.raises(ParseError):
        parse_lvs(text)


def _instance(name: str, uuid: str) -> dict[str, Any]:
    return {
        "name": name,
        "primary_node": "n1",
        "os": "debian",
        "hypervisor": "kvm",
        "admin_state": "up",
        "admin_state_source": "admin",
        "disks_active": True,
        "uuid": uuid,
        "serial_no": 1,
    }


def _plain(vg: str, lv: str) -> dict[str, Any]:
    return {"dev_type": "plain", "logical_id": [vg, lv], "size": 1, "uuid": lv, "serial_no": 1}


def test_ownership_first_instance_wins_and_vg_must_match() -> None:
    text = RECORD + RECORD.replace("xenvg", "othervg")
    drbd = {
        "dev_type": "drbd",
        "logical_id": ["n1", "n2", 11000, 0, 0, "s"],
        "size": 1,
        "uuid": "d",
        "serial_no": 1,
        "children": [_plain("xenvg", "inst.disk0_data"), _plain("xenvg", "inst.disk0_meta")],
    }
    document: Any = [
        [_instance("a", "1"), [drbd]],
        [_instance("b", "2"), [_plain("xenvg", "inst.disk0_data")]],
    ]
    data: Any = lv_data(parse_lvs(text), parse_instances_document(document))
    assert [d["instance"] for d in data] == ["a", None]


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d[0][0].pop("admin_state"),
        lambda d: d[0][0].update(forthcoming=True),
        lambda d: d[0][0].update(disks_active="yes"),
        lambda d: d[0][1][0].update(bogus=1),
        lambda d: d[0][1][0].update(dev_type="weird"),
        lambda d: d[0][1][0].update(logical_id=["only-one"]),
        lambda d: d[0][1][0].update(dev_type="diskless"),
        lambda d: d.append(["not", "a", "pair"]),
    ],
)
def test_strict_instance_file(change: Any) -> None:
    document: Any = [[_instance("a", "1"), [_plain("xenvg", "x")]]]
    broken = copy.deepcopy(document)
    change(broken)
    parse_instances_document(document)
    with pytest.raises(InstanceDataError):
        parse_instances_document(broken)


def test_numbers_in_disks_may_be_floats_as_in_ganeti() -> None:
    disk = _plain("xenvg", "x")
    disk["size"] = 1024.5
    assert parse_instances_document([[_instance("a", "1"), [disk]]])[0].name == "a"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "\x00é", max_size=300))
def test_random_text_parses_or_raises_parse_error(text: str) -> None:
    try:
        encode_json(lv_data(parse_lvs(text), []))
    except ParseError as error:
        assert isinstance(error.reason, str)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(RECORD)), st.integers(0, 5), st.text(";B\n\r -+0123456789a", max_size=5))
def test_mutated_records_parse_or_raise_parse_error(where: int, cut: int, insert: str) -> None:
    text = RECORD[:where] + insert + RECORD[where + cut :]
    with contextlib.suppress(ParseError):
        encode_json(lv_data(parse_lvs(text), []))
