"""Interoperability with Debian's Ganeti 3.0.2 (ganeti-confd and ganeti.confd.client).

Skipped unless the packages are installed (``../shared/reference/setup-ganeti.sh``);
CI need not install them: tests/confd/test_real_answers.py checks the same queries
against answers recorded from the real daemon. Each root is built from one of Ganeti's
sample configurations (2.16 and 3.0) as spec/confd.md section 8 describes, so both
servers answer the same file, and every object of it is asked about.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor as global_reactor
from twisted.internet.utils import getProcessOutputAndValue

from ganeti_agent.confd.answers import ConfigStatus, answer
from ganeti_agent.confd.client import ConfdClient, QueryResult
from ganeti_agent.confd.config import build_config
from ganeti_agent.confd.constants import RequestType as T
from ganeti_agent.confd.protocol import Request, parse_query
from ganeti_agent.confd.server import ConfdServer
from tests.confd.real_answers import (
    VERSIONS,
    every_shape,
    make_root,
    sample_config,
    start_real_confd,
)
from tests.confd.support import KEY, inline_callbacks
from tests.support import SHARED, shared_missing_reason

reactor: Any = global_reactor
CONFD = Path("/usr/lib/ganeti/3.0/usr/sbin/ganeti-confd")
PYTHON_GANETI = Path("/usr/share/ganeti/3.0/ganeti/confd/client.py")
CONFD_QUERY = SHARED / "reference" / "confd-query.py"

pytestmark = pytest.mark.skipif(
    not CONFD.exists() or not PYTHON_GANETI.exists(),
    reason="Debian's ganeti-3.0/ganeti-haskell-3.0 are not installed "
    "(../shared/reference/setup-ganeti.sh installs them)",
)


@pytest.fixture(scope="module", params=VERSIONS)
def sample(request: pytest.FixtureRequest) -> dict[str, Any]:
    config: dict[str, Any] = sample_config(request.param)
    return config


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, sample: dict[str, Any]) -> Path:
    return make_root(tmp_path_factory.mktemp("interop") / "vm", sample)


@pytest.fixture(scope="module")
def real_confd(root: Path) -> Iterator[int]:
    process, port = start_real_confd(root)
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(10)


@pytest.fixture
def our_confd(root: Path) -> Iterator[int]:
    config = build_config(json.loads((root / "var/lib/ganeti/config.data").read_text()))

    class Source:
        key: bytes | None = KEY
        status = ConfigStatus(config)

    listening = reactor.listenUDP(0, ConfdServer(Source()), interface="127.0.0.1")
    yield listening.getHost().port
    listening.stopListening()


def canonical(result: QueryResult) -> str:
    """The best reply as JSON text with sorted keys: ``32`` and ``32.0`` differ, as on the wire."""
    assert result.best is not None
    reply = result.best
    return json.dumps([int(reply.status), reply.answer, reply.serial], sort_keys=True)


@inline_callbacks
def test_same_answers_as_real_confd(
    sample: dict[str, Any], real_confd: int, our_confd: int
) -> Generator[Any, Any, None]:
    queries = every_shape(sample)
    differences = []
    for rtype, query in queries:
        real: QueryResult = yield ConfdClient(reactor, KEY, ["127.0.0.1"], real_confd, 5).query(
            rtype, query
        )
        ours: QueryResult = yield ConfdClient(reactor, KEY, ["127.0.0.1"], our_confd, 5).query(
            rtype, query
        )
        assert real.best is not None, f"real confd did not answer {rtype.name} {query!r}"
        assert ours.best is not None
        if canonical(real) != canonical(ours):
            differences.append((rtype.name, query, canonical(real), canonical(ours)))
    assert differences == []
    assert len(queries) > 90


@pytest.mark.skipif(
    not CONFD_QUERY.exists(), reason=shared_missing_reason("reference/confd-query.py")
)
@inline_callbacks
def test_ganeti_python_client_against_our_server(
    sample: dict[str, Any], root: Path, our_confd: int
) -> Generator[Any, Any, None]:
    config = build_config(json.loads((root / "var/lib/ganeti/config.data").read_text()))
    for rtype, query in every_shape(sample):
        if rtype is T.NODE_INSTANCES:
            continue  # not in CONFD_REQS: Ganeti's Python client refuses to send it
        argv = [str(CONFD_QUERY), "-p", str(our_confd), "-t", "5", str(root), rtype.name]
        if query is not None:
            argv.append(json.dumps(query) if isinstance(query, dict) else query)
        out, err, code = yield getProcessOutputAndValue(
            "/usr/bin/python3", argv, env={"PATH": "/usr/bin:/bin"}
        )
        assert code == 0, (rtype.name, query, err.decode())
        reply = json.loads(out.decode().splitlines()[0])
        expected = answer(ConfigStatus(config), Request(rtype, parse_query(query), "s"))
        assert reply["server"] == f"127.0.0.1:{our_confd}"
        assert (reply["status"], reply["answer"], reply["serial"]) == (
            expected.status,
            expected.answer,
            expected.serial,
        )
