"""Reloading config.data with real files and inotify; the last good configuration stays."""

from __future__ import annotations

import gc
import json
import os
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import reactor as global_reactor
from twisted.internet.task import Clock, Cooperator, deferLater
from twisted.logger import capturedLogs, formatEvent

from ganeti_agent.confd.config import STEP_ITEMS
from ganeti_agent.confd.source import ConfigSource
from tests.confd.support import KEY, inline_callbacks, load_sample, section8_config

reactor: Any = global_reactor


def write_atomically(path: Path, data: bytes) -> None:
    """As Ganeti writes config.data: a temporary file renamed over the old one."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.rename(temporary, path)


@inline_callbacks
def wait_until(predicate: Callable[[], bool], limit: float = 3.0) -> Generator[Any, Any, float]:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > limit:
            raise AssertionError("condition not reached in time")
        yield deferLater(reactor, 0.02, lambda: None)
    return time.monotonic() - started


def config_bytes(serial: int) -> bytes:
    raw = section8_config(load_sample("cluster_config_3.0.json"))
    raw["cluster"]["serial_no"] = serial
    return json.dumps(raw).encode()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / "lib" / "ganeti"


@pytest.fixture
def source(data_dir: Path) -> Iterator[ConfigSource]:
    made = ConfigSource(
        str(data_dir / "config.data"), str(data_dir / "hmac.key"), reactor, poll_interval=0.1
    )
    yield made
    if made.running:
        made.stopService()


def serial(source: ConfigSource) -> int | None:
    config = source.status.config
    return None if config is None else config.serial


@inline_callbacks
def test_start_without_files_then_appear(
    source: ConfigSource, data_dir: Path
) -> Generator[Any, Any, None]:
    source.startService()
    assert source.key is None
    assert source.status.error == (
        f"Failure during configuration update: {data_dir}/config.data: getFileStatus: "
        "does not exist (No such file or directory)"
    )
    data_dir.mkdir(parents=True)
    (data_dir / "hmac.key").write_bytes(KEY)
    write_atomically(data_dir / "config.data", config_bytes(10))
    yield wait_until(lambda: serial(source) == 10)
    assert source.key == KEY


@inline_callbacks
def test_inotify_reload_and_last_good(
    source: ConfigSource, data_dir: Path
) -> Generator[Any, Any, None]:
    data_dir.mkdir(parents=True)
    (data_dir / "hmac.key").write_bytes(KEY)
    config = data_dir / "config.data"
    write_atomically(config, config_bytes(1))
    source.safety_interval = 3600  # only inotify can notice the changes below
    source.startService()
    assert serial(source) == 1 and source._notifier is not None

    write_atomically(config, config_bytes(2))
    took = yield wait_until(lambda: serial(source) == 2, 2)
    assert took < 1

    write_atomically(config, b'{"cluster": broken')
    yield wait_until(lambda: source.load_failures == 1, 2)
    assert serial(source) == 2

    full = config_bytes(3)
    config.write_bytes(full[: len(full) // 2])  # an in-place write, cut short
    yield wait_until(lambda: source.load_failures == 2, 2)
    assert serial(source) == 2
    config.write_bytes(full)
    yield wait_until(lambda: serial(source) == 3, 2)

    config.unlink()
    source.check()
    assert serial(source) == 3
    write_atomically(config, config_bytes(4))
    yield wait_until(lambda: serial(source) == 4, 2)


@inline_callbacks
def test_polling_without_inotify(source: ConfigSource, data_dir: Path) -> Generator[Any, Any, None]:
    data_dir.mkdir(parents=True)
    (data_dir / "hmac.key").write_bytes(KEY)
    write_atomically(data_dir / "config.data", config_bytes(1))
    source.use_inotify = False
    source.startService()
    write_atomically(data_dir / "config.data", config_bytes(5))
    yield wait_until(lambda: serial(source) == 5)
    assert source.loads == 2


def test_corrupt_file_at_start_is_the_answer(source: ConfigSource, data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "config.data").write_text("{")
    source.check()
    assert source.status.config is None
    assert source.status.error.startswith(
        f"Cannot load configuration from {data_dir}/config.data: parsing configuration: "
    )


def clock_source(data_dir: Path, **options: Any) -> tuple[ConfigSource, Clock]:
    clock = Clock()
    made = ConfigSource(str(data_dir / "config.data"), str(data_dir / "hmac.key"), clock, **options)
    return made, clock


def finish_loading(source: ConfigSource, clock: Clock) -> int:
    """Run a stepwise load to its end; how many reactor turns it took."""
    turns = 0
    while source.loading:
        clock.advance(0)
        turns += 1
    return turns


def version_spelled(literal: str) -> bytes:
    """The sample with its ``version`` written as ``literal``, which main's parser took."""
    return config_bytes(1).replace(b'"version": ', f'"version": {literal}, "was": '.encode(), 1)


