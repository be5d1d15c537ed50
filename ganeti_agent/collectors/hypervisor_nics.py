"""The instances' network interfaces as the hypervisor sees them (``NICs`` of hypervisor-*).

The design's hypervisor report covers "memory, CPU, network interfaces": each instance
NIC is an interface of the host (a KVM tap, a Xen ``vif``), whose kernel counters say
what went through it. KVM's taps are named in Ganeti's runtime files; Xen's back-ends
are ``vif<domid>.<index>``, tied to an instance by ``xl list``. Counters are the host
interface's own, as in the ``node`` report: ``bytes_sent`` is what the host sent to
the instance. Reading costs a few small sysfs files per NIC; nothing is run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ganeti_agent.core.files import InputError, read_text
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.parsers.errors import ParseError
from ganeti_agent.parsers.netif import (
    STATISTICS,
    parse_counter,
    parse_operstate,
    parse_tap_name,
    xen_vif,
)

SMALL_FILE = 4096
MAX_NICS = 4096
"""NICs reported at most: far above any node's, so a flooded directory costs little."""


def _text(path: str) -> str | None:
    try:
        return read_text(path, SMALL_FILE)
    except InputError:
        return None


def _counter(path: str) -> int | None:
    text = _text(path)
    if text is None:
        return None
    try:
        return parse_counter(text)
    except ParseError:
        return None


def interface_data(sys_root: str, name: str) -> dict[str, JSON]:
    """What sysfs says of one interface; ``error`` instead of figures when it is absent."""
    base = os.path.join(sys_root, "class", "net", name)
    entry: dict[str, JSON] = {"name": name}
    if not os.path.isdir(base):
        entry["error"] = f"no interface {name} in {os.path.join(sys_root, 'class', 'net')}"
        return entry
    try:
        entry["link"] = os.path.basename(os.readlink(os.path.join(base, "master")))
    except OSError:
        entry["link"] = None
    state = _text(os.path.join(base, "operstate"))
    entry["up"] = parse_operstate(state) if state is not None else None
    entry["mtu"] = _counter(os.path.join(base, "mtu"))
    for kernel_name, report_name in STATISTICS:
        entry[report_name] = _counter(os.path.join(base, "statistics", kernel_name))
    return entry


def _numbered(directory: str) -> list[tuple[int, str]]:
    """The entries of ``directory`` named by a number, in numeric order."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted((int(name), name) for name in names if name.isdigit())


def kvm_nics(sys_root: str, nic_dir: str) -> list[JSON]:
    """Every NIC Ganeti's KVM hypervisor recorded (``nic/<instance>/<index>``)."""
    try:
        instances = sorted(os.listdir(nic_dir))
    except OSError:
        return []
    nics: list[JSON] = []
    for instance in instances:
        for index, file_name in _numbered(os.path.join(nic_dir, instance)):
            if len(nics) >= MAX_NICS:
                return nics
            path = os.path.join(nic_dir, instance, file_name)
            nic: dict[str, JSON] = {"instance": instance, "index": index}
            try:
                nic.update(interface_data(sys_root, parse_tap_name(read_text(path, SMALL_FILE))))
            except (InputError, ParseError) as exc:
                nic.update(name=None, error=f"{path}: {exc}")
            nics.append(nic)
    return nics


def xen_nics(sys_root: str, domains: Mapping[int, str]) -> list[JSON]:
    """Every guest domain's ``vif`` back-end in Dom0, named after its domain when known."""
    try:
        names = os.listdir(os.path.join(sys_root, "class", "net"))
    except OSError:
        return []
    found = sorted(
        (vif, name) for name in names if (vif := xen_vif(name)) is not None and vif[0] != 0
    )
    nics: list[JSON] = []
    for (domid, index), name in found[:MAX_NICS]:
        nic: dict[str, JSON] = {"instance": domains.get(domid), "index": index}
        nic.update(interface_data(sys_root, name))
        nics.append(nic)
    return nics
