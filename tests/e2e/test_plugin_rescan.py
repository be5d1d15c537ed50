"""A plugin dropped into the directory of a running ``twistd ganeti-agent``.

It is served without a restart, in ``/1/list/collectors`` and ``/1/report/all``, with
the version and format_version it prints; removing it takes it away again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.faults.support import eventually, running_agent, stand_in

REPORT = {
    "name": "late",
    "version": "late-1.4",
    "format_version": 3,
    "category": None,
    "kind": 0,
    "data": {"answer": 42},
}


def listed(agent_get: tuple[int, bytes]) -> list[str]:
    status, body = agent_get
    assert status == 200, (status, body)
    return [entry[0] for entry in json.loads(body)]


def test_a_new_plugin_appears_with_its_own_versions_and_goes_when_removed(
    tmp_path: Path,
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    config = (
        f"[collector:plugins]\ndirectory = {plugins}\nrescan-interval = 0.5\n"
        "[collector:late]\ninterval = 0.5\n"
    )
    with running_agent(tmp_path, config) as agent:
        assert "late" not in listed(agent.get("/1/list/collectors"))
        stand_in(plugins / "late.sh", f"cat <<'EOF'\n{json.dumps(REPORT)}\nEOF\n")

        def own_report() -> dict[str, Any] | None:
            report: dict[str, Any] | None = agent.all_reports().get("late")
            return report if report is not None and report["data"] == REPORT["data"] else None

        report = eventually(own_report)
        assert (report["version"], report["format_version"]) == ("late-1.4", 3)
        assert "late" in listed(agent.get("/1/list/collectors"))
        (plugins / "late.sh").unlink()
        eventually(lambda: "late" not in listed(agent.get("/1/list/collectors")))
        assert "late" not in agent.all_reports()
        assert "Traceback" not in agent.log_text()
