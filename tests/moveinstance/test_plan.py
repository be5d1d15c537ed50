"""Request bodies of one move, from the clusters' answers (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from ganeti_agent.core.jsontypes import JSONArray, JSONObject, expect_object
from ganeti_agent.moveinstance import plan
from ganeti_agent.rapi import x509
from ganeti_agent.rapi.testing import instance_records
from tests.rapi.support import at, certificate

SIGNED = x509.sign_x509_certificate(certificate("plan-ca")[1].decode(), "k", "00aa")
EXPORT: JSONObject = {
    "handshake": [0, "h", "s"],
    "x509_key_name": ["x509-1", "d", "s"],
    "x509_ca": SIGNED,
}
NETWORK_NIC: JSONArray = [
    None,
    "u1",
    "10.1.0.5",
    "aa:00:00:00:00:02",
    "routed",
    "br9",
    "100",
    "net-uuid",
    {"name": "backend", "uuid": "net-uuid"},
]


def info_of(**settings: Any) -> JSONObject:
    return instance_records("web1", **settings)[1]


def test_creation_body_is_the_real_one_plus_our_keys() -> None:
    move = plan.InstanceMove("web1", "web1", primary_node="n3")
    body = plan.creation_body(move, info_of(), EXPORT, ["a:b"], opportunistic=False)
    assert body["disks"] == [{"size": 1024, "mode": "rw", "name": None}]
    assert body["nics"] == [
        {
            "ip": None,
            "mac": "aa:00:00:00:00:01",
            "mode": "bridged",
            "link": "br0",
            "vlan": "",
            "network": None,
            "name": None,
        }
    ]
    assert (body["tags"], body["wait_for_sync"], body["name_check"], body["ip_check"]) == (
        ["a:b"],
        False,
        False,
        False,
    )
    assert (body["pnode"], body["snode"], body["iallocator"], body["start"]) == (
        "n3",
        None,
        None,
        True,
    )
    assert body["source_x509_ca"] == SIGNED and body["source_handshake"] == [0, "h", "s"]


def test_named_disks_and_spindles_are_kept() -> None:
    info = info_of(disks=2)
    expect_object(at(info, "disks", 0), "disk").update(name="root", spindles=2)
    disks = plan.creation_body(plan.InstanceMove("web1", "web1"), info, EXPORT, [], False)["disks"]
    assert disks == [
        {"size": 1024, "mode": "rw", "name": "root", "spindles": 2},
        {"size": 2048, "mode": "rw", "name": None},
    ]


def test_nic_on_a_network_goes_by_name_without_mode_link_vlan() -> None:
    nics = plan.nics_for(plan.InstanceMove("web1", "web1"), info_of(nics=[NETWORK_NIC]))
    assert nics == [
        {"ip": "10.1.0.5", "mac": "aa:00:00:00:00:02", "network": "backend", "name": None}
    ]


def test_net_map_maps_links_and_networks_and_net_goes_on_top() -> None:
    plain = [None, "u0", None, "aa:00:00:00:00:01", "bridged", "br0", "", None, None]
    info = info_of(nics=[plain, NETWORK_NIC])
    move = plan.InstanceMove(
        "web1",
        "web1",
        net_map={"br0": "br-new", "backend": "backend2"},
        nics=[{"ip": "10.9.9.9", "link": None}],
    )
    first, second = plan.nics_for(move, info)
    assert (first["link"], first["ip"]) == (None, "10.9.9.9")
    assert second["network"] == "backend2"
    only_map = plan.nics_for(plan.InstanceMove("web1", "web1", net_map={"br0": "br-new"}), info)
    assert only_map[0]["link"] == "br-new"


def test_more_nics_than_the_instance_has() -> None:
    with pytest.raises(plan.PlanError, match="Can not create new NICs"):
        plan.nics_for(plan.InstanceMove("w", "w", nics=[{}, {}]), info_of())


def test_nic_in_an_unknown_format() -> None:
    with pytest.raises(plan.PlanError, match="does not match expected format"):
        plan.nics_for(plan.InstanceMove("w", "w"), info_of(nics=[["too", "short"]]))


@pytest.mark.parametrize("template", ["file", "sharedfile", "gluster"])
def test_file_based_templates_are_refused(template: str) -> None:
    with pytest.raises(plan.PlanError, match="file-based"):
        plan.check_movable(plan.InstanceMove("w", "w"), {"disk_template": template})
    with pytest.raises(plan.PlanError, match="file-based"):
        plan.check_movable(
            plan.InstanceMove("w", "w", disk_template=template), {"disk_template": "plain"}
        )


def test_ext_needs_a_provider() -> None:
    move = plan.InstanceMove("w", "w")
    with pytest.raises(plan.PlanError, match="ExtStorage provider"):
        plan.check_info_movable(move, info_of(disk_template="ext"))
    info = info_of(disk_template="ext")
    expect_object(at(info, "disks", 0), "disk")["provider"] = "rbd-ext"
    plan.check_info_movable(move, info)
    body = plan.creation_body(move, info, EXPORT, [], False)
    assert at(body, "disks", 0, "provider") == "rbd-ext"


def test_export_body_keeps_the_source_when_asked() -> None:
    imported: JSONObject = {"disks": [["h", 1, "m", "d", "s"]], "x509_ca": SIGNED}
    body = plan.export_body(
        plan.InstanceMove("w", "w", keep_source_instance=True), EXPORT, imported
    )
    assert body == {
        "destination": imported["disks"],
        "mode": "remote",
        "shutdown": True,
        "remove_instance": False,
        "x509_key_name": EXPORT["x509_key_name"],
        "destination_x509_ca": SIGNED,
        "compress": "none",
    }


def test_unsigned_or_incomplete_answers_are_refused() -> None:
    with pytest.raises(plan.PlanError, match="not signed"):
        plan.export_info([{**EXPORT, "x509_ca": "garbage"}])
    with pytest.raises(plan.PlanError, match="no handshake"):
        plan.export_info([{}])
    with pytest.raises(plan.PlanError, match="listens for 1 disks, the instance has 2"):
        plan.import_info({"x509_ca": SIGNED, "disks": [["h"]]}, 2)
    with pytest.raises(plan.PlanError, match="unexpected instance information"):
        plan.instance_info([{"a": {}, "b": {}}])


def test_export_result() -> None:
    plan.check_export_result([[True, [True, True]]])
    with pytest.raises(plan.PlanError, match="Export failed for disks 1"):
        plan.check_export_result([[True, [True, False]]])


def test_labels() -> None:
    assert plan.InstanceMove("a", "a").label == "a"
    assert plan.InstanceMove("a", "b").label == "a as b"
