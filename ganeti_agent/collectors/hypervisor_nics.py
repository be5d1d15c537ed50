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
from dataclasses import dataclass

from ganeti_agent.core.files import InputError, read_text
from ganeti_agent.core.jsontypes import JSONObject
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


@dataclass(frozen=True)
class Interface:
    """One host interface as sysfs shows it; ``error`` instead of figures when it is absent.

    ``counters`` follow :data:`STATISTICS`; a figure that cannot be read is None.
    """

    name: str | None
    error: str = ""
    link: str | None = None
    up: bool | None = None
    mtu: int | None = None
    counters: tuple[int | None, ...] = ()

    def to_json(self) -> JSONObject:
        entry: JSONObject = {"name": self.name}
        if self.error:
            entry["error"] = self.error
            return entry
        entry.update(link=self.link, up=self.up, mtu=self.mtu)
        entry.update(zip((name for _, name in STATISTICS), self.counters, strict=True))
        return entry


@dataclass(frozen=True)
class HostNic:
    """An instance's NIC: its instance (None when unknown), index and host interface."""

    instance: str | None
    index: int
    interface: Interface

    def to_json(self) -> JSONObject:
        return {"instance": self.instance, "index": self.index, **self.interface.to_json()}


def interface_data(sys_root: str, name: str) -> Interface:
    """What sysfs says of one interface."""
    base = os.path.join(sys_root, "class", "net", name)
    if not os.path.isdir(base):
        return Interface(name, f"no interface {name} in {os.path.join(sys_root, 'class', 'net')}")
    try:
        link: str | None = os.path.basename(os.readlink(os.path.join(base, "master")))
    except OSError:
        link = None
    state = _text(os.path.join(base, "operstate"))
    return Interface(
        name,
        link=link,
        up=parse_operstate(state) if state is not None else None,
        mtu=_counter(os.path.join(base, "mtu")),
        counters=tuple(
            _counter(os.path.join(base, "statistics", kernel_name))
            for kernel_name, _report_name in STATISTICS
        ),
    )


def _numbered(directory: str) -> list[tuple[int, str]]:
    """The entries of ``directory`` named by a number, in numeric order."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted((int(name), name) for name in names if name.isdigit())


def kvm_nics(sys_root: str, nic_dir: str) -> list[HostNic]:
    """Every NIC Ganeti's KVM hypervisor recorded (``nic/<instance>/<index>``)."""
    try:
        instances = sorted(os.listdir(nic_dir))
    except OSError:
        return []
    nics: list[HostNic] = []
    for instance in instances:
        for index, file_name in _numbered(os.path.join(nic_dir, instance)):
            if len(nics) >= MAX_NICS:
                return nics
            path = os.path.join(nic_dir, instance, file_name)
            try:
                interface = interface_data(sys_root, parse_tap_name(read_text(path, SMALL_FILE)))
            except (InputError, ParseError) as exc:
                interface = Interface(None, f"{path}: {exc}")
            nics.append(HostNic(instance, index, interface))
    return nics


def xen_nics(sys_root: str, domains: Mapping[int, str]) -> list[HostNic]:
    """Every guest domain's ``vif`` back-end in Dom0, named after its domain when known."""
    try:
        names = os.listdir(os.path.join(sys_root, "class", "net"))
    except OSError:
        return []
    found = sorted(
        (vif, name) for name in names if (vif := xen_vif(name)) is not None and vif[0] != 0
    )
    return [
        HostNic(domains.get(domid), index, interface_data(sys_root, name))
        for (domid, index), name in found[:MAX_NICS]
    ]
