"""config.data parsing: hostile documents, stepwise decoding, collector activation."""

from __future__ import annotations

import copy
import json
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganeti_agent.confd.config import (
    STEP_ITEMS,
    ConfigError,
    decode_steps,
    load_steps,
    parse_config,
    run_steps,
)
from tests.confd.support import load_sample, section8_config


def sample() -> dict[str, Any]:
    return section8_config(load_sample("cluster_config_3.0.json"))


def with_version(literal: str) -> str:
    """The sample with ``version`` spelled as ``literal`` (not always valid JSON)."""
    return json.dumps(sample()).replace('"version": ', f'"version": {literal}, "was": ', 1)


HOSTILE = {
    "NaN": with_version("NaN"),
    "Infinity": with_version("Infinity"),
    "-Infinity": with_version("-Infinity"),
    "1e999": with_version("1e999"),
    "-1e999": with_version("-1e999"),
    "5000 digits": with_version("9" * 5000),
    "deep arrays": "[" * 100_000 + "]" * 100_000,
    "deep objects": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "deep inside an instance": json.dumps(sample()).replace(
        '"instances": {', '"instances": {"deep": ' + "[" * 50_000 + "]" * 50_000 + ", ", 1
    ),
    "not UTF-8": b'{"cluster": "\xff\xfe"}',
    "NUL bytes": b"\x00" * 100,
    "trailing garbage": json.dumps(sample()) + " x",
    "BOM": "\ufeff" + json.dumps(sample()),
}


@pytest.mark.parametrize("document", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_documents_are_config_errors(document: str | bytes) -> None:
    """On main these raised ValueError, OverflowError or RecursionError instead."""
    with pytest.raises(ConfigError):
        parse_config(document)


def test_non_finite_numbers_are_named() -> None:
    with pytest.raises(ConfigError, match="NaN is not a JSON number"):
        parse_config(with_version("NaN"))
    with pytest.raises(ConfigError, match="out of range: 1e999"):
        parse_config(with_version("1e999"))


FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | FINITE | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), JSON_VALUES, max_size=6), st.sampled_from(["", " ", "\n\t"]))
def test_stepwise_decoding_is_json_loads(document: dict[str, Any], space: str) -> None:
    text = json.dumps(document, indent=1 if space else None).replace("\n", "\n" + space)
    assert run_steps(decode_steps(space + text + space)) == json.loads(text)


@pytest.mark.parametrize(
    "text", ["{", '{"a" 1}', '{"a": 1,}', '{"a": 1 "b": 2}', "{1: 2}", '{"a": 1} {}', "[1] 2"]
)
def test_stepwise_decoding_rejects_what_json_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ConfigError, match="Malformed JSON"):
        parse_config(text)


def grown(instances: int) -> dict[str, Any]:
    raw = sample()
    template = next(iter(raw["instances"].values()))
    raw["instances"] = {}
    for number in range(instances):
        instance = copy.deepcopy(template)
        instance.update(uuid=f"uuid-{number}", name=f"inst{number}", disks=[])
        raw["instances"][f"uuid-{number}"] = instance
    return raw


def test_large_configurations_load_in_many_small_steps() -> None:
    text = json.dumps(grown(10 * STEP_ITEMS)).encode()
    steps = load_steps(text)
    yields = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            config = done.value
            break
        yields += 1
    assert yields >= 3 * 10  # decoding, instances, two indexes: each in slices
    assert config.raw == parse_config(text).raw and len(config.instances) == 10 * STEP_ITEMS


def collectors_with(lv: object) -> dict[str, Any]:
    raw = sample()
    raw["cluster"]["data_collectors"]["lv"] = {"active": lv, "interval": 5_000_000}
    collectors: dict[str, Any] = parse_config(json.dumps(raw)).collectors
    return collectors


@pytest.mark.parametrize("word", ["no", "No", "false", "off", "0", 0, False])
def test_inactive_spelled_by_hand_is_inactive(word: object) -> None:
    """Issue 16 item 13: bool("no") is True, so main listed such a collector."""
    assert collectors_with(word)["lv"] == {"active": False, "interval": 5_000_000}


@pytest.mark.parametrize("word", ["yes", "true", "on", "1", 1, True])
def test_active_spelled_by_hand_is_active(word: object) -> None:
    assert collectors_with(word)["lv"]["active"] is True


@pytest.mark.parametrize("odd", ["maybe", 2, None, [], {}, 0.5])
def test_other_active_values_keep_the_default_and_say_so(odd: object) -> None:
    raw = sample()
    raw["cluster"]["data_collectors"]["lv"] = {"active": odd}
    config = parse_config(json.dumps(raw))
    assert cast(Any, config.collectors["lv"])["active"] is True
    assert config.warnings == [
        f"data_collectors/lv/active is {json.dumps(odd)}, not a boolean: treated as true"
    ]
