"""Ganeti's ``key=val,…`` option values and the types it forces on them.

``-B``/``-H``/``-O`` take ``key=val,key=val`` (``no_key`` means False,
``-key`` means None, a bare ``key`` means True; ``\\,`` escapes a comma) and
``--net`` takes ``index:key=val,…``. The values are then checked and
converted per parameter, as ``utils.ForceDictType`` does, so that sizes such
as ``1G`` reach the cluster as MiB. Pure functions; errors are ParameterError
with Ganeti's wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from ganeti_agent.core.jsontypes import JSON, JSONObject

NO_PREFIX = "no_"
UN_PREFIX = "-"
_UNIT = re.compile(r"^([.\d]+)\s*([a-zA-Z]+)?$")

BACKEND_TYPES: Mapping[str, str] = {
    "always_failover": "bool",
    "auto_balance": "bool",
    "maxmem": "size",
    "minmem": "size",
    "spindle_use": "int",
    "vcpus": "int",
}
NIC_TYPES: Mapping[str, str] = {
    "bridge": "maybe-string",
    "ip": "maybe-string",
    "link": "string",
    "mac": "string",
    "mode": "string",
    "name": "maybe-string",
    "network": "maybe-string",
    "vlan": "maybe-string",
}
_HV_BOOL = (
    "acpi pae serial_console spice_playback_compression spice_use_tls spice_use_vdagent"
    " use_bootloader use_chroot use_guest_agent use_localtime user_shutdown vhost_net"
    " viridian vnc_tls vnc_x509_verify vnet_hdr"
)
_HV_INT = (
    "cpu_cap cpu_cores cpu_sockets cpu_threads cpu_weight kvm_pci_reservations"
    " migration_bandwidth migration_downtime migration_port num_ttys serial_speed"
    " spice_ip_version startup_timeout virtio_net_queues"
)
_HV_STRING = (
    "blockdev_prefix boot_order bootloader_args bootloader_path cdrom2_image_path"
    " cdrom_disk_type cdrom_image_path cpu_mask cpu_type cpuid device_model devices disk_aio"
    " disk_cache disk_discard disk_type drop_capabilities extra_cgroups extra_config"
    " floppy_image_path init_script initrd_path kernel_args kernel_path keymap kvm_extra"
    " kvm_flag kvm_path machine_version mem_path migration_caps migration_mode nic_type"
    " pci_pass reboot_behavior scsi_controller_type security_domain security_model soundhw"
    " spice_bind spice_image_compression spice_jpeg_wan_compression spice_password_file"
    " spice_streaming_video spice_tls_ciphers spice_zlib_glz_wan_compression usb_devices"
    " usb_mouse vga vif_script vif_type vnc_bind_address vnc_password_file vnc_x509_path xen_cmd"
)
#: Every hypervisor parameter of Ganeti 3.0.2 (``constants.HVS_PARAMETER_TYPES``).
HYPERVISOR_TYPES: Mapping[str, str] = {
    **dict.fromkeys(_HV_BOOL.split(), "bool"),
    **dict.fromkeys(_HV_INT.split(), "int"),
    **dict.fromkeys(_HV_STRING.split(), "string"),
    "root_path": "maybe-string",
}


ParamValue: TypeAlias = str | bool | None
"""A value as written: ``key=text``, or the bare ``key``/``no_key``/``-key`` forms."""
IdentGroup: TypeAlias = dict[str, ParamValue] | bool | None
"""One ``--net`` group: its settings, or False/None when the group is removed."""


class ParameterError(ValueError):
    """A parameter value Ganeti would refuse; the text is Ganeti's."""


