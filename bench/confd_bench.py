"""confd part: ``bench/confd.py`` (the confd engineer's) measures queries/s and lost
replies for PING and NODE_DRBD, ganeti-agent against the real ganeti-confd. This module
only calls it and turns its rows into a table."""

from __future__ import annotations

from bench.results import Table
from bench.scale import foreign_table

TITLE = "confd: PING and NODE_DRBD on a 1,000-instance config (bench/confd.py)"


def confd_table(quick: bool) -> Table:
    return foreign_table("bench.confd", TITLE, quick)
