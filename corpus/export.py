"""Export the live corpus, import our own export or a BEIR test collection.

Our JSONL export is the interchange format: import(export(x)) then export again is
byte-identical, so a corpus can be moved, diffed and versioned as text.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from corpus.errors import BadInputError
from corpus.models import Document
from corpus.store import Store

EXPORT_FIELDS = ["id", "url", "site", "title", "author", "published", "language", "category",
                 "text", "procedures", "risks", "fetched_at", "content_hash"]
LIST_FIELDS = ("procedures", "risks")


def export_rows(store: Store) -> Iterator[dict]:
    for doc in store.iter_documents():
        yield {f: getattr(doc, f) for f in EXPORT_FIELDS}


def write_export(store: Store, out: IO[str], fmt: str = "jsonl") -> int:
    """Write every live document to ``out``; returns the number written."""
    n = 0
    if fmt == "jsonl":
        for row in export_rows(store):
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in export_rows(store):
            for key in LIST_FIELDS:
                row[key] = ";".join(row[key])
            writer.writerow(row)
            n += 1
    else:
        raise BadInputError(f"unknown export format {fmt!r}: use jsonl or csv")
    return n


def _open_text(path: Path) -> IO[str]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from exc
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8")


def _json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    with _open_text(path) as fh:
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BadInputError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
                if not isinstance(obj, dict):
                    raise BadInputError(f"{path}:{lineno}: expected a JSON object")
                yield lineno, obj
        except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as exc:
            raise BadInputError(f"{path}: not a UTF-8 JSONL file ({exc})") from exc


def read_export(path: Path) -> Iterator[Document]:
    for lineno, obj in _json_lines(path):
        missing = [f for f in ("id", "url", "text") if not isinstance(obj.get(f), str)]
        if missing:
            raise BadInputError(f"{path}:{lineno}: missing or non-string field(s) {missing}")
        data = {f: obj.get(f) for f in EXPORT_FIELDS if f in obj}
        for key in LIST_FIELDS:
            data[key] = list(data.get(key) or [])
        data["site"] = data.get("site") or ""
        data["title"] = data.get("title") or ""
        yield Document(**data)


def read_beir(path: Path) -> Iterator[Document]:
    """BEIR corpus lines ``{"_id", "title", "text"}``; ``_id`` becomes the document id."""
    collection = path.parent.name or "beir"
    for lineno, obj in _json_lines(path):
        doc_id = obj.get("_id")
        if not isinstance(doc_id, str | int) or doc_id == "":
            raise BadInputError(f"{path}:{lineno}: missing \"_id\"")
        text = obj.get("text") or ""
        if not isinstance(text, str):
            raise BadInputError(f"{path}:{lineno}: \"text\" must be a string")
        yield Document(id=str(doc_id), url=f"beir:{collection}/{doc_id}", site=collection,
                       title=str(obj.get("title") or ""), text=text)


def import_documents(store: Store, docs: Iterator[Document], batch: int = 1000) -> dict[str, int]:
    """Save documents in batches (one transaction per batch); returns counts per change kind.

    A bad line aborts before its batch is committed, so a file is never half-read silently:
    the error names the line, and earlier batches stay (re-running is idempotent).
    """
    counts: dict[str, int] = {}
    pending: list[Document] = []

    def flush() -> None:
        with store.transaction():
            for doc in pending:
                kind = store.save_document(doc, when=doc.fetched_at or None)
                counts[kind] = counts.get(kind, 0) + 1
        pending.clear()

    for doc in docs:
        pending.append(doc)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return counts
