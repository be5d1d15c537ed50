"""Two fake clusters, a move-instance command run against them, and what each cluster heard.

Used both to record the real Ganeti move-instance (``python -m
tests.moveinstance.conversation``, when ganeti-3.0 is installed) and to check
ours against those recordings.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.utils import getProcessOutputAndValue

from ganeti_agent.rapi.testing import FakeCluster, instance_records, link
from tests.rapi.support import certificate

DATA = Path(__file__).parent / "data"
REAL_TOOL = Path("/usr/share/ganeti/3.0/move-instance")
REAL_PYTHONPATH = "/usr/share/ganeti/3.0"
SYSTEM_PYTHON = "/usr/bin/python3"
OUR_TOOL = Path(sys.executable).parent / "ganeti-move-instance"


@dataclass
class Scenario:
    """A named pair of clusters, the instances on the source, and the command's options."""

    name: str
    instances: Sequence[dict[str, Any]]
    options: Sequence[str] = ()
    dest_info: dict[str, Any] | None = None
    source_failures: dict[str, Any] | None = None
    dest_failures: dict[str, Any] | None = None


EXPORT_FAILED = "Export failed, errors in disk export: disk(s) 0"
ALREADY_THERE = "Instance 'web1.example.com' is already in the cluster"

SCENARIOS = [
    Scenario(
        "plain-nodes", [{"name": "web1.example.com"}], ["--dest-primary-node=node3.example.com"]
    ),
    Scenario(
        "drbd-iallocator",
        [{"name": "db1.example.com", "disk_template": "drbd", "disks": 2, "tags": ["role:db"]}],
        ["-I", "hail", "--compress=gzip"],
    ),
    Scenario(
        "default-iallocator-stopped",
        [{"name": "idle1.example.com", "config_state": "down"}],
        [],
        dest_info={"name": "dest", "default_iallocator": "hail"},
    ),
    Scenario(
        "renamed-with-params",
        [{"name": "app1.example.com"}],
        [
            "--dest-instance-name=app2.example.com",
            "--dest-primary-node=node3.example.com",
            "--dest-secondary-node=node4.example.com",
            "--dest-disk-template=drbd",
            "-B",
            "maxmem=1024",
            "-O",
            "variant=jessie",
            "--net",
            "0:link=br1",
        ],
    ),
    Scenario(
        "export-fails",
        [{"name": "web1.example.com"}],
        ["--dest-primary-node=node3.example.com"],
        source_failures={
            "export": ["OpExecError", ["Export failed, errors in disk export: disk(s) 0"]]
        },
    ),
    Scenario(
        "import-refused",
        [{"name": "web1.example.com"}],
        ["--dest-primary-node=node3.example.com"],
        dest_failures={
            "create": [
                "OpPrereqError",
                ["Instance 'web1.example.com' is already in the cluster", "exists"],
            ]
        },
    ),
]


@dataclass
class Clusters:
    source: FakeCluster
    destination: FakeCluster
    ports: list[Any]
    directory: Path

    def arguments(self, options: Sequence[str], instances: Sequence[str]) -> list[str]:
        source_port = self.ports[0].getHost().port
        dest_port = self.ports[1].getHost().port
        return [
            f"--src-rapi-port={source_port}",
            f"--dest-rapi-port={dest_port}",
            f"--src-ca-file={self.directory / 'source.pem'}",
            f"--dest-ca-file={self.directory / 'dest.pem'}",
            "--src-username=admin",
            f"--src-password-file={self.directory / 'password'}",
            *options,
            "127.0.0.1",
            "localhost",
            *instances,
        ]

    def stop(self) -> Any:
        from twisted.internet.defer import gatherResults

        return gatherResults([port.stopListening() for port in self.ports])


def start_clusters(scenario: Scenario, directory: Path) -> Clusters:
    source = FakeCluster("source", first_job_id=100)
    destination = FakeCluster("dest", first_job_id=200, info=scenario.dest_info or {"name": "dest"})
    source.ca_pem = certificate("source-x509")[1]
    destination.ca_pem = certificate("dest-x509")[1]
    link(source, destination)
    for spec in scenario.instances:
        options = {key: value for key, value in spec.items() if key != "name"}
        source.add_instance(*instance_records(spec["name"], **options))
    source.failures.update(scenario.source_failures or {})
    destination.failures.update(scenario.dest_failures or {})
    source_tls, dest_tls = certificate("source-tls"), certificate("dest-tls")
    (directory / "source.pem").write_bytes(source_tls[1])
    (directory / "dest.pem").write_bytes(dest_tls[1])
    (directory / "password").write_text("secret\n")
    ports = [source.listen_tls(source_tls), destination.listen_tls(dest_tls)]
    return Clusters(source, destination, ports, directory)


_PEM = re.compile(r"^X-Ganeti-Signature: (\w+)/\w+\n\n-----BEGIN CERTIFICATE-----.*", re.S)


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        found = _PEM.match(value)
        return f"<certificate signed with salt {found.group(1)}>" if found else value
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    return value


def conversation(cluster: FakeCluster) -> list[dict[str, Any]]:
    """The requests, certificates replaced by their salt, repeated identical /wait polls once."""
    result: list[dict[str, Any]] = []
    for request in cluster.requests:
        entry = _normalise(request.as_json())
        if entry["path"].endswith("/wait") and result and result[-1] == entry:
            continue
        result.append(entry)
    return result


async def run_command(
    argv: Sequence[str], env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run a command while the reactor keeps serving; (exit code, stdout, stderr)."""
    out, err, code = await getProcessOutputAndValue(
        argv[0], list(argv[1:]), env=env if env is not None else dict(os.environ), reactor=reactor
    )
    return code, out.decode(), err.decode()


def real_tool_command(arguments: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": REAL_PYTHONPATH, "LANG": "C.UTF-8"}
    return [SYSTEM_PYTHON, str(REAL_TOOL), *arguments], env


async def record(scenario: Scenario, directory: Path, command: str) -> dict[str, Any]:
    """Run the real tool (``command="real"``) or ours against fresh fakes; what they heard."""
    clusters = start_clusters(scenario, directory)
    try:
        names = [spec["name"] for spec in scenario.instances]
        arguments = clusters.arguments(scenario.options, names)
        if command == "real":
            argv, env = real_tool_command(["--opportunistic-tries=0", *arguments])
        else:
            argv, env = [str(OUR_TOOL), *arguments], dict(os.environ)
        code, _, err = await run_command(argv, env)
    finally:
        await clusters.stop()
    return {
        "scenario": scenario.name,
        "exit_code": code,
        "stderr_tail": err.strip().splitlines()[-1:] if err.strip() else [],
        "source": conversation(clusters.source),
        "destination": conversation(clusters.destination),
    }


def main() -> None:
    """Record the real tool's conversations into tests/moveinstance/data/real-*.json."""
    import tempfile

    from twisted.internet.defer import ensureDeferred
    from twisted.internet.task import react

    async def record_all(_: Any) -> None:
        for scenario in SCENARIOS:
            with tempfile.TemporaryDirectory() as directory:
                recording = await record(scenario, Path(directory), "real")
            path = DATA / f"real-{scenario.name}.json"
            recording.pop("stderr_tail")
            path.write_text(json.dumps(recording, indent=1, sort_keys=True) + "\n")
            print(path, recording["exit_code"])

    react(lambda r: ensureDeferred(record_all(r)))


if __name__ == "__main__":
    main()
