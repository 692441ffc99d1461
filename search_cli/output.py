"""One renderer for every listing: table for people, json / jsonl / csv for machines.

JSON keeps non-ASCII text (UTF-8) and sorted keys for stable diffs. Progress and
diagnostics go to stderr and only when stderr is a terminal, so pipes stay clean.
"""

from __future__ import annotations

import csv
import json
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence

import click


def to_json(obj: object, *, indent: int | None = 2) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=indent, default=str)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("\n", " ")


def display_width(text: str) -> int:
    """Terminal columns of ``text``: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def truncate(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def format_table(rows: Sequence[dict], columns: Sequence[str], *, max_width: int = 60) -> str:
    cells = [[truncate(_cell(r.get(c)), max_width) for c in columns] for r in rows]
    widths = [max([display_width(c)] + [display_width(row[i]) for row in cells])
              for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - display_width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def emit(rows: Iterable[dict], fmt: str, columns: Sequence[str] | None = None) -> None:
    """Print ``rows`` in ``fmt``; ``columns`` picks and orders fields for table and csv."""
    rows = list(rows)
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        click.echo(to_json(rows))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(to_json(row, indent=None))
    elif fmt == "csv":
        write = csv_writer(columns)
        for row in rows:
            write(row)
    else:
        click.echo(format_table(rows, columns) if rows else "(none)")


def csv_writer(columns: Sequence[str]) -> Callable[[dict], None]:
    """Write the CSV header now and return a function that writes one row, so long outputs
    (batch runs) stream instead of being held in memory. Lists become ';'-joined cells."""
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    return lambda row: writer.writerow({c: _csv_value(row.get(c)) for c in columns})


def _csv_value(value: object) -> object:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return to_json(value, indent=None)
    return value


def emit_object(obj: dict, fmt: str) -> None:
    """Print one nested object: JSON as is, a table as titled sections."""
    if fmt in ("json", "jsonl"):
        click.echo(to_json(obj, indent=2 if fmt == "json" else None))
        return
    for key, value in obj.items():
        if isinstance(value, dict) and value and all(not isinstance(v, dict | list)
                                                    for v in value.values()):
            click.echo(f"\n{key}:")
            click.echo(format_table([{"name": k, "count": v} for k, v in value.items()],
                                    ["name", "count"]))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            click.echo(f"\n{key}:")
            click.echo(format_table(value, list(value[0].keys())))
        else:
            click.echo(f"{key}: {_cell(value) if not isinstance(value, dict) else to_json(value, indent=None)}")


def progress(message: str, *, quiet: bool = False) -> None:
    """A progress line on stderr, only for a person watching a terminal."""
    if not quiet and sys.stderr.isatty():
        click.echo(f"\r\033[K{message}", err=True, nl=False)


def info(message: str, *, quiet: bool = False) -> None:
    """A one-off message on stderr (summaries, warnings); silenced by --quiet."""
    if not quiet:
        click.echo(message, err=True)


def highlight(text: str) -> str:
    """Bold-yellow a term, only when stdout is a terminal."""
    return click.style(text, fg="yellow", bold=True) if sys.stdout.isatty() else text
