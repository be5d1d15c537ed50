"""The requests of one instance move, built from what the clusters said. Pure.

Bodies carry the same keys and values as Ganeti 3.0.2's move-instance sends,
plus, on the creation only: ``tags`` (copied from the source),
``wait_for_sync: false`` (the copy is already in flight; waiting for DRBD to
sync doubled the move time upstream) and ``name_check: false`` (the
destination must not resolve the name, which still points at the source).
Disks without a name are sent as null, not the string ``"None"``; a NIC on a
network is sent by the network's name, without mode, link or VLAN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ganeti_agent.core.jsontypes import (
    JSON,
    JSONArray,
    JSONObject,
    expect_array,
    expect_object,
    member,
)
from ganeti_agent.moveinstance.options import UNMOVABLE_TEMPLATES, MoveOptions
from ganeti_agent.rapi import x509

EXPORT_MODE_REMOTE = "remote"
INSTANCE_REMOTE_IMPORT = "remote-import"
_NIC_FIELDS = ("name", "uuid", "ip", "mac", "mode", "link", "vlan", "network", "netinfo")


class PlanError(Exception):
    """This move cannot be done as asked; the text says why."""


@dataclass(frozen=True)
class InstanceMove:
    """One instance's move: its names on both sides and what the destination gets."""

    source_name: str
    dest_name: str
    primary_node: str | None = None
    secondary_node: str | None = None
    iallocator: str | None = None
    disk_template: str | None = None
    compress: str = "none"
    beparams: Mapping[str, JSON] = field(default_factory=dict)
    hvparams: Mapping[str, JSON] = field(default_factory=dict)
    osparams: Mapping[str, JSON] = field(default_factory=dict)
    nics: Sequence[Mapping[str, JSON]] = ()
    net_map: Mapping[str, str] = field(default_factory=dict)
    opportunistic_tries: int = 0
    opportunistic_delay: int = 30
    keep_source_instance: bool = False

    @property
    def label(self) -> str:
        """How results name the move: ``a`` or ``a as b``."""
        if self.dest_name == self.source_name:
            return self.source_name
        return f"{self.source_name} as {self.dest_name}"


def moves_for(options: MoveOptions) -> list[InstanceMove]:
    """One InstanceMove per instance named on the command line, in order."""
    return [
        InstanceMove(
            source_name=name,
            dest_name=options.dest_instance_name or name,
            primary_node=options.dest_primary_node,
            secondary_node=options.dest_secondary_node,
            iallocator=options.iallocator,
            disk_template=options.dest_disk_template,
            compress=options.compress,
            beparams=options.beparams,
            hvparams=options.hvparams,
            osparams=options.osparams,
            nics=options.nics,
            net_map=options.net_map,
            opportunistic_tries=options.opportunistic_tries,
            opportunistic_delay=options.opportunistic_delay,
            keep_source_instance=options.keep_source_instance,
        )
        for name in options.instances
    ]


def check_movable(move: InstanceMove, details: Mapping[str, JSON]) -> None:
    """Refuse, before anything starts, a disk template that cannot cross clusters."""
    template = move.disk_template or details.get("disk_template")
    if template in UNMOVABLE_TEMPLATES:
        raise PlanError(
            f"disk template {template} is file-based; Ganeti cannot move it between clusters"
        )


def instance_info(result: Sequence[JSON]) -> JSONObject:
    """The one instance's record in the result of ``GET …/info?static=1``."""
    first = result[0] if result else None
    if not isinstance(first, dict) or len(first) != 1:
        raise PlanError(f"unexpected instance information: {str(result)[:200]}")
    (info,) = first.values()
    if not isinstance(info, dict):
        raise PlanError(f"unexpected instance information: {str(info)[:200]}")
    return info


def _disk_records(info: Mapping[str, JSON]) -> list[JSONObject]:
    """The instance's disks, each an object; JSONShapeError names what is wrong."""
    disks = expect_array(member(info, "disks", "instance information"), "instance disks")
    return [expect_object(disk, f"instance disk {index}") for index, disk in enumerate(disks)]


def count_disks(info: Mapping[str, JSON]) -> int:
    """How many disks the instance has: how many the destination must listen for."""
    return len(_disk_records(info))


def check_info_movable(move: InstanceMove, info: Mapping[str, JSON]) -> None:
    """Refuse an ext instance whose disks name no ExtStorage provider."""
    template = move.disk_template or info.get("disk_template")
    check_movable(move, {"disk_template": template})
    disks = _disk_records(info) if "disks" in info else []
    if template == "ext" and not all(disk.get("provider") for disk in disks):
        raise PlanError(
            "disk template ext needs an ExtStorage provider per disk, and the source"
            " cluster reports none; cannot move"
        )


def export_info(result: Sequence[JSON]) -> JSONObject:
    """The prepare-export result, checked for what the next two requests need."""
    info = result[0] if result else None
    if not isinstance(info, dict) or not {"handshake", "x509_key_name", "x509_ca"} <= info.keys():
        raise PlanError(f"prepare-export returned no handshake, key name or CA: {str(info)[:200]}")
    try:
        x509.certificate_signature(str(info["x509_ca"]))
    except x509.SignatureError as exc:
        raise PlanError(f"source cluster's CA is not signed: {exc}") from None
    return info


