"""Configuration objects as ganeti-confd 3.0.2 sends them, not as ``config.data`` holds them.

The real daemon decodes ``config.data`` into typed records and encodes its answers
from those records, so what goes out differs from the file in four ways, all
reproduced here (pure functions, JSON in, JSON out):

* fields the file may omit get their defaults (a DRBD child disk without ``mode``
  is sent with ``"rw"``, an instance without ``tags`` with ``[]``, ...), and
  optional fields holding ``null`` are left out;
* ``ctime``/``mtime`` are held as whole picoseconds, so a time can come back one
  unit in the last place away from the file's (:func:`ganeti_time`);
* tags are a set: sorted, without duplicates;
* the JSON encoder writes every number with an integral value without a fraction
  (``32.0`` in the file is ``32`` on the wire).

Keys the records do not know are passed on unchanged (the real daemon drops them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from ganeti_agent.core.jsontypes import JSON

JSONObject = dict[str, JSON]
PICO = 10**12
TIME_FIELDS = ("ctime", "mtime")
#: State fields the records leave out of their JSON while they are empty.
QUIET_WHEN_EMPTY = ("hv_state_static", "disk_state_static")


def ganeti_time(value: JSON) -> JSON:
    """A time as it comes back from Ganeti's (seconds, picoseconds) record."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return value
    seconds, picoseconds = divmod(round(value * PICO), PICO)
    return plain_numbers(float(seconds) + picoseconds / PICO)


def plain_numbers(value: JSON) -> JSON:
    """Numbers with an integral value as integers, everywhere in ``value``."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_numbers(item) for item in value]
    return value


def _record(
    raw: Mapping[str, JSON],
    defaults: Mapping[str, JSON],
    optional: tuple[str, ...] = (),
    quiet: tuple[str, ...] = (),
) -> JSONObject:
    """The common part of every record: defaults, times, tags, optional nulls."""
    result: JSONObject = {}
    for key, value in raw.items():
        if value is None and key in optional:
            continue
        if key in quiet and value in ({}, None):
            continue
        result[key] = plain_numbers(value)
    for key, default in defaults.items():
        if key not in result:
            result[key] = list(default) if isinstance(default, list) else default
    for key in TIME_FIELDS:
        result[key] = ganeti_time(result.get(key, 0))
    tags = result.get("tags")
    if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
        result["tags"] = [*sorted({str(tag) for tag in tags})]
    return result


def disk(raw: Mapping[str, JSON]) -> JSONObject:
    """A disk, its children (disks themselves) included."""
    result = _record(
        raw,
        {"children": [], "nodes": [], "iv_name": "", "mode": "rw"},
        ("name", "spindles", "params"),
    )
    children = raw.get("children")
    if isinstance(children, list):
        result["children"] = [
            disk(child) if isinstance(child, dict) else child for child in children
        ]
    return result


def nic(raw: JSON) -> JSON:
    if not isinstance(raw, dict):
        return raw
    return {
        key: plain_numbers(value)
        for key, value in raw.items()
        if not (value is None and key in ("ip", "network", "name"))
    }


def instance(raw: Mapping[str, JSON]) -> JSONObject:
    result = _record(
        raw,
        {
            "hvparams": {},
            "beparams": {},
            "osparams": {},
            "osparams_private": {},
            "nics": [],
            "disks": [],
            "tags": [],
        },
        ("network_port",),
    )
    nics = result.get("nics")
    if isinstance(nics, list):
        result["nics"] = [nic(entry) for entry in nics]
    return result


def node(raw: Mapping[str, JSON]) -> JSONObject:
    return _record(raw, {"tags": []}, quiet=QUIET_WHEN_EMPTY)


def nodegroup(raw: Mapping[str, JSON]) -> JSONObject:
    return _record(raw, {"members": [], "tags": []}, quiet=QUIET_WHEN_EMPTY)


def network(raw: Mapping[str, JSON]) -> JSONObject:
    optional = ("mac_prefix", "network6", "gateway", "gateway6", "reservations")
    return _record(raw, {"tags": []}, (*optional, "ext_reservations"))


def cluster(raw: Mapping[str, JSON]) -> JSONObject:
    return _record(raw, {"tags": []})


Recorder = Callable[[Mapping[str, JSON]], JSONObject]

#: The tables of ``config.data`` whose members are records of one kind.
TABLES: dict[str, Recorder] = {
    "nodes": node,
    "instances": instance,
    "disks": disk,
    "nodegroups": nodegroup,
    "networks": network,
}


def table_member(table: str, value: JSON) -> JSON:
    """A member of one of :data:`TABLES` as sent; anything else with plain numbers."""
    recorder = TABLES.get(table)
    if recorder is None or not isinstance(value, dict):
        return plain_numbers(value)
    return recorder(value)


def top_level(key: str, value: JSON) -> JSON:
    """A member of the configuration's top-level object as sent."""
    if key in TABLES and isinstance(value, dict):
        return {uuid: table_member(key, member) for uuid, member in value.items()}
    if key == "cluster" and isinstance(value, dict):
        return cluster(value)
    if key in TIME_FIELDS:
        return ganeti_time(value)
    return plain_numbers(value)


def document(raw: Mapping[str, JSON]) -> JSONObject:
    """The whole configuration as sent (CONFIG_QUERY with an empty pointer)."""
    result = {key: top_level(key, value) for key, value in raw.items()}
    for key in TIME_FIELDS:
        result.setdefault(key, 0)
    return result
