"""A real Prometheus scraping a real ``twistd -n ganeti-agent``, found through file_sd
targets made by ``ganeti-agent targets``; all on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("prometheus") is None,
        reason="prometheus is not installed (Debian package prometheus; make system-deps)",
    ),
]

DEADLINE = 30.0


def bin_of(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except OSError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}: {last!r}")


def cluster_config(port_note: str) -> dict[str, Any]:
    node = {"name": "node1.example.org", "uuid": "n1", "primary_ip": "127.0.0.1",
            "group": "g1", "master_candidate": True, "drained": False, "offline": False,
            "serial_no": 1}  # fmt: skip
    return {
        "version": 3000000,
        "cluster": {"cluster_name": port_note, "serial_no": 1, "master_node": "n1",
                    "master_ip": "127.0.0.1"},
        "nodes": {"n1": node},
        "nodegroups": {"g1": {"name": "default"}},
        "instances": {},
    }  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, Path]]:
    home = tmp_path_factory.mktemp("prometheus")
    agent_port, prometheus_port = free_port(), free_port()
    (home / "agent.conf").write_text(
        f"[confd]\nenabled = no\n[collector:plugins]\ndirectory = {home}/plugins\n"
    )
    (home / "plugins").mkdir()
    plugin = home / "plugins" / "answer.sh"
    report = {"name": "answer", "version": "1", "format_version": 1, "category": None,
              "kind": 0, "data": {"value": 42}}  # fmt: skip
    plugin.write_text(f"#!/bin/sh\necho '{json.dumps(report)}'\n")
    plugin.chmod(0o755)
    (home / "config.data").write_text(json.dumps(cluster_config("e2e.example.org")))
    targets = home / "targets.json"
    subprocess.run(
        [sys.executable, "-m", "ganeti_agent.cli.agent", "targets", "--config-data",
         str(home / "config.data"), "--address", "primary-ip", "--port", str(agent_port),
         "-o", str(targets)],
        check=True, timeout=60,
    )  # fmt: skip
    (home / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: ganeti-agent\n"
        f"    file_sd_configs: [{{files: ['{targets}'], refresh_interval: 1s}}]\n"
    )
    env = {**os.environ, "GANETI_ROOTDIR": str(home / "root")}
    logs = (home / "agent.log").open("wb"), (home / "prometheus.log").open("wb")
    agent = subprocess.Popen(
        [bin_of("twistd"), "--nodaemon", "--pidfile=", "ganeti-agent", "--config",
         str(home / "agent.conf"), "--listen", f"tcp:{agent_port}:interface=127.0.0.1",
         "--data-dir", str(home / "data")],
        cwd=home, env=env, stdout=logs[0], stderr=subprocess.STDOUT,
    )  # fmt: skip
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={home / 'prometheus.yml'}",
         f"--storage.tsdb.path={home / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prometheus_port}", "--log.level=warn"],
        cwd=home, stdout=logs[1], stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for name, process in (("agent", agent), ("prometheus", prometheus)):
            time.sleep(0.2)
            if process.poll() is not None:
                pytest.fail(f"{name} exited: {(home / (name + '.log')).read_text()}")
        yield agent_port, prometheus_port, home
    finally:
        for process in (prometheus, agent):
            process.terminate()
        for process in (prometheus, agent):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


def query(prometheus_port: int, expression: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{prometheus_port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expression}
    )
    answer = json.loads(get(url))
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_prometheus_scrapes_the_agent(stack: tuple[int, int, Path]) -> None:
    agent_port, prometheus_port, _home = stack

    def up() -> list[dict[str, Any]]:
        return [r for r in query(prometheus_port, 'up{job="ganeti-agent"}') if r["value"][1] == "1"]

    found = wait_for("the target to be up", up)
    labels = found[0]["metric"]
    assert labels["instance"] == f"127.0.0.1:{agent_port}"
    assert labels["ganeti_node"] == "node1.example.org"
    assert labels["ganeti_node_role"] == "master"
    assert labels["ganeti_node_group"] == "default"
    assert labels["ganeti_cluster"] == "e2e.example.org"
    for expression in (
        'ganeti_agent_info{job="ganeti-agent"}',
        'ganeti_collector_success{collector="node"}',
        'ganeti_collector_duration_seconds{collector="diskstats"}',
        'ganeti_collector_status_code{collector="daemon-ganeti-agent"}',
        'ganeti_node_memory_bytes{type="total"}',
    ):
        assert wait_for(expression, partial(query, prometheus_port, expression)), expression
    plugin = wait_for(
        "the plugin's value",
        lambda: query(prometheus_port, 'ganeti_plugin_value{collector="answer",field="value"}'),
    )
    assert plugin[0]["value"][1] == "42"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_live_exposition(stack: tuple[int, int, Path]) -> None:
    agent_port, _prometheus_port, _home = stack
    body = wait_for("/metrics", lambda: get(f"http://127.0.0.1:{agent_port}/metrics"))
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
