#!/usr/bin/env python3
"""Record what the real Ganeti 3.0.2 ``mon-collector inst-status-xen`` prints for each case.

Needs the reference kit of ../shared/reference (Debian's ganeti-haskell-3.0 installed by
setup-ganeti.sh). For every case directory beside this script it builds a cluster whose
node ``node1.example.com`` is this host (make-root.py --replace-node) and is primary for
exactly the case's instances, starts the real confd on UDP 127.0.0.1:18140, puts the
stand-in ``xm`` on PATH, runs the real tool and writes ``expected.json``, ``expected.rc``
and ``expected.err`` (informative; the root is written as $GANETI_ROOTDIR).

Usage: record.py [CASE...]    (run by hand; tests never call it)
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from tests.cli.xen_golden_cases import Case, load_cases, materialise  # noqa: E402

SHARED = (REPO / ".." / "shared").resolve()
FIXTURES = SHARED / "fixtures" / "ganeti"
KIT = SHARED / "reference"
MON_COLLECTOR = "/usr/lib/ganeti/3.0/usr/lib/ganeti/mon-collector"
NODE1 = "9a12d554-75c0-4cb1-8064-103365145db0"
NODE3 = "41f9c238-173c-4120-9e41-04ad379b647a"
INSTANCE1 = "6c078d22-3eb6-4780-857d-81772e09eef1"
CONFD_PORT = "18140"


def cluster_config(case: Case) -> dict[str, Any]:
    """The shared sample configuration with node1 primary for exactly the case's instances."""
    config: dict[str, Any] = json.loads((FIXTURES / "cluster_config_3.0.json").read_text())
    template = config["instances"][INSTANCE1]
    for instance in config["instances"].values():
        if instance["primary_node"] == NODE1:
            instance["primary_node"] = NODE3
    for wanted in case.instances:
        if wanted["uuid"] == INSTANCE1:
            instance = config["instances"][INSTANCE1]
        else:
            instance = copy.deepcopy(template)
            instance.update(disks=[], nics=[])
        instance.update(wanted, primary_node=NODE1)
        config["instances"][wanted["uuid"]] = instance
    return config


def record(case: Case) -> None:
    with tempfile.TemporaryDirectory(prefix="isx-record-") as scratch:
        work = Path(scratch)
        root = work / "root"
        source = work / "config.json"
        source.write_text(json.dumps(cluster_config(case)))
        host = socket.gethostname()
        subprocess.run(
            [
                KIT / "make-root.py",
                "--source",
                source,
                "--replace-node",
                "node1.example.com",
                root,
                host,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        bin_dir, _ = materialise(case, work, FIXTURES)
        subprocess.run(
            [KIT / "start-confd.sh", root, CONFD_PORT], check=True, stdout=subprocess.DEVNULL
        )
        try:
            env = {
                "PATH": f"{bin_dir}:/usr/bin:/bin",
                "LC_ALL": "C.UTF-8",
                "GANETI_ROOTDIR": str(root),
            }
            done = subprocess.run(
                [MON_COLLECTOR, "inst-status-xen", "-a", "127.0.0.1", "-p", CONFD_PORT],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            subprocess.run([KIT / "stop.sh", root], check=False, stdout=subprocess.DEVNULL)
        (case.directory / "expected.json").write_text(done.stdout)
        (case.directory / "expected.rc").write_text(f"{done.returncode}\n")
        (case.directory / "expected.err").write_text(
            done.stderr.replace(str(root), "$GANETI_ROOTDIR")
        )
        print(f"{case.name}: exit {done.returncode}")


def main(names: list[str]) -> None:
    for case in load_cases():
        if not names or case.name in names:
            record(case)


if __name__ == "__main__":
    main(sys.argv[1:])
