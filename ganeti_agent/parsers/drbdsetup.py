"""DRBD 9's ``drbdsetup status --json`` mapped onto the DRBD 8 report fields.

DRBD 9 no longer lists minors in /proc/drbd, and Ganeti 3.0.2 cannot report them at
all. ``drbdsetup status --json`` prints an array of resources, each with its
``devices`` (one per volume, carrying the minor) and its ``connections`` (one per
peer, each with ``peer_devices`` per volume). A Ganeti DRBD disk is a two-node
resource, so every minor becomes one DRBD 8 style device built from its own volume
and the first connection that has a peer device for that volume. The README's
"Storage collectors" section lists which fields map exactly, approximately or not at all.
"""

from __future__ import annotations

import json
import math

from ganeti_agent.core.jsontypes import JSON, JSONObject
from ganeti_agent.parsers.drbd import CONNECTED_STATES, Device, PerfIndicators, SyncStatus
from ganeti_agent.parsers.errors import ParseError, wrap_int64

DRBDSETUP_STATUS = ("drbdsetup", "status", "--json")

# DRBD 9 replication states that DRBD 8 showed as the connection state.
_REPLICATION_AS_STATE = (CONNECTED_STATES - {"Connected"}) | {"Ahead", "Behind"}
_CONNECTION_RENAMES = {"Connecting": "WFConnection"}
_WRITE_ORDER = {"barrier": "b", "flush": "f", "drain": "d", "none": "n"}


def parse_drbdsetup_status(text: str) -> tuple[Device, ...]:
    """Devices (by resource, then volume order) from ``drbdsetup status --json``."""
    try:
        document: JSON = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"drbdsetup status is not JSON: {exc}", text) from None
    if not isinstance(document, list):
        raise ParseError("drbdsetup status is not a JSON array of resources", text)
    devices: list[Device] = []
    for resource in document:
        devices.extend(_resource_devices(_object(resource, "resource")))
    return tuple(devices)


def _object(value: JSON, what: str) -> JSONObject:
    if not isinstance(value, dict):
        raise ParseError(f"drbdsetup status: a {what} is not a JSON object")
    return value


def _list(container: JSONObject, key: str, what: str) -> list[JSONObject]:
    value = container.get(key, [])
    if not isinstance(value, list):
        raise ParseError(f"drbdsetup status: {what} member {key!r} is not a list")
    return [_object(item, key) for item in value]


def _integer(container: JSONObject, key: str, default: int = 0) -> int:
    value = container.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"drbdsetup status: {key!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParseError(f"drbdsetup status: {key!r} is not a finite number")
    return wrap_int64(int(value))


def _text(container: JSONObject, key: str, default: str) -> str:
    value = container.get(key, default)
    if not isinstance(value, str):
        raise ParseError(f"drbdsetup status: {key!r} is not a string")
    return value


def _resource_devices(resource: JSONObject) -> list[Device]:
    connections = _list(resource, "connections", "resource")
    peers = [
        (connection, _list(connection, "peer_devices", "connection")) for connection in connections
    ]
    devices = []
    for volume in _list(resource, "devices", "resource"):
        number = volume.get("volume")
        match = next(
            (
                (connection, peer)
                for connection, peer_devices in peers
                for peer in peer_devices
                if peer.get("volume") == number
            ),
            None,
        )
        devices.append(_device(resource, volume, match))
    return devices


def _connection_state(
    match: tuple[JSONObject, JSONObject] | None,
) -> str:
    if match is None:
        return "StandAlone"
    connection, peer = match
    state = _text(connection, "connection-state", "StandAlone")
    replication = _text(peer, "replication-state", "Off")
    if state == "Connected" and replication in _REPLICATION_AS_STATE:
        return replication
    return _CONNECTION_RENAMES.get(state, state)


def _device(
    resource: JSONObject,
    volume: JSONObject,
    match: tuple[JSONObject, JSONObject] | None,
) -> Device:
    connection: JSONObject = match[0] if match else {}
    peer: JSONObject = match[1] if match else {}
    state = _connection_state(match)
    suspended = resource.get("suspended") is True
    perf = PerfIndicators(
        counters=(
            _integer(peer, "sent"),
            _integer(peer, "received"),
            _integer(volume, "written"),
            _integer(volume, "read"),
            _integer(volume, "al-writes"),
            _integer(volume, "bm-writes"),
            _integer(volume, "lower-pending"),
            _integer(peer, "pending"),
            _integer(peer, "unacked"),
            _integer(volume, "upper-pending"),
        ),
        write_order=_WRITE_ORDER.get(_text(resource, "write-ordering", "")),
        out_of_sync=_integer(peer, "out-of-sync") if "out-of-sync" in peer else None,
    )
    return Device(
        minor=_integer(volume, "minor"),
        connection_state=state,
        local_role=_text(resource, "role", "Unknown"),
        remote_role=_text(connection, "peer-role", "Unknown"),
        local_state=_text(volume, "disk-state", "DUnknown"),
        remote_state=_text(peer, "peer-disk-state", "DUnknown"),
        replication_protocol=" ",
        io_flags=("s" if suspended else "r") + "-----",
        perf=perf,
        sync=_sync(state, volume, peer),
    )


def _sync(state: str, volume: JSONObject, peer: JSONObject) -> SyncStatus | None:
    """Resync progress in DRBD 8's terms, from the fields ``drbdsetup`` gives."""
    if state not in {"SyncSource", "SyncTarget"}:
        return None
    done = peer.get("done", peer.get("percent-in-sync", 0.0))
    if isinstance(done, bool) or not isinstance(done, int | float) or not math.isfinite(done):
        raise ParseError("drbdsetup status: 'done' is not a number")
    eta = max(_integer(peer, "eta"), 0)
    return SyncStatus(
        percentage=float(done),
        remaining=_integer(peer, "out-of-sync"),
        total=_integer(volume, "size"),
        unit="K",
        time_to_finish=(eta // 3600, eta // 60 % 60, eta % 60),
        speed=0,
        want=None,
        speed_unit="K",
    )
