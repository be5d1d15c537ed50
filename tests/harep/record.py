"""Record what Ganeti's harep does in each scenario into ``data/recorded.json``.

Run by hand where ganeti-htools-3.0 is installed (it takes a minute: harep
waits at least half a second for each job)::

    .venv/bin/python -m tests.harep.record
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet import defer, task

from tests.harep.runner import ganeti, real_harep, record
from tests.harep.scenarios import SCENARIOS

DATA = Path(__file__).parent / "data" / "recorded.json"


async def record_all(binary: str) -> dict[str, Any]:
    recorded: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="harep-", dir="/tmp") as directory:
        for scenario in SCENARIOS:
            recorded[scenario.name] = await record(
                scenario, ganeti(binary), Path(directory) / "query.sock"
            )
    return recorded


def main() -> None:
    binary = real_harep()
    if binary is None:
        sys.exit("Ganeti's harep is not installed (apt-get install ganeti-htools-3.0)")

    async def run(_reactor: Any) -> None:
        recorded = await record_all(binary)
        DATA.parent.mkdir(exist_ok=True)
        DATA.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n")

    task.react(lambda reactor: defer.ensureDeferred(run(reactor)))


if __name__ == "__main__":
    main()
