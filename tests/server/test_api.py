"""The monitoring API in memory (treq's StubTreq), against mond's observed answers."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from ganeti_agent.core.framework import AgentContext, Collector, CollectorSet, CollectorSettings
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from ganeti_agent.core.report import Category, Kind
from ganeti_agent.server.api import MonitoringAPI, path_segments
from tests.support import FakeRunner

STATUS_DATA: Any = {"status": {"code": 4, "message": "\n1: bad"}, "deviceInfos": [{"minor": 1}]}


class Fixed(Collector):
    def __init__(
        self, ctx: AgentContext, name: str, category: Category | None, kind: Kind, data: JSON
    ) -> None:
        self.name = name
        self.category = category
        self.kind = kind
        super().__init__(ctx)
        self.data = data

    def collect(self) -> JSON:
        return self.data


class Hanging(Collector):
    name = "hanging"
    category = Category.INSTANCE
    kind = Kind.STATUS

    def collect(self) -> Deferred[JSON]:
        return Deferred()


def context(clock: Clock) -> AgentContext:
    """Collectors with a 3 s timeout on the test's clock."""
    return AgentContext(
        clock=clock,
        runner=FakeRunner(),
        paths=GanetiPaths(),
        hostname="node1",
        settings=lambda name: CollectorSettings(timeout=3),
    )


def make_api(clock: Clock | None = None) -> tuple[Any, Clock]:
    clock = clock or Clock()
    ctx = context(clock)
    collectors = CollectorSet(
        [
            Fixed(ctx, "cpu-avg-load", None, Kind.PERFORMANCE, {"cpu_number": 1}),
            Fixed(ctx, "diskstats", Category.STORAGE, Kind.PERFORMANCE, []),
            Fixed(ctx, "drbd", Category.STORAGE, Kind.STATUS, STATUS_DATA),
        ],
        clock,
        lambda: 1795460473.0,
    )
    api = MonitoringAPI(collectors)
    return StubTreq(api.resource()), clock


async def get(path: str, method: str = "GET") -> tuple[int, bytes, Any]:
    treq, _ = make_api()
    response = await treq.request(method, "http://node1:1815" + path)
    return response.code, await response.content(), response.headers


@pytest_twisted.ensureDeferred
async def test_root_and_version_routes() -> None:
    assert (await get("/"))[:2] == (200, b"[1]")
    assert (await get("/?anything=1"))[:2] == (200, b"[1]")
    assert (await get("/1"))[:2] == (200, b"null")
    assert (await get("/1/"))[:2] == (200, b"null")


@pytest_twisted.ensureDeferred
async def test_list_collectors_in_registry_order_as_triples() -> None:
    code, body, headers = await get("/1/list/collectors")
    assert code == 200
    assert body == b'[["cpu-avg-load","default",0],["diskstats","storage",0],["drbd","storage",1]]'
    assert headers.getRawHeaders("content-type") == ["application/json"]
    assert (await get("/1/list/collectors/extra"))[1] == body


@pytest_twisted.ensureDeferred
async def test_report_all_and_single_reports() -> None:
    code, body, _ = await get("/1/report/all")
    assert code == 200
    reports = json.loads(body)
    assert [r["name"] for r in reports] == ["cpu-avg-load", "diskstats", "drbd"]
    assert reports[0]["category"] is None
    assert reports[0]["timestamp"] == 1795460473000000000
    code, body, _ = await get("/1/report/default/cpu-avg-load")
    assert code == 200 and json.loads(body)["data"] == {"cpu_number": 1}
    assert (await get("/1/report/default/cpu-avg-load/extra"))[0] == 200
    assert (await get("/1/%72eport/storage/drbd"))[0] == 200


@pytest_twisted.ensureDeferred
async def test_verbose_defaults_to_full_data_and_zero_gives_status_only() -> None:
    full = json.loads((await get("/1/report/storage/drbd?verbose=1"))[1])
    assert full["data"] == STATUS_DATA
    assert json.loads((await get("/1/report/storage/drbd"))[1])["data"] == STATUS_DATA
    short = json.loads((await get("/1/report/storage/drbd?verbose=0"))[1])
    assert short["data"] == {"status": STATUS_DATA["status"]}
    perf = json.loads((await get("/1/report/storage/diskstats?verbose=0"))[1])
    assert perf["data"] == []


@pytest_twisted.ensureDeferred
async def test_not_found_bodies_follow_mond() -> None:
    no_report = b"Unable to produce a report for the requested resource"
    for path in (
        "/1/report",
        "/1/report/",
        "/1/report/storage",
        "/1/report/storage/",
        "/1/report/collector/cpu-avg-load",
        "/1/report/null/cpu-avg-load",
        "/1/report/DEFAULT/cpu-avg-load",
        "/1/report/storage/DRBD",
        "/1/report/storage/cpu-avg-load",
        "/1/report/default/cpu-avg-load%2F",
        "/1/report/daemon/x",
    ):
        code, body, _ = await get(path)
        assert (code, body) == (404, no_report), path
    for path in ("//", "/0", "/2", "/2/list/collectors", "/foo", "/1/list", "/1/list/", "/1/foo"):
        code, body, _ = await get(path)
        assert (code, body) == (404, b"Resource not found"), path


@pytest_twisted.ensureDeferred
async def test_methods_head_works_others_get_405_with_allow() -> None:
    code, body, _ = await get("/1/list/collectors", "HEAD")
    assert (code, body) == (200, b"")
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        code, _, headers = await get("/1/report/all", method)
        assert code == 405
        assert headers.getRawHeaders("allow") == ["GET, HEAD"]


@pytest_twisted.ensureDeferred
async def test_hanging_collector_times_out_alone() -> None:
    clock = Clock()
    ctx = context(clock)
    collectors = CollectorSet(
        [Hanging(ctx), Fixed(ctx, "diskstats", Category.STORAGE, Kind.PERFORMANCE, [])],
        clock,
        lambda: 0.0,
    )
    treq: Any = StubTreq(MonitoringAPI(collectors).resource())
    listing = await treq.get("http://node1/1/list/collectors")
    assert await listing.content() == b'[["hanging","instance",1],["diskstats","storage",0]]'
    single = await treq.get("http://node1/1/report/storage/diskstats")
    assert single.code == 200
    pending = treq.get("http://node1/1/report/all")
    clock.advance(3)
    treq.flush()
    response = await pending
    reports = json.loads(await response.content())
    assert reports[0]["data"]["status"] == {"code": 2, "message": "collector timed out after 3 s"}
    assert reports[1]["data"] == []


def test_segments_are_percent_decoded_individually() -> None:
    assert path_segments(b"/1/report/default/cpu-avg-load%2F") == [
        "1",
        "report",
        "default",
        "cpu-avg-load/",
    ]
    assert path_segments(b"/") == [""]
