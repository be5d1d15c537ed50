"""The ``lvs`` table of the ``lv`` collector, and which instance owns each volume.

The table is what Ganeti 3.0.2 runs (:data:`LVS_ARGUMENTS`), parsed exactly as its
attoparsec grammar does (spec/monitoring.md 7.6): twenty ``;``-separated fields, the
first one running across newlines, sizes as digits followed by ``B``, signed integers
elsewhere, every record ending in a line end. Possessive quantifiers make the regular
expression commit as the grammar does.

Ownership comes from the instances' disk objects (confd NODE_INSTANCES and
INSTANCE_DISKS, or the CLI's ``-i`` file), which are checked as strictly as Ganeti's
object decoder checks the fields that matter here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.parsers.errors import ParseError, wrap_int64

LVS_FIELDS = (
    "lv_uuid,lv_name,lv_attr,lv_major,lv_minor,lv_kernel_major,lv_kernel_minor,lv_size,"
    "seg_count,lv_tags,modules,vg_uuid,vg_name,segtype,seg_start,seg_start_pe,seg_size,"
    "seg_tags,seg_pe_ranges,devices"
)
LVS_ARGUMENTS = ("lvs", "--noheadings", "--units", "B", "--separator", ";", "-o", LVS_FIELDS)

# (JSON name, kind): kind "s" string, "i" signed integer, "b" bytes (digits + "B").
FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "s"),
    ("attr", "s"),
    ("major", "i"),
    ("minor", "i"),
    ("kernel_major", "i"),
    ("kernel_minor", "i"),
    ("size", "b"),
    ("seg_count", "i"),
    ("tags", "s"),
    ("modules", "s"),
    ("vg_uuid", "s"),
    ("vg_name", "s"),
    ("segtype", "s"),
    ("seg_start", "b"),
    ("seg_start_pe", "i"),
    ("seg_size", "b"),
    ("seg_tags", "s"),
    ("seg_pe_ranges", "s"),
    ("devices", "s"),
)
_FIELD_PATTERNS = {"s": r";([^;\n]*+)", "i": r";([+-]?+[0-9]++)", "b": r";([0-9]++)B"}
_RECORD = re.compile(
    r"[ \t]*+([^;]*+)" + "".join(_FIELD_PATTERNS[kind] for _, kind in FIELDS) + r"(?:\n|\r\n)"
)
_UUID = re.compile(r"[ \t]*+[^;]*+")
_FIELD_ONLY = {kind: re.compile(pattern) for kind, pattern in _FIELD_PATTERNS.items()}


@dataclass(frozen=True, slots=True)
class LogicalVolume:
    """One record (one segment of one LV): ``values`` in the order of :data:`FIELDS`."""

    uuid: str
    values: tuple[str | int, ...]

    @property
    def name(self) -> str:
        return str(self.values[0])

    @property
    def attr(self) -> str:
        return str(self.values[1])

    @property
    def size(self) -> int:
        return int(self.values[6])

    @property
    def seg_count(self) -> int:
        return int(self.values[7])

    @property
    def vg_name(self) -> str:
        return str(self.values[11])

    def to_json(self, instance: str | None) -> dict[str, JSON]:
        return dict(zip(_JSON_NAMES, (self.uuid, *self.values, instance), strict=True))


_JSON_NAMES = ("uuid", *(name for name, _ in FIELDS), "instance")
_NUMERIC = tuple(index for index, (_, kind) in enumerate(FIELDS) if kind != "s")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def parse_lvs(text: str) -> list[LogicalVolume]:
    """Parse the whole output; any malformed record rejects it, as Ganeti does."""
    volumes: list[LogicalVolume] = []
    position = 0
    end = len(text)
    match_record = _RECORD.match
    while position < end:
        match = match_record(text, position)
        if match is None:
            raise _record_error(text, position)
        uuid, *values = match.groups()
        for index in _NUMERIC:
            number = int(values[index])
            values[index] = number if _INT64_MIN <= number <= _INT64_MAX else wrap_int64(number)
        volumes.append(LogicalVolume(uuid, tuple(values)))
        position = match.end()
    return volumes


def _record_error(text: str, position: int) -> ParseError:
    """Where and why a record failed: walk it field by field as the grammar would."""
    uuid = _UUID.match(text, position)
    assert uuid is not None
    position = uuid.end()
    for name, kind in FIELDS:
        field = _FIELD_ONLY[kind].match(text, position)
        if field is None:
            what = {"s": "';'", "i": "';' and an integer", "b": "';' and bytes ending in 'B'"}
            return ParseError(f"field {name}: expected {what[kind]}", text[position:])
        position = field.end()
    return ParseError("a line end after 20 fields", text[position:])


class InstanceDataError(ValueError):
    """The instance/disk objects are not what Ganeti's decoder accepts."""


_NUMBER = (int, float)
_INSTANCE_KEYS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("name", str),
    ("primary_node", str),
    ("os", str),
    ("hypervisor", str),
    ("admin_state", str),
    ("admin_state_source", str),
    ("disks_active", bool),
    ("uuid", str),
    ("serial_no", _NUMBER),
)
INSTANCE_ALLOWED = frozenset(
    {
        *(key for key, _ in _INSTANCE_KEYS),
        *("beparams", "ctime", "disks", "hvparams", "mtime", "network_port", "nics"),
        *("osparams", "osparams_private", "tags"),
    }
)
_DISK_KEYS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("size", _NUMBER),
    ("uuid", str),
    ("serial_no", _NUMBER),
)
DISK_ALLOWED = frozenset(
    {
        *("children", "ctime", "dev_type", "iv_name", "logical_id", "mode", "mtime"),
        *("name", "nodes", "params", "serial_no", "size", "spindles", "uuid"),
    }
)
_TWO_STRINGS = ("file", "sharedfile", "gluster", "blockdev", "rbd", "ext")


