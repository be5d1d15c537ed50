"""docs/architecture.md's "Adding a collector", followed to the letter with its toy collector.

The toy's file and registry line are taken from the document itself, so the guide
cannot drift from what the agent needs: one file in the collectors package, one
line in REGISTRY, nothing else, and the collector shows in the API and /metrics.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import treq
from twisted.application.service import MultiService
from twisted.internet import reactor

import ganeti_agent.collectors
from ganeti_agent.core.settings import parse_settings
from ganeti_agent.server.tap import CommandLine, Options, agent_reactor, make_agent
from ganeti_agent.server.web import AgentSite
from tests.support import REPO, async_test

GUIDE = REPO / "docs" / "architecture.md"
ONLY_THE_TOY = """
[collectors]
enabled = no

[collector:toy-answer]
enabled = yes
"""


def guide_steps() -> tuple[str, str, str]:
    """(file name, file text, registry entry) as the guide gives them."""
    section = GUIDE.read_text().split("## Adding a collector", 1)[1]
    file_name = re.search(r"saved as `([a-z_]+\.py)`", section)
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert file_name is not None and len(blocks) == 2
    entry = re.fullmatch(r'\s*"([a-z_]+)",\s*', blocks[1])
    assert entry is not None
    return file_name.group(1), blocks[0], entry.group(1)


def follow_the_guide(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Save the file where the collectors package finds it and add the registry line."""
    file_name, text, entry = guide_steps()
    assert file_name == f"{entry}.py"
    package = tmp_path / "package"
    package.mkdir()
    (package / file_name).write_text(text)
    package_path = [*ganeti_agent.collectors.__path__, str(package)]
    monkeypatch.setattr(ganeti_agent.collectors, "__path__", package_path)
    monkeypatch.setattr(
        ganeti_agent.collectors, "REGISTRY", (*ganeti_agent.collectors.REGISTRY, entry)
    )


async def get(port: int, path: str) -> tuple[int, bytes]:
    response = await treq.get(f"http://127.0.0.1:{port}{path}")
    return response.code, await response.content()


@async_test
async def test_the_toy_collector_of_the_guide_is_served(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    follow_the_guide(monkeypatch, tmp_path)
    options = Options()
    options.parseOptions(["--data-dir", str(tmp_path), "--no-confd"])
    settings = parse_settings(ONLY_THE_TOY, "agent.conf")
    _collectors, api = make_agent(
        settings, CommandLine.from_options(options), agent_reactor(), MultiService()
    )
    site: Any = AgentSite(api.resource(), False)
    port: Any = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        number = port.getHost().port
        listed = json.loads((await get(number, "/1/list/collectors"))[1])
        code, body = await get(number, "/1/report/all")
        single = json.loads((await get(number, "/1/report/default/toy-answer"))[1])
        metrics = (await get(number, "/metrics"))[1].decode()
    finally:
        await port.stopListening()
    assert listed == [["toy-answer", "default", 0]]
    assert code == 200
    [report] = json.loads(body)
    assert (report["name"], report["category"], report["data"]) == (
        "toy-answer",
        None,
        {"answer": 42},
    )
    assert single["data"] == {"answer": 42}
    assert "\ntoy_answer 42.0\n" in metrics
    assert 'ganeti_collector_success{collector="toy-answer"} 1.0' in metrics
