"""``/proc/drbd`` of DRBD 8.0, 8.3 and 8.4, accepted and rejected exactly as Ganeti 3.0.2.

Ganeti's parser is an attoparsec grammar (spec/monitoring.md 7.4). Its combinators never
give back what they consumed and its alternatives commit to the first one that matches,
so every regular expression here uses possessive quantifiers and atomic groups: that
makes each one behave like the corresponding piece of the grammar, quirks included (a
``version:`` value running across a newline, the one-character replication protocol,
trailing blanks kept in the I/O flags, NUL bytes after them).

One documented departure: the real parser looks for the misspelling ``Disconnectiog``
and so rejects every file with a device in state ``Disconnecting``. We accept both
spellings and report ``Disconnecting``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.report import StatusCode, combine_messages, status_object, worst
from ganeti_agent.parsers.errors import ParseError, wrap_int64

UNCONFIGURED = "Unconfigured"
SYNC_STATES = frozenset({"SyncSource", "SyncTarget"})

CONNECTION_STATES = (
    "StandAlone",
    "Disconnecting",
    "Unconnected",
    "Timeout",
    "BrokenPipe",
    "NetworkFailure",
    "ProtocolError",
    "TearDown",
    "WFConnection",
    "WFReportParams",
    "Connected",
    "StartingSyncS",
    "StartingSyncT",
    "WFBitMapS",
    "WFBitMapT",
    "WFSyncUUID",
    "SyncSource",
    "SyncTarget",
    "PausedSyncS",
    "PausedSyncT",
    "VerifyS",
    "VerifyT",
    UNCONFIGURED,
)

CONNECTED_STATES = frozenset(CONNECTION_STATES[CONNECTION_STATES.index("Connected") : -1])
"""States in which the peers talk: ``Connected`` and the sync/verify states after it."""
ROLES = ("Primary", "Secondary", "Unknown")
DISK_STATES = (
    "Diskless",
    "Attaching",
    "Failed",
    "Negotiating",
    "Inconsistent",
    "Outdated",
    "DUnknown",
    "Consistent",
    "UpToDate",
)
_MISSPELT = {"Disconnectiog": "Disconnecting"}

_STATUS_RULES: dict[str, tuple[StatusCode, str]] = {
    "StandAlone": (StatusCode.BAD, "No network config available"),
    "Disconnecting": (StatusCode.BAD, "The peer is being disconnected"),
    "TearDown": (StatusCode.BAD, "The peer is closing the connection"),
    "Unconnected": (StatusCode.TEMPORARILY_BAD, "Trying to establish a network connection"),
    "WFConnection": (StatusCode.TEMPORARILY_BAD, "Trying to establish a network connection"),
    "WFReportParams": (StatusCode.TEMPORARILY_BAD, "Trying to establish a network connection"),
    "Timeout": (StatusCode.TEMPORARILY_BAD, "Communication problems between the peers"),
    "BrokenPipe": (StatusCode.TEMPORARILY_BAD, "Communication problems between the peers"),
    "NetworkFailure": (StatusCode.TEMPORARILY_BAD, "Communication problems between the peers"),
    "ProtocolError": (StatusCode.TEMPORARILY_BAD, "Communication problems between the peers"),
}

# Haskell's isSpace: ASCII blanks, NBSP and the Unicode space separators.
_SPACE = "[\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u202f\u205f\u3000]"
_EOL = r"(?:\n|\r\n)"
_NUM = "([0-9]++)"
_COMMA_NUM = "([0-9]{1,3}+(?:,[0-9]{3})*+)"
_DOUBLE = r"([+-]?+[0-9]++(?:\.[0-9]*+)?+(?>[eE][+-]?+[0-9]++)?+)"


def _choice(words: tuple[str, ...]) -> str:
    return "(?>(" + "|".join(words) + "))"


_STATE_WORDS = (*CONNECTION_STATES[:1], "Disconnectiog", *CONNECTION_STATES[1:])
_VERSION_PARTS = (
    ("version", re.compile(r"version:[ \t]*+([^ \t]*+)")),
    ("api", re.compile(r"[ \t]*+\(api:([^/]*+)")),
    ("proto", re.compile(r"/proto:([^)]*+)[^\r\n]*+" + _EOL)),
    ("srcversion", re.compile("srcversion:" + _SPACE + r"++([^\r\n]*+)" + _EOL)),
    ("gitHash", re.compile(r"GIT-hash:[ \t]*+([^ \t]*+)")),
    ("buildBy", re.compile(r"[ \t]*+build by[ \t]*+([^\r\n]*+)" + _EOL)),
)
_HEAD = re.compile(r"[\r\n]*+[ \t]*+" + _NUM + r":[ \t]*+cs:" + _choice(_STATE_WORDS))
_LINE_ENDS = re.compile(r"[\r\n]*+")
_BODY = re.compile(
    r"[ \t]*+(?:ro:|st:)" + _choice(ROLES) + "/" + _choice(ROLES)
    + r"[ \t]*+ds:" + _choice(DISK_STATES) + "/" + _choice(DISK_STATES)
    + _SPACE + "(.)"
    + r"[ \t]*+([^\x00\r\n]*+)[\x00\r\n]*+"
    + "".join(rf"[ \t]*+{key}:{_NUM}" for key in ("ns", "nr", "dw", "dr", "al"))
    + "".join(rf"[ \t]*+{key}:{_NUM}" for key in ("bm", "lo", "pe", "ua", "ap"))
    + rf"(?>[ \t]*+ep:{_NUM})?+"
    + r"(?>[ \t]*+wo:(.))?+"
    + rf"(?>[ \t]*+oos:{_NUM})?+"
    + r"[ \t]*+" + _EOL,
    re.DOTALL,
)  # fmt: skip
_SYNC = re.compile(
    r"[ \t]*+\[=*+>*+\.*+\]"
    r"[ \t]*+sync'ed:[ \t]*+" + _DOUBLE + "%"
    r"[ \t]*+\(" + _NUM + "/" + _NUM + r"\)([KM])" + _EOL + "?+"
    r"[ \t]*+finish:[ \t]*+" + _NUM + ":" + _NUM + ":" + _NUM
    + r"[ \t]*+speed:[ \t]*+" + _COMMA_NUM + r"[ \t]*+\(" + _COMMA_NUM[1:-1] + r"\)"
    + r"(?>[ \t]*+want:[ \t]*+" + _COMMA_NUM + ")?+"
    + r"[ \t]*+([KM])/sec" + _EOL
)  # fmt: skip


def _additional_info(keyword: str) -> re.Pattern[str]:
    """DRBD 8.0's ``resync:``/``act_log:`` lines: parsed, never reported."""
    counters = "".join(rf"[ \t]*+{key}:[0-9]++" for key in ("hits", "misses", "starving"))
    counters += "".join(rf"[ \t]*+{key}:[0-9]++" for key in ("dirty", "changed"))
    return re.compile(rf"(?>[ \t]*+{keyword}:[ \t]*+used:[0-9]++/[0-9]++{counters}{_EOL})?+")


