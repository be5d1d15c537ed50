"""Rows, tables and the results files: one plain-text table on stdout, Markdown and JSON on disk.

Every section of the suite returns a :class:`Table`. Our own sections build theirs from
:class:`Row` (agent against real daemon, with the ratio); tables from other people's
benchmark functions are adapted as they come (:func:`table_from_records`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOT_INSTALLED = "not installed"
Value = float | int | str | None


@dataclass
class Row:
    """One measurement of ganeti-agent and, when available, of the real daemon.

    ``higher_is_better`` only decides the wording of the verdict; the ratio is always
    agent divided by real.
    """

    item: str
    agent: Value
    real: Value = None
    unit: str = ""
    higher_is_better: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if isinstance(self.agent, int | float) and isinstance(self.real, int | float):
            return self.agent / self.real if self.real else None
        return None

    def verdict(self) -> str:
        ratio = self.ratio
        if ratio is None or self.higher_is_better is None:
            return ""
        better = ratio >= 1 if self.higher_is_better else ratio <= 1
        return "agent better" if better else "agent worse"


@dataclass
class Table:
    """A titled table of strings, plus the raw records for the JSON file."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fmt(value: Value, unit: str = "") -> str:
    """A human figure: three significant digits for floats, thousands separators."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def comparison_table(title: str, rows: Sequence[Row], notes: Iterable[str] = ()) -> Table:
    """Agent against real daemon, one row per measurement."""
    table = Table(title, ["measure", "ganeti-agent", "real Ganeti", "agent/real", "note"])
    for row in rows:
        ratio = row.ratio
        verdict = row.verdict()
        ratio_text = "-" if ratio is None else f"{ratio:.2f}" + (f" ({verdict})" if verdict else "")
        table.rows.append(
            [row.item, fmt(row.agent, row.unit), fmt(row.real, row.unit), ratio_text, row.note]
        )
        record = dataclasses.asdict(row)
        record["ratio"] = ratio
        table.records.append(record)
    table.notes.extend(notes)
    return table


def _as_mapping(record: object) -> Mapping[str, Any]:
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    if isinstance(record, Mapping):
        return record
    if isinstance(record, Sequence) and not isinstance(record, str):
        return {f"col{i}": v for i, v in enumerate(record)}
    return {"value": record}


def table_from_records(title: str, records: Iterable[object], notes: Iterable[str] = ()) -> Table:
    """A table from rows of unknown shape (mappings, dataclasses or sequences)."""
    mappings = [_as_mapping(r) for r in records]
    columns: list[str] = []
    for mapping in mappings:
        columns.extend(str(k) for k in mapping if str(k) not in columns)
    table = Table(title, columns, notes=list(notes))
    for mapping in mappings:
        table.rows.append([_cell(mapping.get(c)) for c in columns])
        table.records.append({c: _jsonable(mapping.get(c)) for c in columns})
    return table


def _cell(value: object) -> str:
    if isinstance(value, int | float | str) or value is None:
        return fmt(value)
    return str(value)


def _jsonable(value: object) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def note_table(title: str, message: str) -> Table:
    """A section that could not run: its title and why."""
    return Table(title, [], notes=[message])


def render_text(table: Table) -> str:
    """Fixed-width text for the terminal."""
    lines = [f"== {table.title}"]
    if table.columns:
        widths = [len(c) for c in table.columns]
        for row in table.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=False)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(table.columns, widths, strict=False)))
        lines.append("  ".join("-" * w for w in widths))
        for row in table.rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)))
    lines.extend(f"  * {n}" for n in table.notes)
    return "\n".join(lines)


def render_markdown(table: Table) -> str:
    lines = [f"### {table.title}", ""]
    if table.columns:
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("|" + "---|" * len(table.columns))
        for row in table.rows:
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        lines.append("")
    lines.extend(f"* {n}" for n in table.notes)
    return "\n".join(lines) + "\n"


def write_results(
    directory: Path, stem: str, machine: Mapping[str, str], tables: Sequence[Table], command: str
) -> tuple[Path, Path]:
    """``<stem>.md`` and ``<stem>.json`` in ``directory``; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    markdown = [f"# ganeti-agent benchmark, {machine.get('date', '')}", "", f"Command: `{command}`"]
    markdown += ["", "| machine | |", "|---|---|"]
    markdown += [f"| {k} | {v} |" for k, v in machine.items()]
    markdown.append("")
    markdown += [render_markdown(t) for t in tables]
    md_path = directory / f"{stem}.md"
    md_path.write_text("\n".join(markdown))
    data = {
        "machine": dict(machine),
        "command": command,
        "tables": [dataclasses.asdict(t) for t in tables],
    }
    json_path = directory / f"{stem}.json"
    json_path.write_text(json.dumps(data, indent=1) + "\n")
    return md_path, json_path
