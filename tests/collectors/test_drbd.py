"""The drbd collector in the daemon: files, DRBD 9 through drbdsetup, pairing, failures."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ganeti_agent.collectors.drbd import DrbdCollector
from ganeti_agent.core.cluster import ClusterQueries
from ganeti_agent.core.executor import CommandFailed
from ganeti_agent.core.framework import (
    AgentContext,
    CollectedReport,
    CollectorSettings,
    ManagedCollector,
)
from ganeti_agent.core.jsontypes import JSON
from ganeti_agent.core.paths import GanetiPaths
from tests.collectors.storage_support import StorageCluster
from tests.support import FakeRunner

HEADER = "version: 8.4.2 (api:1/proto:86-101)\n"
PERF = "    ns:1 nr:2 dw:3 dr:4 al:5 bm:6 lo:7 pe:8 ua:9 ap:10 ep:1 wo:f oos:0\n"
CONNECTED = " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n" + PERF
DRBD9 = "version: 9.1.16 (api:2/proto:86-121)\nTransports (api:18): tcp (9.1.16)\n"
DRBDSETUP = (Path(__file__).parents[1] / "parsers" / "data" / "drbdsetup-status.json").read_bytes()
PAIRING: list[list[JSON]] = [["node1", 0, "inst1", "disk/0", "primary", "node2"]]


def write(text: str) -> str:
    path = Path(tempfile.mkdtemp()) / "drbd"
    path.write_text(text)
    return str(path)


def report(
    path: str, cluster: ClusterQueries | None = None, runner: FakeRunner | None = None
) -> Any:
    settings = CollectorSettings(options={"file": path})
    context = AgentContext(
        Clock(), runner or FakeRunner(), GanetiPaths(), "node1", lambda _: settings, cluster
    )
    collector = DrbdCollector(context)
    managed = ManagedCollector(collector, Clock(), lambda: 0.0)
    done = managed.report()
    collected: list[CollectedReport] = []
    done.addCallback(collected.append)
    return collected[0].report.to_json_object()


class DrbdCollectorTests(SynchronousTestCase):
    def test_envelope_and_pairing_from_the_cluster(self) -> None:
        cluster = StorageCluster(drbd=PAIRING)
        envelope = report(write(HEADER + CONNECTED), cluster)
        self.assertEqual((envelope["category"], envelope["kind"]), ("storage", 1))
        self.assertEqual(envelope["data"]["deviceInfos"][0]["instance"], "inst1")
        self.assertEqual(cluster.asked, [("node_drbd", "node1")])

    def test_without_cluster_or_when_it_fails_instances_are_null(self) -> None:
        for cluster in (None, StorageCluster(error="No answer from the Confd server")):
            data = report(write(HEADER + CONNECTED), cluster)["data"]
            self.assertIsNone(data["deviceInfos"][0]["instance"])
            self.assertEqual(data["status"]["code"], 0)

    def test_bad_pairing_answer_is_ignored(self) -> None:
        data = report(write(HEADER + CONNECTED), StorageCluster(drbd=[["short"]]))["data"]
        self.assertIsNone(data["deviceInfos"][0]["instance"])

    def test_unparsable_file_is_status_2_with_a_message(self) -> None:
        path = write(HEADER + " 0: cs:Bogus\n")
        data = report(path)["data"]
        self.assertEqual(data["status"]["code"], 2)
        self.assertIn(f"{path}: cannot parse", data["status"]["message"])

    def test_missing_file(self) -> None:
        collector = DrbdCollector(
            AgentContext(
                Clock(),
                FakeRunner(),
                GanetiPaths(),
                "n",
                lambda _: CollectorSettings(options={"file": "/nonexistent/drbd"}),
            )
        )
        self.assertFalse(collector.available())
        data = report("/nonexistent/drbd")["data"]
        self.assertEqual(data["status"]["code"], 2)
        self.assertIn("does not exist", data["status"]["message"])

    def test_drbd9_asks_drbdsetup(self) -> None:
        runner = FakeRunner()
        runner.reply("drbdsetup", DRBDSETUP)
        data = report(write(DRBD9), StorageCluster(drbd=PAIRING), runner)["data"]
        self.assertEqual(runner.calls, [("drbdsetup", "status", "--json")])
        self.assertEqual(data["versionInfo"], {"version": "9.1.16", "api": "2", "proto": "86-121"})
        self.assertEqual([d["minor"] for d in data["deviceInfos"]], [0, 5, 9])
        self.assertEqual(data["deviceInfos"][0]["instance"], "inst1")

    def test_drbd9_failures_are_status_2(self) -> None:
        runner = FakeRunner()
        runner.responses["drbdsetup"] = lambda argv: CommandFailed(argv, 20, b"", b"no perms")
        data = report(write(DRBD9), None, runner)["data"]
        self.assertEqual(data["status"]["code"], 2)
        self.assertIn("drbdsetup", data["status"]["message"])
        runner.reply("drbdsetup", b"not json")
        data = report(write(DRBD9), None, runner)["data"]
        self.assertEqual(data["status"]["code"], 2)

    @settings(max_examples=100, deadline=None)
    @given(st.text(max_size=300), st.binary(max_size=200))
    def test_any_input_gives_a_report(self, text: str, drbdsetup: bytes) -> None:
        runner = FakeRunner()
        runner.reply("drbdsetup", drbdsetup)
        for content in (text, DRBD9):
            data = report(write(content), StorageCluster(drbd=PAIRING), runner)["data"]
            json.dumps(data)
            self.assertIn(data["status"]["code"], (0, 1, 2, 4))
            if data["status"]["code"] == 2:
                self.assertTrue(data["status"]["message"])