_RESYNC = _additional_info("resync")
_ACT_LOG = _additional_info("act_log")
_UNIT_NAMES = {"K": "KiloByte", "M": "MegaByte"}


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """The header lines; ``fields`` keeps only the items present, in Ganeti's order."""

    fields: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        return dict(self.fields).get(key)

    def to_json(self) -> dict[str, JSON]:
        return dict(self.fields)


@dataclass(frozen=True, slots=True)
class PerfIndicators:
    """The counters line; the last three exist only from DRBD 8.3 on."""

    counters: tuple[int, ...]
    epochs: int | None = None
    write_order: str | None = None
    out_of_sync: int | None = None

    NAMES = (
        "networkSend",
        "networkReceive",
        "diskWrite",
        "diskRead",
        "activityLog",
        "bitMap",
        "localCount",
        "pending",
        "unacknowledged",
        "applicationPending",
    )

    def to_json(self) -> dict[str, JSON]:
        result: dict[str, JSON] = dict(zip(self.NAMES, self.counters, strict=True))
        if self.epochs is not None:
            result["epochs"] = self.epochs
        if self.write_order is not None:
            result["writeOrder"] = self.write_order
        if self.out_of_sync is not None:
            result["outOfSync"] = self.out_of_sync
        return result


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Progress of a resynchronisation (only SyncSource and SyncTarget have one)."""

    percentage: float
    remaining: int
    total: int
    unit: str
    time_to_finish: tuple[int, int, int]
    speed: int
    want: int | None
    speed_unit: str

    def to_json(self) -> dict[str, JSON]:
        hours, minutes, seconds = self.time_to_finish
        result: dict[str, JSON] = {
            "percentage": json_double(self.percentage),
            "progress": f"{self.remaining}/{self.total}",
            "progressUnit": _UNIT_NAMES[self.unit],
            "timeToFinish": f"{hours:02d}:{minutes:02d}:{seconds:02d}",
            "speed": self.speed,
        }
        if self.want is not None:
            result["want"] = self.want
        result["speedUnit"] = _UNIT_NAMES[self.speed_unit] + "/Second"
        return result


@dataclass(frozen=True, slots=True)
class Device:
    """One minor; an unconfigured one has only ``minor`` and ``connection_state``."""

    minor: int
    connection_state: str
    local_role: str = ""
    remote_role: str = ""
    local_state: str = ""
    remote_state: str = ""
    replication_protocol: str = ""
    io_flags: str = ""
    perf: PerfIndicators | None = None
    sync: SyncStatus | None = None

    @property
    def configured(self) -> bool:
        return self.connection_state != UNCONFIGURED

    def status(self) -> tuple[StatusCode, str]:
        """Ganeti's verdict: it depends on the connection state alone."""
        code, text = _STATUS_RULES.get(self.connection_state, (StatusCode.OK, ""))
        return code, f"{self.minor}: {text}" if text else ""

    def to_json(self, instance: str | None) -> dict[str, JSON]:
        if not self.configured:
            return {"minor": self.minor, "connectionState": self.connection_state}
        result: dict[str, JSON] = {
            "minor": self.minor,
            "connectionState": self.connection_state,
            "localRole": self.local_role,
            "remoteRole": self.remote_role,
            "localState": self.local_state,
            "remoteState": self.remote_state,
            "replicationProtocol": self.replication_protocol,
            "ioFlags": self.io_flags,
            "perfIndicators": self.perf.to_json() if self.perf is not None else {},
        }
        if self.sync is not None:
            result["syncStatus"] = self.sync.to_json()
        result["instance"] = instance
        return result


