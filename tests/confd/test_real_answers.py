"""Our answers equal the real ganeti-confd 3.0.2's, recorded in tests/confd/real_answers/.

Each request type on every object of the 2.16 and 3.0 samples (tests/confd/real_answers.py
lists the queries and re-records them). The comparison is of the JSON text with sorted
keys, so ``32`` against ``32.0`` or a time one unit off in the last place is a difference,
as it is on the wire.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ganeti_agent.confd.answers import ConfigStatus, answer
from ganeti_agent.confd.config import build_config
from ganeti_agent.confd.constants import RequestType
from ganeti_agent.confd.protocol import Request, parse_query
from tests.confd.real_answers import VERSIONS, every_shape, recorded, sample_config


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_recorded_answer_is_ours(version: str) -> None:
    config = sample_config(version)
    status = ConfigStatus(build_config(config))
    differences = []
    for row in recorded(version):
        rtype = RequestType[row["type"]]
        reply = answer(status, Request(rtype, parse_query(row["query"]), "salt"))
        ours = {"status": int(reply.status), "answer": reply.answer, "serial": reply.serial}
        real = {key: row[key] for key in ("status", "answer", "serial")}
        if canonical(ours) != canonical(real):
            differences.append((row["type"], row["query"]))
    assert differences == []


@pytest.mark.parametrize("version", VERSIONS)
def test_the_recording_covers_every_object_of_the_sample(version: str) -> None:
    asked = [(row["type"], row["query"]) for row in recorded(version)]
    wanted = [(rtype.name, query) for rtype, query in every_shape(sample_config(version))]
    assert asked == wanted
    assert {row["type"] for row in recorded(version)} == {t.name for t in RequestType}