def unescape_and_split(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` unless escaped by an odd number of backslashes; unescape."""
    pieces = text.split(separator)
    merged: list[str] = []
    while pieces:
        piece = pieces.pop(0)
        backslashes = len(piece) - len(piece.rstrip("\\"))
        if backslashes % 2 == 1 and pieces:
            pieces.insert(0, piece + separator + pieces.pop(0))
            continue
        merged.append(piece)
    return [re.sub(r"\\(.)", r"\1", piece) for piece in merged]


def split_key_values(option: str, text: str) -> dict[str, ParamValue]:
    """``a=1,no_b,-c,d`` → ``{"a": "1", "b": False, "c": None, "d": True}``."""
    values: dict[str, ParamValue] = {}
    if not text:
        return values
    for element in unescape_and_split(text):
        value: ParamValue
        if "=" in element:
            key, value = element.split("=", 1)
        elif element.startswith(NO_PREFIX):
            key, value = element[len(NO_PREFIX) :], False
        elif element.startswith(UN_PREFIX):
            key, value = element[len(UN_PREFIX) :], None
        else:
            key, value = element, True
        if key in values:
            raise ParameterError(f"Duplicate key '{key}' in option {option}")
        values[key] = value
    return values


def split_ident_key_values(option: str, text: str) -> tuple[str, IdentGroup]:
    """``0:link=br1`` → ``("0", {"link": "br1"})``; ``no_0``/``-0`` remove a group."""
    ident, _, rest = text.partition(":")
    removes = ident.startswith(NO_PREFIX) or (
        ident.startswith(UN_PREFIX) and (len(ident) <= 1 or not ident[1].isdigit())
    )
    if removes and rest:
        raise ParameterError(f"Cannot pass options when removing parameter groups: {text}")
    if ident.startswith(NO_PREFIX):
        return ident[len(NO_PREFIX) :], False
    if removes:
        return ident[len(UN_PREFIX) :], None
    return ident, split_key_values(option, rest)


def parse_unit(text: object) -> int:
    """Ganeti's ``ParseUnit``: a size in MiB, rounded up to a multiple of 4."""
    found = _UNIT.match(str(text))
    if not found:
        raise ParameterError("Invalid format")
    try:
        value = float(found.group(1))
    except ValueError:
        raise ParameterError("Invalid format") from None
    unit = (found.group(2) or "m").lower()
    if unit in ("g", "gb", "gib"):
        value *= 1024
    elif unit in ("t", "tb", "tib"):
        value *= 1024 * 1024
    elif unit not in ("m", "mb", "mib"):
        raise ParameterError(f"Unknown unit: {found.group(2)}")
    whole = int(value) + (1 if int(value) < value else 0)
    return whole + (4 - whole % 4 if whole % 4 else 0)


def _force_one(key: str, kind: str, value: JSON) -> JSON:
    if kind in ("string", "maybe-string"):
        if value is None and kind == "maybe-string":
            return None
        if isinstance(value, str):
            return value
        if value is False:
            return ""
        raise ParameterError(f"'{key}' (value {value}) is not a valid string")
    if kind == "bool":
        if isinstance(value, str) and value:
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ParameterError(f"'{key}' (value {value}) is not a valid boolean")
        return bool(value)
    if kind == "size":
        try:
            return parse_unit(value)
        except ParameterError as exc:
            raise ParameterError(
                f"'{key}' (value {value}) is not a valid size. error: {exc}"
            ) from None
    if isinstance(value, str | int | float):
        try:
            return int(value)
        except ValueError:
            pass
    raise ParameterError(f"'{key}' (value {value}) is not a valid integer")


def force_types(values: Mapping[str, JSON], types: Mapping[str, str]) -> JSONObject:
    """Ganeti's ``ForceDictType``: unknown keys refused, values converted to their type."""
    result: JSONObject = {}
    for key, value in values.items():
        if key not in types:
            raise ParameterError(f"Unknown parameter '{key}'")
        result[key] = _force_one(key, types[key], value)
    return result


def parse_nic_option(values: Sequence[tuple[str, IdentGroup]]) -> list[JSONObject]:
    """Ganeti's ``ParseNicOption``: ``--net`` values as a list of per-index overrides.

    An empty value (``link=``) means "unset" (None), as Ganeti's master does:
    a NIC moving onto a network must lose its mode and link.
    """
    try:
        count = max(int(index) + 1 for index, _ in values)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"Invalid NIC index passed: {exc}") from None
    nics: list[JSONObject] = [{} for _ in range(count)]
    for index, settings in values:
        position = int(index)
        if not isinstance(settings, dict):
            raise ParameterError(f"Invalid nic/{position} value: expected dict, got {settings}")
        for key in settings:
            if key not in NIC_TYPES:
                raise ParameterError(f"Unknown parameter '{key}'")
        forced = force_types(
            {key: value for key, value in settings.items() if value != ""}, NIC_TYPES
        )
        forced.update({key: None for key, value in settings.items() if value == ""})
        nics[position] = forced
    return nics