@dataclass(frozen=True, slots=True)
class InstanceDisks:
    """An instance name and the (vg, lv) pairs its disks use, children included."""

    name: str
    volumes: frozenset[tuple[str, str]]


def _check_object(
    value: JSON,
    what: str,
    required: tuple[tuple[str, type | tuple[type, ...]], ...],
    allowed: frozenset[str] | None,
) -> Mapping[str, JSON]:
    """Ganeti's object decoding: required members of the right type, no stray ones."""
    if not isinstance(value, Mapping):
        raise InstanceDataError(f"Unable to read {what}: not an object")
    for key, kind in required:
        if key not in value:
            raise InstanceDataError(f"key '{key}' not found in {what}")
        member = value[key]
        if not isinstance(member, kind) or (kind is not bool and isinstance(member, bool)):
            raise InstanceDataError(f"Can't parse value for '{key}' of {what}")
    if allowed is not None:
        stray = sorted(set(value) - allowed)
        if stray:
            raise InstanceDataError(f"Superfluous dictionary keys in {what}: {stray}")
    return value


def check_instance(instance: JSON, strict: bool = True) -> str:
    """The instance's name, after checking the members Ganeti requires.

    ``strict`` also refuses members Ganeti's ``RealInstanceData`` does not know, as the
    CLI's ``-i`` decoder does; cluster answers are checked without it.
    """
    checked = _check_object(
        instance, "Instance", _INSTANCE_KEYS, INSTANCE_ALLOWED if strict else None
    )
    return str(checked["name"])


def disk_volumes(disk: JSON, strict: bool = True) -> set[tuple[str, str]]:
    """The LVs a disk object stands for: its own if plain, its children's if DRBD."""
    checked = _check_object(disk, "Disk", _DISK_KEYS, DISK_ALLOWED if strict else None)
    children = checked.get("children", [])
    if not isinstance(children, list):
        raise InstanceDataError("Can't parse value for 'children': not a list")
    child_volumes = [disk_volumes(child, strict) for child in children]
    if "dev_type" not in checked:
        raise InstanceDataError("key 'dev_type' not found in Disk")
    dev_type, logical_id = checked["dev_type"], checked.get("logical_id")
    if dev_type == "plain":
        volume = _two_strings(logical_id)
        if volume is None:
            raise InstanceDataError("Can't read logical_id for plain type")
        return {volume}
    if dev_type == "drbd":
        _check_drbd_id(logical_id)
        return set().union(*child_volumes)
    if dev_type in _TWO_STRINGS:
        if _two_strings(logical_id) is None:
            raise InstanceDataError(f"Can't read logical_id for {dev_type} type")
        return set()
    if dev_type == "diskless":
        raise InstanceDataError("Retrieved 'diskless' disk.")
    raise InstanceDataError(f"Invalid string value for type DiskTemplate: {dev_type!r}")


def _two_strings(value: JSON) -> tuple[str, str] | None:
    """A ``logical_id`` of two strings (volume group and volume, or driver and path)."""
    if isinstance(value, list) and len(value) == 2:
        first, second = value
        if isinstance(first, str) and isinstance(second, str):
            return first, second
    return None


def _check_drbd_id(logical_id: JSON) -> None:
    shapes: tuple[type | tuple[type, ...], ...] = (str, str, _NUMBER, _NUMBER, _NUMBER, str)
    if (
        not isinstance(logical_id, list)
        or len(logical_id) != len(shapes)
        or not all(
            isinstance(item, kind) and not isinstance(item, bool)
            for item, kind in zip(logical_id, shapes, strict=True)
        )
    ):
        raise InstanceDataError("Can't read logical_id for DRBD8 type")


def instance_disks(
    instance: JSON, disks: Sequence[JSON], strict: bool = True
) -> InstanceDisks | None:
    """Check one instance and its disks; None for forthcoming instances (not real yet)."""
    name = check_instance(instance, strict)
    volumes: set[tuple[str, str]] = set()
    for disk in disks:
        volumes |= disk_volumes(disk, strict)
    assert isinstance(instance, Mapping)
    if instance.get("forthcoming") is True:
        return None
    return InstanceDisks(name, frozenset(volumes))


def parse_instances_document(document: JSON) -> list[InstanceDisks]:
    """The ``-i`` file: a JSON array of ``[instance, [disk, ...]]`` pairs."""
    if not isinstance(document, list):
        raise InstanceDataError("Unable to read list")
    result: list[InstanceDisks] = []
    for pair in document:
        if not isinstance(pair, list) or len(pair) != 2:
            raise InstanceDataError("Unable to read Pair")
        instance, disks = pair
        if not isinstance(disks, list):
            raise InstanceDataError("Unable to read list")
        checked = instance_disks(instance, disks)
        if checked is not None:
            result.append(checked)
    return result


def owners(
    volumes: Iterable[LogicalVolume], instances: Sequence[InstanceDisks]
) -> list[str | None]:
    """For each volume, the first instance (in the given order) that uses it."""
    owner: dict[tuple[str, str], str] = {}
    for instance in instances:
        for key in instance.volumes:
            owner.setdefault(key, instance.name)
    return [owner.get((volume.vg_name, volume.name)) for volume in volumes]


def lv_data(volumes: Sequence[LogicalVolume], instances: Sequence[InstanceDisks]) -> list[JSON]:
    """The ``lv`` report data: one object per record, each with its instance."""
    return [
        volume.to_json(owner)
        for volume, owner in zip(volumes, owners(volumes, instances), strict=True)
    ]