@dataclass(frozen=True, slots=True)
class DrbdStatus:
    """A whole status: the version header and the minors in file order."""

    version: VersionInfo
    devices: tuple[Device, ...]

    def status(self) -> tuple[StatusCode, str]:
        verdicts = [device.status() for device in self.devices]
        return worst(code for code, _ in verdicts), combine_messages([m for _, m in verdicts])

    def to_json(self, pairing: Mapping[int, str] | None = None) -> dict[str, JSON]:
        """The report data; ``pairing`` maps minors to instance names."""
        pairs = pairing or {}
        code, message = self.status()
        return {
            "status": status_object(code, message),
            "versionInfo": self.version.to_json(),
            "deviceInfos": [device.to_json(pairs.get(device.minor)) for device in self.devices],
        }


def json_double(value: float) -> JSON:
    """A Haskell ``Double`` as Text.JSON writes it: integral values as integers.

    Infinity becomes the rational Haskell makes of it, 2**1024, so no value is lost
    and the JSON stays valid.
    """
    if math.isinf(value):
        return 2**1024 if value > 0 else -(2**1024)
    if value.is_integer():
        return int(value)
    return value


def parse_version_info(text: str, position: int = 0) -> tuple[VersionInfo, int]:
    """The header items present at ``position``; at least one is required."""
    found: list[tuple[str, str]] = []
    for key, pattern in _VERSION_PARTS:
        match = pattern.match(text, position)
        if match is not None:
            found.append((key, match.group(1)))
            position = match.end()
    if not found:
        raise ParseError("versionInfo", text[position:])
    return VersionInfo(tuple(found)), position


def _int(digits: str) -> int:
    return wrap_int64(int(digits))


def _comma_int(text: str) -> int:
    return wrap_int64(int(text.replace(",", "")))


def _parse_sync(text: str, position: int, minor: int) -> tuple[SyncStatus, int]:
    match = _SYNC.match(text, position)
    if match is None:
        raise ParseError(f"sync status of minor {minor}", text[position:])
    (percent, remaining, total, unit, hours, minutes, seconds, speed, want, speed_unit) = (
        match.groups()
    )
    status = SyncStatus(
        percentage=float(percent),
        remaining=_int(remaining),
        total=_int(total),
        unit=unit,
        time_to_finish=(_int(hours), _int(minutes), _int(seconds)),
        speed=_comma_int(speed),
        want=_comma_int(want) if want is not None else None,
        speed_unit=speed_unit,
    )
    return status, match.end()


