"""Every cluster of Ganeti's test data, served live, loads as its text file does.

``model_views`` shows a text-loaded cluster as ganeti-luxid and the RAPI
would (offline nodes as drained ones, whose resources Ganeti still reads).
Served that way, the real ``hspace -L`` and ``hspace -m`` (3.0.2-3) print
exactly what ``hspace -t`` prints for 94 clusters of
``../shared/fixtures/htools`` and ``../shared/htools-golden/data`` (the RAPI
apart from CPU speeds, which it does not report); so our backends must load
what the text backend loads. Files without exactly one master get their
first node as master (a live cluster always has one); files the text
backend refuses are left out.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import cast

import pytest
from twisted.internet import reactor
from twisted.internet.endpoints import UNIXServerEndpoint, serverFromString
from twisted.internet.interfaces import IReactorUNIX
from twisted.web.server import Site

from ganeti_agent.htools import luxi, rapi, text
from ganeti_agent.htools.loader import ClusterData
from ganeti_agent.htools.types import LoadError
from tests.htools.fake_ganeti import (
    FakeLuxiFactory,
    FakeRapi,
    model_luxi_answers,
    model_rapi_bodies,
)
from tests.support import async_test

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FILES = sorted((SHARED / "fixtures" / "htools").glob("*.data")) + sorted(
    (SHARED / "htools-golden" / "data").glob("*.data")
)


def _expected(path: Path) -> tuple[ClusterData, str] | None:
    try:
        data = text.parse_data(path.read_text(encoding="utf-8", errors="surrogateescape"))
    except LoadError:
        return None
    masters = [n.name for n in data.nodes if n.is_master]
    if len(masters) > 1 or not data.nodes:
        return None
    if not masters:
        data.nodes[0] = dataclasses.replace(data.nodes[0], is_master=True)
        masters = [data.nodes[0].name]
    groups = {k: dataclasses.replace(g, networks=()) for k, g in data.groups.items()}
    return dataclasses.replace(data, groups=groups), masters[0]


def _without_speed(data: ClusterData) -> ClusterData:
    return dataclasses.replace(
        data, nodes=[dataclasses.replace(n, t_cpu_speed=1.0) for n in data.nodes]
    )


@pytest.mark.skipif(not FILES, reason="../shared (Ganeti's test data) is not present")
@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
@async_test
async def test_luxi_and_rapi_load_what_the_text_file_holds(path: Path) -> None:
    expected = _expected(path)
    if expected is None:
        pytest.skip("no single live master possible, or the text backend refuses it")
    data, master = expected
    directory = Path(tempfile.mkdtemp(prefix="fx-", dir="/tmp"))
    socket_path = str(directory / "query.sock")
    luxi_port = await UNIXServerEndpoint(reactor, socket_path).listen(
        FakeLuxiFactory(model_luxi_answers(data, master))
    )
    site = Site(FakeRapi(model_rapi_bodies(data, master), None))
    rapi_port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(site)
    try:
        over_luxi = await luxi.load_data(cast(IReactorUNIX, reactor), socket_path)
        over_rapi = await rapi.load_data(reactor, f"http://127.0.0.1:{rapi_port.getHost().port}")
    finally:
        await luxi_port.stopListening()
        await rapi_port.stopListening()
        shutil.rmtree(directory, ignore_errors=True)
    assert over_luxi.data == data
    assert over_rapi.data == _without_speed(data)
