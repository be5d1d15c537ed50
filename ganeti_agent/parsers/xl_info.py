"""Parser of ``xl info`` (and ``xm info``): the Xen hypervisor's view of the host.

The output is one ``key : value`` pair per line. Ganeti's Xen hypervisor reads the
same keys for the node's memory and CPU figures; everything else is kept verbatim so
the report can pass on what the hypervisor says without this parser knowing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganeti_agent.parsers.errors import ParseError

REQUIRED_KEYS = ("total_memory", "free_memory", "nr_cpus")


@dataclass(frozen=True)
class XenInfo:
    """The figures of one ``xl info`` run; memory in MiB as Xen reports it."""

    total_memory: int
    free_memory: int
    nr_cpus: int
    nr_nodes: int | None
    cores_per_socket: int | None
    threads_per_core: int | None
    cpu_mhz: int | None
    version: str | None
    fields: dict[str, str]

    @property
    def cpu_sockets(self) -> int | None:
        """Sockets, derived as Ganeti does: CPUs / (cores per socket x threads per core)."""
        if not self.cores_per_socket or not self.threads_per_core:
            return None
        return max(1, self.nr_cpus // (self.cores_per_socket * self.threads_per_core))


def parse_fields(text: str) -> dict[str, str]:
    """The ``key : value`` pairs, values stripped; a line without a colon is an error."""
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon or not key or " " in key:
            raise ParseError(f"line {number}: expected 'key : value', got {line.strip()[:80]!r}")
        fields[key] = value.strip()
    return fields


def _integer(fields: dict[str, str], key: str) -> int | None:
    raw = fields.get(key)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ParseError(f"{key}: expected an integer, got {raw[:80]!r}") from None


def _version(fields: dict[str, str]) -> str | None:
    major, minor = fields.get("xen_major"), fields.get("xen_minor")
    if major is None or minor is None:
        return None
    return f"{major}.{minor}{fields.get('xen_extra', '')}"


def parse_xl_info(text: str) -> XenInfo:
    """Parse the whole output; raises :class:`ParseError` when a required key is absent."""
    fields = parse_fields(text)
    missing = [key for key in REQUIRED_KEYS if key not in fields]
    if missing:
        raise ParseError(f"missing {', '.join(missing)}")
    total, free, cpus = (_integer(fields, key) for key in REQUIRED_KEYS)
    assert total is not None and free is not None and cpus is not None
    return XenInfo(
        total_memory=total,
        free_memory=free,
        nr_cpus=cpus,
        nr_nodes=_integer(fields, "nr_nodes"),
        cores_per_socket=_integer(fields, "cores_per_socket"),
        threads_per_core=_integer(fields, "threads_per_core"),
        cpu_mhz=_integer(fields, "cpu_mhz"),
        version=_version(fields),
        fields=fields,
    )
