"""Reloading config.data with real files and inotify; the last good configuration stays."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor as global_reactor
from twisted.internet.task import deferLater

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