def import_info(message: JSON, disk_count: int) -> JSONObject:
    """The ``remote-import`` log message of the creation job, checked."""
    if not isinstance(message, dict) or not {"x509_ca", "disks"} <= message.keys():
        raise PlanError(f"remote-import information without CA or disks: {str(message)[:200]}")
    disks = message["disks"]
    if not isinstance(disks, list):
        raise PlanError(f"remote-import disks are not a list: {str(disks)[:200]}")
    if len(disks) != disk_count:
        raise PlanError(
            f"destination listens for {len(disks)} disks, the instance has {disk_count}"
        )
    try:
        x509.certificate_signature(str(message["x509_ca"]))
    except x509.SignatureError as exc:
        raise PlanError(f"destination cluster's CA is not signed: {exc}") from None
    return message


def _disks(info: Mapping[str, JSON], template: JSON) -> JSONArray:
    disks: JSONArray = []
    for disk in _disk_records(info):
        entry: JSONObject = {
            "size": member(disk, "size", "instance disk"),
            "mode": member(disk, "mode", "instance disk"),
            "name": disk.get("name"),
        }
        if disk.get("spindles") is not None:
            entry["spindles"] = disk["spindles"]
        if template == "ext" and disk.get("provider"):
            entry["provider"] = disk["provider"]
        disks.append(entry)
    return disks


def _source_nic(raw: JSON) -> JSONObject:
    if not isinstance(raw, list) or len(raw) != len(_NIC_FIELDS):
        raise PlanError(
            "Received NIC information does not match expected format; "
            "Do the versions of this tool and the source cluster match?"
        )
    values = dict(zip(_NIC_FIELDS, raw, strict=True))
    nic: JSONObject = {
        key: values[key] for key in ("ip", "mac", "mode", "link", "vlan", "network", "name")
    }
    if nic["network"] is not None:
        for key in ("mode", "link", "vlan"):
            del nic[key]
        netinfo = values["netinfo"]
        if isinstance(netinfo, dict) and netinfo.get("name"):
            nic["network"] = netinfo["name"]
    return nic


def _map_nic(nic: JSONObject, net_map: Mapping[str, str]) -> JSONObject:
    network, link = nic.get("network"), nic.get("link")
    if isinstance(network, str) and network in net_map:
        return {**nic, "network": net_map[network]}
    if isinstance(link, str) and link in net_map:
        return {**nic, "link": net_map[link]}
    return nic


def nics_for(move: InstanceMove, info: Mapping[str, JSON]) -> list[JSONObject]:
    """The source's NICs, networks by name, mapped by ``--net-map``, then ``--net`` on top."""
    source = expect_array(member(info, "nics", "instance information"), "instance nics")
    nics = [_map_nic(_source_nic(raw), move.net_map) for raw in source]
    if len(move.nics) > len(nics):
        raise PlanError("Can not create new NICs")
    for index, override in enumerate(move.nics):
        nics[index] = {**nics[index], **override}
    return nics


def creation_body(
    move: InstanceMove,
    info: Mapping[str, JSON],
    export: Mapping[str, JSON],
    tags: Sequence[str],
    opportunistic: bool,
) -> JSONObject:
    """The ``POST /2/instances`` body (without ``__version__``, which the client adds)."""
    template = move.disk_template or member(info, "disk_template", "instance information")
    return {
        "mode": INSTANCE_REMOTE_IMPORT,
        "name": move.dest_name,
        "disk_template": template,
        "disks": _disks(info, template),
        "nics": [*nics_for(move, info)],
        "os": info.get("os"),
        "pnode": move.primary_node,
        "snode": move.secondary_node,
        "start": member(info, "config_state", "instance information") == "up",
        "ip_check": False,
        "name_check": False,
        "iallocator": move.iallocator,
        "hypervisor": member(info, "hypervisor", "instance information"),
        "source_handshake": member(export, "handshake", "prepared export"),
        "source_x509_ca": member(export, "x509_ca", "prepared export"),
        "compress": move.compress,
        "source_instance_name": member(info, "name", "instance information"),
        "beparams": {**_parameters(info, "be_instance"), **move.beparams},
        "hvparams": {**_parameters(info, "hv_instance"), **move.hvparams},
        "osparams": {**_parameters(info, "os_instance"), **move.osparams},
        "opportunistic_locking": opportunistic,
        "tags": [*tags],
        "wait_for_sync": False,
    }


def _parameters(info: Mapping[str, JSON], name: str) -> JSONObject:
    """The instance's own parameters of one kind (``be_instance``…); none when absent."""
    return expect_object(info.get(name, {}), f"instance {name}")


def export_body(
    move: InstanceMove, export: Mapping[str, JSON], imported: Mapping[str, JSON]
) -> JSONObject:
    """The ``PUT …/export`` body: remote mode, towards the destination's listeners."""
    return {
        "destination": member(imported, "disks", "remote-import information"),
        "mode": EXPORT_MODE_REMOTE,
        "shutdown": True,
        "remove_instance": not move.keep_source_instance,
        "x509_key_name": member(export, "x509_key_name", "prepared export"),
        "destination_x509_ca": member(imported, "x509_ca", "remote-import information"),
        "compress": move.compress,
    }


def check_export_result(result: Sequence[JSON]) -> None:
    """An export job's ``[finalised, [per-disk success…]]``; PlanError unless all went well."""
    outcome = result[0] if result else None
    if not isinstance(outcome, list) or len(outcome) != 2:
        raise PlanError(f"unexpected export result: {str(outcome)[:200]}")
    finalised, disks = outcome
    if finalised and isinstance(disks, list) and all(disks):
        return
    listed = disks if isinstance(disks, list) else []
    failed = [str(index) for index, ok in enumerate(listed) if not ok]
    raise PlanError(f"Export failed for disks {', '.join(failed)}")