HOSTILE = [version_spelled("NaN"), version_spelled("1e999"), b"[" * 100_000, b"\xff\xfe{"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_file_at_start_is_a_counted_failure(data_dir: Path, hostile: bytes) -> None:
    """On main NaN, 1e999 and deep nesting raised out of check() (so out of start-up)."""
    data_dir.mkdir(parents=True)
    (data_dir / "config.data").write_bytes(hostile)
    source, _ = clock_source(data_dir, use_inotify=False)
    source.check()
    assert source.status.config is None and source.load_failures == 1
    assert source.status.error.startswith(f"Cannot load configuration from {data_dir}/")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_periodic_check_survives_a_hostile_file(data_dir: Path, hostile: bytes) -> None:
    """On main the LoopingCall died with the exception: the good file was never loaded."""
    data_dir.mkdir(parents=True)
    config = data_dir / "config.data"
    config.write_bytes(config_bytes(1))
    source, clock = clock_source(data_dir, use_inotify=False, poll_interval=1)
    source.startService()
    write_atomically(config, hostile)
    clock.advance(1)
    assert source.load_failures == 1 and serial(source) == 1
    write_atomically(config, config_bytes(2))
    clock.advance(1)
    assert serial(source) == 2
    source.stopService()


def test_file_above_the_size_limit_is_not_read(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    config = data_dir / "config.data"
    good = config_bytes(1)
    config.write_bytes(good)
    source, _ = clock_source(data_dir, use_inotify=False, max_size=len(good))
    source.check()
    assert serial(source) == 1
    config.write_bytes(good + b" " * 10)
    source.check()
    assert serial(source) == 1 and source.load_failures == 1
    assert source._last_problem is not None
    assert f"{len(good) + 10} bytes, more than the {len(good)} allowed" in source._last_problem


def many_instances(serial: int, count: int = 5 * STEP_ITEMS) -> bytes:
    raw = section8_config(load_sample("cluster_config_3.0.json"))
    raw["cluster"]["serial_no"] = serial
    template = next(iter(raw["instances"].values()))
    raw["instances"] = {
        f"uuid-{n}": {**template, "uuid": f"uuid-{n}", "name": f"i{n}", "disks": []}
        for n in range(count)
    }
    return json.dumps(raw).encode()


def test_large_file_loads_in_steps_while_the_last_one_answers(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    config = data_dir / "config.data"
    config.write_bytes(config_bytes(1))
    source, _ = clock_source(data_dir, use_inotify=False)
    turns: list[Callable[[], None]] = []
    source.cooperator = Cooperator(
        terminationPredicateFactory=lambda: lambda: True,  # one step per reactor turn
        scheduler=turns.append,  # type: ignore[arg-type]
    )
    source.check()
    source.inline_size = 0
    write_atomically(config, many_instances(2))
    source.check()
    taken = 0
    while turns:
        assert source.loading and serial(source) == 1  # still answering from serial 1
        turns.pop(0)()
        taken += 1
    assert taken > 10 and serial(source) == 2 and source.loads == 2
    assert gc.isenabled()


def test_change_during_a_stepwise_load_is_loaded_after_it(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    config = data_dir / "config.data"
    config.write_bytes(config_bytes(1))
    source, clock = clock_source(data_dir, use_inotify=False)
    source.startService()
    source.inline_size = 0
    write_atomically(config, config_bytes(2))
    source.check()
    write_atomically(config, config_bytes(3) + b" ")
    source.check()
    assert source.loading
    finish_loading(source, clock)
    assert serial(source) == 3 and source.loads == 3
    source.stopService()


def test_without_the_server_the_key_is_not_wanted(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "config.data").write_bytes(config_bytes(1))
    (data_dir / "hmac.key").write_bytes(KEY)
    source, _ = clock_source(data_dir, use_inotify=False, needs_key=False)
    source.check()
    assert source.key is None and serial(source) == 1


FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | FINITE | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
CONSTANTS = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "9" * 5000])


@st.composite
def sample_with_one_change(draw: st.DrawFn) -> bytes:
    """The sample with one value somewhere replaced, by JSON or by a non-finite literal."""
    raw = section8_config(load_sample("cluster_config_3.0.json"))
    table = draw(st.sampled_from(["cluster", "nodes", "instances", "disks"]))
    key = draw(st.sampled_from(sorted(raw[table])))
    marker = "__fuzz_marker__"
    raw[table][key] = marker
    literal = draw(CONSTANTS | JSON_VALUES.map(json.dumps))
    return json.dumps(raw).replace(json.dumps(marker), literal).encode()


DOCUMENTS = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    sample_with_one_change(),
    st.integers(1, 3000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.integers(1, 100_000).map(lambda depth: b"[" * depth),
)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS, st.booleans())
def test_fuzz_every_file_is_one_load_or_one_counted_failure(
    document: bytes, stepwise: bool
) -> None:
    """Nothing escapes check(), each file counts once, and a good file loads afterwards."""
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work)
        (data_dir / "config.data").write_bytes(document)
        source, clock = clock_source(data_dir, use_inotify=False)
        if stepwise:
            source.inline_size = 0
        source.check()
        finish_loading(source, clock)
        assert source.loads + source.load_failures == 1
        write_atomically(data_dir / "config.data", config_bytes(7))
        source.check()
        finish_loading(source, clock)
        assert serial(source) == 7


def test_a_parser_bug_is_one_counted_failure_and_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even an exception nobody planned for leaves the loop running and no traceback."""
    data_dir.mkdir(parents=True)
    config = data_dir / "config.data"
    config.write_bytes(config_bytes(1))
    source, clock = clock_source(data_dir, use_inotify=False, poll_interval=1)

    def broken(text: bytes) -> Any:
        raise RuntimeError("x" * 1000)

    monkeypatch.setattr("ganeti_agent.confd.source.load_steps", broken)
    with capturedLogs() as events:
        source.startService()
    assert source.load_failures == 1 and source.status.config is None
    text = "\n".join(formatEvent(event) for event in events)
    assert "Traceback" not in text and len(text) < 1000
    monkeypatch.undo()
    write_atomically(config, config_bytes(2))
    clock.advance(1)
    assert serial(source) == 2
    source.stopService()
