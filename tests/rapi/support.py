"""A fake cluster served over real TLS on 127.0.0.1, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet import reactor as global_reactor

from ganeti_agent.core.jsontypes import JSON, expect_array, expect_object
from ganeti_agent.rapi.client import RapiClient, RapiEndpoint
from ganeti_agent.rapi.testing import FakeCluster, self_signed_certificate

reactor: Any = global_reactor  # the real one: TCP, TLS, timers and name resolution

_CERTIFICATES: dict[str, tuple[bytes, bytes]] = {}


def certificate(name: str) -> tuple[bytes, bytes]:
    """One certificate per name for the whole test run."""
    if name not in _CERTIFICATES:
        _CERTIFICATES[name] = self_signed_certificate(name)
    return _CERTIFICATES[name]


def at(value: JSON, *path: str | int) -> JSON:
    """The part of ``value`` at ``path`` (member names, array indexes), each step checked."""
    for step in path:
        if isinstance(step, str):
            value = expect_object(value, "test value")[step]
        else:
            value = expect_array(value, "test value")[step]
    return value


@dataclass
class Served:
    cluster: FakeCluster
    port: int
    ca_file: Path

    def client(
        self,
        username: str | None = "admin",
        password: str | None = "secret",
        ca_file: Path | None = None,
        port: int | None = None,
    ) -> RapiClient:
        point = RapiEndpoint(
            "127.0.0.1", port or self.port, username, password, str(ca_file or self.ca_file)
        )
        return RapiClient(point, reactor, wait_retry_delay=0.01)


@asynccontextmanager
async def served(
    tmp_path: Path, cluster: FakeCluster | None = None, **settings: Any
) -> AsyncIterator[Served]:
    """A FakeCluster listening with TLS; its certificate is the CA file."""
    cluster = cluster or FakeCluster("cluster", **settings)
    tls = certificate("rapi-tls")
    ca_file = tmp_path / "rapi.pem"
    ca_file.write_bytes(tls[1])
    port = cluster.listen_tls(tls)
    try:
        yield Served(cluster, port.getHost().port, ca_file)
    finally:
        await port.stopListening()
