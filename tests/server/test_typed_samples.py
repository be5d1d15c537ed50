"""Typed collectors' samples: well formed, from the results the fixture agent gives them."""

from __future__ import annotations

import pytest

from ganeti_agent.core.framework import TypedCollector
from ganeti_agent.core.metrics import FAMILIES
from ganeti_agent.core.report import encode_json
from tests.server.metrics_fixture import AGENT, Typed, bare

TYPED = [
    pytest.param(cls, data.result, id=name)
    for cls, name, _category, _kind, data, _success in AGENT
    if isinstance(data, Typed)
]


def test_every_built_in_collector_with_a_typed_result_is_in_the_fixture() -> None:
    names = {param.id for param in TYPED}
    assert {"cpu-avg-load", "diskstats", "drbd", "lv", "node", "confd"} <= names


@pytest.mark.parametrize(("cls", "result"), TYPED)
def test_samples_fit_their_declared_families(
    cls: type[TypedCollector[object]], result: object
) -> None:
    collector = bare(cls, "typed")
    assert isinstance(collector, TypedCollector)
    samples = list(collector.samples(result))
    assert samples, "a fixture result with data gives samples"
    for sample in samples:
        assert FAMILIES[sample.family.name] is sample.family
        assert len(sample.labels) == len(sample.family.labels)
        assert all(isinstance(part, str) for part in sample.labels)
        assert isinstance(sample.value, float)


@pytest.mark.parametrize(("cls", "result"), TYPED)
def test_the_data_of_a_typed_result_is_encodable(
    cls: type[TypedCollector[object]], result: object
) -> None:
    collector = bare(cls, "typed")
    assert isinstance(collector, TypedCollector)
    assert encode_json(collector.to_data(result))
