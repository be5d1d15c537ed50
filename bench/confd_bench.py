"""confd part: ``bench/confd.py`` (the confd engineer's) measures queries/s and lost
replies for PING and NODE_DRBD, ganeti-agent against the real ganeti-confd. This module
only calls it and turns its rows into a table."""

from __future__ import annotations

from bench.results import Table, note_table, table_from_records
from bench.scale import foreign_rows

TITLE = "confd: PING and NODE_DRBD on a 1,000-instance config (bench/confd.py)"


def confd_table(quick: bool) -> Table:
    try:
        rows, origin = foreign_rows("bench.confd", quick)
    except Exception as exc:  # their code: report it, keep the suite running
        return note_table(TITLE, f"bench/confd.py failed: {type(exc).__name__}: {exc}")
    if rows is None:
        return note_table(TITLE, origin)
    return table_from_records(TITLE, rows, [origin])