def _parse_configured(text: str, position: int, minor: int, state: str) -> tuple[Device, int]:
    match = _BODY.match(text, position)
    if match is None:
        raise ParseError(f"roles, disk states and counters of minor {minor}", text[position:])
    groups = match.groups()
    perf = PerfIndicators(
        counters=tuple(_int(value) for value in groups[6:16]),
        epochs=_int(groups[16]) if groups[16] is not None else None,
        write_order=groups[17],
        out_of_sync=_int(groups[18]) if groups[18] is not None else None,
    )
    position = match.end()
    sync = None
    if state in SYNC_STATES:
        sync, position = _parse_sync(text, position, minor)
    for pattern in (_RESYNC, _ACT_LOG, _LINE_ENDS):
        matched = pattern.match(text, position)
        assert matched is not None  # each of these can match the empty string
        position = matched.end()
    local_role, remote_role, local_state, remote_state, protocol, io_flags = groups[:6]
    device = Device(
        minor,
        state,
        local_role=local_role,
        remote_role=remote_role,
        local_state=local_state,
        remote_state=remote_state,
        replication_protocol=protocol,
        io_flags=io_flags,
        perf=perf,
        sync=sync,
    )
    return device, position


def _parse_device(text: str, position: int) -> tuple[Device, int]:
    head = _HEAD.match(text, position)
    if head is None:
        raise ParseError("a device line (minor: cs:state)", text[position:])
    minor = _int(head.group(1))
    state = _MISSPELT.get(head.group(2), head.group(2))
    if state == UNCONFIGURED:
        ends = _LINE_ENDS.match(text, head.end())
        assert ends is not None
        return Device(minor, state), ends.end()
    return _parse_configured(text, head.end(), minor, state)


def parse_drbd(text: str) -> DrbdStatus:
    """Parse a whole status file; raises :class:`ParseError` where the real parser fails."""
    version, position = parse_version_info(text)
    devices: list[Device] = []
    end = len(text)
    while position < end:
        device, position = _parse_device(text, position)
        devices.append(device)
    return DrbdStatus(version, tuple(devices))


_DRBD9_TRAILER = re.compile(r"(?:[ \t]*+Transports[^\n]*+\n?+|[ \t\r\n]++)*+\Z")


def drbd9_version(text: str) -> VersionInfo | None:
    """The header of a DRBD 9 ``/proc/drbd`` (version lines only), else None.

    DRBD 9 moved per-minor status out of /proc into ``drbdsetup``; the file keeps the
    version header and a ``Transports`` line, which Ganeti's parser rejects.
    """
    try:
        version, position = parse_version_info(text)
    except ParseError:
        return None
    number = version.get("version") or ""
    major = number.split(".", 1)[0]
    if not major.isdigit() or int(major) < 9:
        return None
    if _DRBD9_TRAILER.match(text, position) is None:
        return None
    return version


def parse_pairing(document: JSON) -> dict[int, str]:
    """Minor → instance from a NODE_DRBD answer or a ``-p`` file (first entry wins).

    Each entry must be ``[node, minor, instance, iv_name, role, peer]`` with string
    members and a numeric minor, as Ganeti's decoder demands; otherwise the whole
    pairing is refused with ``ValueError`` (mon-collector then warns and goes on).
    """
    if not isinstance(document, list):
        raise ValueError("Unable to read list")
    pairing: dict[int, str] = {}
    for entry in document:
        minor, instance = _pairing_entry(entry)
        pairing.setdefault(minor, instance)
    return pairing


def _pairing_entry(entry: JSON) -> tuple[int, str]:
    if not isinstance(entry, list) or len(entry) != 6:
        raise ValueError("Unable to read a DrbdInstMinor")
    minor = entry[1]
    strings = [entry[index] for index in (0, 2, 3, 4, 5)]
    if not all(isinstance(item, str) for item in strings):
        raise ValueError("Unable to read String")
    if isinstance(minor, bool) or not isinstance(minor, int | float):
        raise ValueError("Unable to read Int")
    if isinstance(minor, float):
        if not math.isfinite(minor):
            raise ValueError("Unable to read Int")
        minor = round(minor)
    return wrap_int64(minor), str(entry[2])
