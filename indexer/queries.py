"""Reading query files, shared by batch search and evaluation.

Kept apart from ``indexer.evaluate`` so ``aesthetics search --queries`` reads its file
without loading ir-measures.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from corpus.errors import BadInputError


def open_text(path: Path) -> IO[str]:
    """A text stream of a plain or gzipped UTF-8 file; a missing file is bad input."""
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rt", encoding="utf-8")
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _lines(fh: IO[str], path: Path) -> Iterator[tuple[int, str]]:
    try:
        yield from enumerate(fh, 1)
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise BadInputError(f"{path}: not a UTF-8 text file ({exc})") from None


def read_queries(path: Path, only: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Queries as (id, text) from JSONL ``{"_id", "text"}`` or TSV ``id<TAB>text``."""
    wanted = set(only) if only is not None else None
    out: list[tuple[str, str]] = []
    with open_text(Path(path)) as fh:
        for lineno, line in _lines(fh, path):
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BadInputError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
                qid, text = obj.get("_id", obj.get("id")), obj.get("text", obj.get("query"))
            else:
                row = next(csv.reader([line.rstrip("\n")], delimiter="\t"))
                qid, text = (row[0], row[1]) if len(row) >= 2 else (None, None)
            if qid is None or not isinstance(text, str):
                raise BadInputError(f"{path}:{lineno}: expected {{\"_id\": ..., \"text\": ...}}")
            if wanted is None or str(qid) in wanted:
                out.append((str(qid), text))
    return out
