"""Scale part: how parse, reload and answer time grow with the node and the cluster.

config.data: the confd engineer's loader (``ganeti_agent.confd``) on generated files of
100, 1,000 and 10,000 instances. LVs and DRBD minors: ``bench/storage.py``'s function,
owned by the storage engineer, called as it is.
"""

from __future__ import annotations

import importlib
import inspect
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.clusters import busiest_node, write_config
from bench.results import Table, fmt, note_table, table_from_records
from bench.timing import best_time

CONFIG_SIZES = (100, 1_000, 10_000)
STORAGE_TITLE = "Scale: LVs and DRBD minors (bench/storage.py)"


def _reload_seconds(path: Path, repeat: int) -> float:
    """``ConfigSource.check()`` after the file changed: stat, read, parse, swap.

    Large files load in steps between reactor turns; the clock is turned until the load
    ends, so this is the whole reload's time (bench/stall.py measures the stalls).
    """
    from twisted.internet.task import Clock

    from ganeti_agent.confd.source import ConfigSource

    clock = Clock()
    source = ConfigSource(str(path), str(path) + ".key", clock, use_inotify=False)

    def reload() -> None:
        source.check()
        while source.loading:
            clock.advance(0)

    reload()
    best = float("inf")
    for _ in range(repeat):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        started = time.perf_counter()
        reload()
        best = min(best, time.perf_counter() - started)
    if source.status.config is None:
        raise RuntimeError(f"ConfigSource did not load {path}")
    return best


def _node_drbd_seconds(path: Path, repeat: int) -> tuple[float, int]:
    """Look up and sign the NODE_DRBD answer of the busiest node: (seconds, reply bytes)."""
    from ganeti_agent.confd.config import parse_config
    from ganeti_agent.confd.protocol import Reply, encode_reply

    config = parse_config(path.read_bytes())
    node = config.find_node(busiest_node(path))
    assert node is not None
    key = b"0123456789abcdef0123456789abcdef01234567\n"
    size = 0

    def answer() -> None:
        nonlocal size
        entries = config.drbd_by_node.get(node.uuid, [])
        size = len(encode_reply(key, "1234567890", Reply(0, [*entries], config.serial)))

    return best_time(answer, repeat), size


def config_table(quick: bool) -> Table:
    """Parse, reload and NODE_DRBD answer time per config size."""
    try:
        from ganeti_agent.confd.config import parse_config
    except ImportError as exc:
        return note_table("Scale: config.data", f"confd loader not available: {exc}")
    columns = ["instances", "file", "parse", "reload (check)", "NODE_DRBD answer", "reply"]
    table = Table("Scale: config.data (confd loader, in process, best of runs)", columns)
    with tempfile.TemporaryDirectory() as work:
        for instances in CONFIG_SIZES:
            path = Path(work) / f"config-{instances}.data"
            size = write_config(path, instances)
            repeat = 1 if instances >= 10_000 or quick else 3
            data = path.read_bytes()
            parse = best_time(lambda data=data: parse_config(data), repeat)  # type: ignore[misc]
            reload = _reload_seconds(path, repeat)
            answer, reply = _node_drbd_seconds(path, 5)
            table.rows.append(
                [f"{instances:,}", f"{size / 1e6:.1f} MB", fmt(parse * 1000, "ms"),
                 fmt(reload * 1000, "ms"), fmt(answer * 1000, "ms"), f"{reply:,} B"]
            )  # fmt: skip
            table.records.append(
                {"instances": instances, "bytes": size, "parse_s": parse, "reload_s": reload,
                 "node_drbd_answer_s": answer, "node_drbd_reply_bytes": reply}
            )  # fmt: skip
    table.notes.append(
        "Each instance has one DRBD disk (two LV children) and a NIC; NODE_DRBD is asked "
        "for the node with the most minors (a third of all instances)."
    )
    table.notes.append("Real ganeti-confd: reload is not measurable from outside; not compared.")
    return table


def _call_foreign(function: Callable[..., Any], quick: bool) -> Any:
    """Call another engineer's bench function with whichever of our knobs it accepts."""
    parameters = inspect.signature(function).parameters
    kwargs: dict[str, Any] = {}
    if "quick" in parameters:
        kwargs["quick"] = quick
    return function(**kwargs)


def foreign_rows(module_name: str, quick: bool) -> tuple[Iterable[object] | None, str]:
    """Rows from ``bench/<module>.py``'s row function, or (None, why not)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, f"{module_name} is not available yet ({exc})"
    candidates = [
        function
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not name.startswith("_")
        and "rows" in name
        and all(
            p.default is not inspect.Parameter.empty or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            for p in inspect.signature(function).parameters.values()
        )
    ]
    if not candidates:
        return None, f"{module_name} has no public function named *rows* callable without arguments"
    function = candidates[0]
    rows = _call_foreign(function, quick)
    return list(rows), f"from {module_name}.{function.__name__}()"


def foreign_table(module_name: str, title: str, quick: bool) -> Table:
    """The rows of another benchmark module as a table; its failure becomes a note."""
    try:
        rows, origin = foreign_rows(module_name, quick)
    except Exception as exc:  # another module's code: report it, keep the suite running
        where = module_name.replace(".", "/") + ".py"
        return note_table(title, f"{where} failed: {type(exc).__name__}: {exc}")
    if rows is None:
        return note_table(title, origin)
    return table_from_records(title, rows, [origin])


def storage_table(quick: bool) -> Table:
    return foreign_table("bench.storage", STORAGE_TITLE, quick)
