"""The corpus store: the only module that speaks SQL.

One SQLite file per data dir, WAL mode so readers keep working while a crawl writes,
foreign keys on, every multi-row change in one transaction so a killed process leaves
either the old or the new state, never half of it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path

from corpus.errors import CorpusFileError, NothingYetError, StorageError
from corpus.models import Document, Evidence, HistoryEntry, Page, Run, utcnow
from corpus.paths import db_path
from corpus.schema import APPLICATION_ID, SCHEMA_VERSION, migrate

_PAGE_FIELDS = [f.name for f in fields(Page)]
_DOC_JSON_FIELDS = ("procedures", "risks", "mentions", "evidence")
_DOC_FIELDS = [f.name for f in fields(Document)]

# Change kinds returned by Store.save_document
NEW, CHANGED, UNCHANGED, REVIVED = "new", "changed", "unchanged", "revived"


def _storage_error(exc: sqlite3.Error, path: Path) -> Exception:
    """Turn SQLite's terse messages into ones that say what to do."""
    msg = str(exc)
    low = msg.lower()
    if "file is not a database" in low or "malformed" in low or "not a database" in low:
        return CorpusFileError(f"{path} is not an aesthetics-search corpus or is corrupt ({msg})")
    if "readonly" in low or "read-only" in low:
        return StorageError(f"cannot write {path}: the data dir is read-only ({msg})")
    if "disk is full" in low or "disk i/o" in low:
        return StorageError(f"cannot write {path}: {msg}; nothing was half-written")
    if "unable to open" in low:
        return StorageError(f"cannot open {path}: {msg} (check the data dir's permissions)")
    return StorageError(f"{path}: {msg}")


class Store:
    """Open with ``Store.open(data_dir)``; use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool = False):
        self.conn = conn
        self.path = path
        self.readonly = readonly

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, data_dir: Path, *, create: bool = True, timeout: float = 30.0) -> Store:
        """Open (and create or migrate) the corpus in ``data_dir``.

        ``create=False`` is for read-only commands: a missing corpus is "nothing yet" (exit 3)
        rather than an empty file left behind.
        """
        data_dir = Path(data_dir)
        path = db_path(data_dir)
        if not path.exists():
            if not create:
                raise NothingYetError(
                    f"no corpus in {data_dir} yet: run `aesthetics crawl URL` or "
                    "`aesthetics import FILE` first"
                )
            try:
                data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create data dir {data_dir}: {exc.strerror}") from exc
        elif path.is_dir():
            raise CorpusFileError(f"{path} is a directory, not a corpus database")
        if not os.access(data_dir, os.W_OK):
            if not create:
                return cls._open_readonly(path, timeout)
            raise StorageError(f"cannot write {path}: the data dir {data_dir} is read-only "
                               "(commands that only read, like search, show and stats, still work)")
        try:
            conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
            store = cls(conn, path)
            store._check_and_migrate()
        except sqlite3.Error as exc:
            raise _storage_error(exc, path) from exc
        return store

    @classmethod
    def _open_readonly(cls, path: Path, timeout: float) -> Store:
        """A corpus on a read-only filesystem (a mounted snapshot, a full-disk remount) can
        still be read. WAL mode needs a writable -shm file, so when SQLite cannot make one we
        open the file as immutable: safe, since nobody can be writing to a read-only disk."""
        last: sqlite3.Error | None = None
        for query in ("mode=ro", "mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True,
                                       timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
                store = cls(conn, path, readonly=True)
                store._check_and_migrate()
                return store
            except sqlite3.Error as exc:
                last = exc
        raise _storage_error(last, path) from last

    def _check_and_migrate(self) -> None:
        conn = self.conn
        conn.row_factory = sqlite3.Row
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        if has_tables and app_id != APPLICATION_ID:
            raise CorpusFileError(
                f"{self.path} is a SQLite file but not an aesthetics-search corpus; "
                "point --data-dir at another directory"
            )
        if version > SCHEMA_VERSION:
            raise CorpusFileError(
                f"{self.path} has schema version {version}, newer than this release "
                f"understands ({SCHEMA_VERSION}); upgrade aesthetics-search"
            )
        if self.readonly:
            if version < SCHEMA_VERSION:
                raise CorpusFileError(
                    f"{self.path} has schema version {version} and needs an upgrade, but its "
                    "directory is read-only; open it once where it can be written")
            return
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":  # e.g. a read-only directory: WAL needs the -shm file
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = NORMAL")
        if version < SCHEMA_VERSION:
            migrate(conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; nested calls join the outer transaction."""
        if self.conn.in_transaction:
            yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:  # SQLITE_FULL and friends roll back by themselves
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _storage_error(exc, self.path) from exc
            raise

    def _write(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        try:
            with self.transaction() as conn:
                return conn.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # ------------------------------------------------------------------ pages
    def upsert_page(self, page: Page) -> None:
        """Insert or replace the page row; ``html=None`` keeps the stored body (a 304)."""
        row = asdict(page)
        html = row.pop("html")
        cols = list(row)
        if html is not None:
            cols.append("html")
            row["html"] = zlib.compress(html.encode("utf-8"), 6)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "url")
        sql = (
            f"INSERT INTO pages ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
            f"ON CONFLICT(url) DO UPDATE SET {updates}"
        )
        self._write(sql, (row[c] for c in cols))

    def get_page(self, url: str, *, with_html: bool = True) -> Page | None:
        row = self.conn.execute("SELECT * FROM pages WHERE url = ?", (url,)).fetchone()
        return self._page(row, with_html) if row else None

    def find_page(self, url: str, *, with_html: bool = True) -> Page | None:
        """A page by its canonical URL, else by the URL it was finally fetched from."""
        page = self.get_page(url, with_html=with_html)
        if page is None:
            row = self.conn.execute("SELECT * FROM pages WHERE final_url = ? ORDER BY url LIMIT 1",
                                    (url,)).fetchone()
            page = self._page(row, with_html) if row else None
        return page

    def iter_pages(self, *, site: str | None = None, with_html: bool = False) -> Iterator[Page]:
        sql, params = "SELECT * FROM pages", ()
        if site:
            sql, params = sql + " WHERE site = ?", (site,)
        for row in self.conn.execute(sql + " ORDER BY url", params).fetchall():
            yield self._page(row, with_html)

    def pages_to_process(self) -> list[str]:
        """URLs whose body was fetched after the cleaner last looked at them."""
        rows = self.conn.execute(
            "SELECT url FROM pages WHERE html IS NOT NULL AND "
            "(processed_at IS NULL OR processed_at < fetched_at) ORDER BY url"
        ).fetchall()
        return [r[0] for r in rows]

    def mark_processed(self, url: str, when: str | None = None) -> None:
        self._write("UPDATE pages SET processed_at = ? WHERE url = ?", (when or utcnow(), url))

    def count_pages(self) -> int:
        return self.conn.execute("SELECT count(*) FROM pages").fetchone()[0]

    @staticmethod
    def _page(row: sqlite3.Row, with_html: bool) -> Page:
        data = {k: row[k] for k in _PAGE_FIELDS if k != "html"}
        blob = row["html"] if with_html else None
        data["html"] = zlib.decompress(blob).decode("utf-8") if blob is not None else None
        return Page(**data)

    # ------------------------------------------------------------------ documents
    def save_document(self, doc: Document, *, when: str | None = None) -> str:
        """Insert or update a document; returns NEW, CHANGED, UNCHANGED or REVIVED.

        A change of the cleaned text keeps the previous version in ``history``; metadata-only
        changes update in place. A tombstoned document that comes back is REVIVED.
        """
        when = when or utcnow()
        with self.transaction() as conn:
            old = conn.execute(
                "SELECT id, content_hash, title, text, deleted, dup_group FROM documents "
                "WHERE id = ? OR url = ?", (doc.id, doc.url)
            ).fetchone()
            if old is None:
                kind = NEW
            elif old["deleted"]:
                kind = REVIVED
            elif old["content_hash"] != doc.content_hash:
                kind = CHANGED
            else:
                kind = UNCHANGED
            if kind in (CHANGED, REVIVED) and old["content_hash"] != doc.content_hash:
                conn.execute(
                    "INSERT INTO history (doc_id, content_hash, changed_at, title, text) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (old["id"], old["content_hash"], when, old["title"], old["text"]),
                )
            row = self._doc_row(doc)
            row["deleted"], row["deleted_at"] = 0, None
            if old is not None:
                row["id"] = old["id"]
                row["dup_group"] = doc.dup_group or old["dup_group"]
                unchanged_meta = kind == UNCHANGED and self._same_meta(conn, row)
                if unchanged_meta:
                    return UNCHANGED
                row["updated_at"] = when
                row["indexed_at"] = None
            else:
                row["updated_at"] = doc.updated_at or when
            cols = list(row)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
            conn.execute(
                f"INSERT INTO documents ({', '.join(cols)}) VALUES "
                f"({', '.join('?' for _ in cols)}) ON CONFLICT(id) DO UPDATE SET {updates}",
                [row[c] for c in cols],
            )
        return kind

    @staticmethod
    def _same_meta(conn: sqlite3.Connection, row: dict) -> bool:
        ignore = {"updated_at", "indexed_at", "fetched_at", "deleted", "deleted_at"}
        cols = [c for c in row if c not in ignore]
        old = conn.execute(
            f"SELECT {', '.join(cols)} FROM documents WHERE id = ?", (row["id"],)
        ).fetchone()
        return all(old[c] == row[c] for c in cols)

    def tombstone(self, id_or_url: str, *, when: str | None = None) -> bool:
        """Flag a document as deleted (it leaves the index at the next index run)."""
        cur = self._write(
            "UPDATE documents SET deleted = 1, deleted_at = ?, updated_at = ?, indexed_at = NULL "
            "WHERE (id = ? OR url = ?) AND deleted = 0",
            (when or utcnow(), when or utcnow(), id_or_url, id_or_url),
        )
        return cur.rowcount > 0

    def get_document(self, id_or_url: str) -> Document | None:
        row = self.conn.execute(
            "SELECT * FROM documents WHERE id = ? OR url = ?", (id_or_url, id_or_url)
        ).fetchone()
        return self._doc(row) if row else None

    def iter_documents(self, *, include_deleted: bool = False, site: str | None = None,
                       batch: int = 500) -> Iterator[Document]:
        """Stream documents in id order, ``batch`` rows at a time (bounded memory)."""
        where = ["1=1"]
        params: list = []
        if not include_deleted:
            where.append("deleted = 0")
        if site:
            where.append("site = ?")
            params.append(site)
        last = ""
        while True:
            rows = self.conn.execute(
                f"SELECT * FROM documents WHERE {' AND '.join(where)} AND id > ? "
                f"ORDER BY id LIMIT {int(batch)}", [*params, last]
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._doc(row)
            last = rows[-1]["id"]

    def count_documents(self, *, include_deleted: bool = False) -> int:
        sql = "SELECT count(*) FROM documents" + ("" if include_deleted else " WHERE deleted = 0")
        return self.conn.execute(sql).fetchone()[0]

    def documents_to_index(self) -> Iterator[Document]:
        """Documents added, changed or tombstoned since they were last indexed."""
        ids = [r[0] for r in self.conn.execute(
            "SELECT id FROM documents WHERE indexed_at IS NULL OR indexed_at < updated_at "
            "ORDER BY id").fetchall()]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = self.conn.execute(
                f"SELECT * FROM documents WHERE id IN ({', '.join('?' for _ in chunk)}) "
                "ORDER BY id", chunk).fetchall()
            for row in rows:
                yield self._doc(row)

    def mark_indexed(self, versions: Iterable[tuple[str, str, bool]],
                     when: str | None = None) -> None:
        """Record that these (id, content_hash, deleted) versions are in the index.

        A document whose text or state changed after the indexer read it keeps its old
        ``indexed_at`` and is indexed next time — even when both happened within the same
        second, which timestamps alone cannot tell apart.
        """
        when = when or utcnow()
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE documents SET indexed_at = ? WHERE id = ? AND content_hash = ? "
                "AND deleted = ?", [(when, i, h, int(d)) for i, h, d in versions])

    def reset_indexed(self) -> None:
        """Forget index state (used before a full rebuild)."""
        self._write("UPDATE documents SET indexed_at = NULL")

    def set_dup_groups(self, groups: dict[str, str | None]) -> None:
        """Assign near-duplicate group ids {doc_id: group}; changed ones are re-indexed."""
        with self.transaction() as conn:
            for doc_id, group in groups.items():
                conn.execute(
                    "UPDATE documents SET dup_group = ?, indexed_at = NULL "
                    "WHERE id = ? AND dup_group IS NOT ?", (group, doc_id, group))

    def history(self, doc_id: str) -> list[HistoryEntry]:
        rows = self.conn.execute(
            "SELECT doc_id, content_hash, changed_at, title, text FROM history "
            "WHERE doc_id = ? ORDER BY id", (doc_id,)).fetchall()
        return [HistoryEntry(**dict(r)) for r in rows]

    def changes_since(self, since: str) -> list[dict]:
        """Documents whose text or state changed at or after ``since`` (ISO date or time)."""
        rows = self.conn.execute(
            "SELECT id, url, title, updated_at, deleted, "
            "(SELECT count(*) FROM history h WHERE h.doc_id = d.id AND h.changed_at >= ?) AS edits "
            "FROM documents d WHERE updated_at >= ? ORDER BY updated_at, id",
            (since, since)).fetchall()
        return [dict(r) for r in rows]

    def _doc_row(self, doc: Document) -> dict:
        row = asdict(doc)
        for key in _DOC_JSON_FIELDS:
            row[key] = json.dumps(row[key], ensure_ascii=False, sort_keys=True)
        row["deleted"] = int(row["deleted"])
        return row

    @staticmethod
    def _doc(row: sqlite3.Row) -> Document:
        data = {k: row[k] for k in _DOC_FIELDS}
        for key in _DOC_JSON_FIELDS:
            data[key] = json.loads(data[key])
        data["evidence"] = [Evidence(**e) for e in data["evidence"]]
        data["deleted"] = bool(data["deleted"])
        return Document(**data)

    # ------------------------------------------------------------------ runs
    def start_run(self, kind: str, details: dict | None = None) -> Run:
        run = Run(kind=kind, started=utcnow(), details=details or {})
        cur = self._write(
            "INSERT INTO runs (kind, started, outcome, counts, details) VALUES (?, ?, ?, ?, ?)",
            (run.kind, run.started, run.outcome, "{}", json.dumps(run.details, sort_keys=True)))
        run.id = cur.lastrowid
        return run

    def finish_run(self, run: Run, outcome: str = "ok") -> Run:
        run.finished = utcnow()
        run.outcome = outcome
        self.update_run(run)
        return run

    def update_run(self, run: Run) -> None:
        self._write(
            "UPDATE runs SET finished = ?, outcome = ?, counts = ?, details = ? WHERE id = ?",
            (run.finished, run.outcome, json.dumps(run.counts, sort_keys=True),
             json.dumps(run.details, sort_keys=True, ensure_ascii=False), run.id))

    def mark_interrupted_runs(self, kinds: Iterable[str] = ("crawl", "refresh")) -> int:
        """Runs left "running" by a killed process. Call only while holding the crawl lock:
        then no live process can own them."""
        cur = self._write(
            f"UPDATE runs SET outcome = 'interrupted', finished = ? WHERE outcome = 'running' "
            f"AND kind IN ({', '.join('?' for _ in kinds)})", (utcnow(), *kinds))
        return cur.rowcount

    def runs(self, *, since: str | None = None, kind: str | None = None,
             limit: int | None = None) -> list[Run]:
        where, params = ["1=1"], []
        if since:
            where.append("started >= ?")
            params.append(since)
        if kind:
            where.append("kind = ?")
            params.append(kind)
        sql = f"SELECT * FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [
            Run(id=r["id"], kind=r["kind"], started=r["started"], finished=r["finished"],
                outcome=r["outcome"], counts=json.loads(r["counts"]),
                details=json.loads(r["details"]))
            for r in self.conn.execute(sql, params).fetchall()
        ]

    # ------------------------------------------------------------------ frontier
    def frontier_add(self, entries: Iterable[tuple[str, str, int]]) -> int:
        """Queue (url, site, depth) entries not seen before; returns how many were new."""
        now = utcnow()
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO frontier (url, site, depth, added_at) VALUES (?, ?, ?, ?)",
                [(u, s, d, now) for u, s, d in entries])
            return conn.total_changes - before

    def frontier_mark(self, url: str, state: str, reason: str | None = None,
                      site: str = "") -> None:
        """Set the state of ``url``, adding it when unknown. ``site`` names the source the
        row belongs to, so clearing one site's frontier finds it; a known row keeps its site
        unless it had none."""
        now = utcnow()
        self._write(
            "INSERT INTO frontier (url, site, depth, state, reason, added_at, done_at) "
            "VALUES (?, ?, 0, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
            "state = excluded.state, reason = excluded.reason, done_at = excluded.done_at, "
            "site = CASE WHEN frontier.site = '' THEN excluded.site ELSE frontier.site END",
            (url, site, state, reason, now, now))

    def frontier_queued(self, limit: int | None = None, sites: Iterable[str] | None = None
                        ) -> list[tuple[str, str, int]]:
        """Queued (url, site, depth) entries, shallow first; only those of ``sites`` if given."""
        where, params = self._frontier_sites(sites)
        sql = (f"SELECT url, site, depth FROM frontier WHERE state = 'queued'{where} "
               "ORDER BY depth, added_at, url")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [tuple(r) for r in self.conn.execute(sql, params).fetchall()]

    def frontier_seen(self, url: str) -> bool:
        return self.conn.execute("SELECT 1 FROM frontier WHERE url = ?", (url,)).fetchone() is not None

    def frontier_counts(self, sites: Iterable[str] | None = None) -> dict[str, int]:
        """Rows per state, over the whole frontier or only the rows of ``sites``."""
        where, params = self._frontier_sites(sites)
        return {r[0]: r[1] for r in self.conn.execute(
            f"SELECT state, count(*) FROM frontier WHERE 1 = 1{where} GROUP BY state",
            params).fetchall()}

    def frontier_clear(self, sites: Iterable[str] | None = None) -> int:
        """Forget the frontier of ``sites`` (all of it when None); returns rows deleted.

        A fresh crawl of some sources clears only theirs: another site's queue, left by a
        killed crawl, stays resumable. Done/skipped/failed rows that name no site (written
        before ``frontier_mark`` took one) are only "already seen" bookkeeping owned by no
        crawl; they go with any clear, as they did before, so a stale skip cannot block a URL
        forever.
        """
        if sites is None:
            return self._write("DELETE FROM frontier").rowcount
        where, params = self._frontier_sites(sites)
        return self._write(f"DELETE FROM frontier WHERE (1 = 1{where}) "
                           "OR (site = '' AND state != 'queued')", params).rowcount

    @staticmethod
    def _frontier_sites(sites: Iterable[str] | None) -> tuple[str, list[str]]:
        """SQL condition (starting with AND) and parameters restricting rows to ``sites``."""
        if sites is None:
            return "", []
        names = sorted(set(sites))
        if not names:
            return " AND 0", []
        return f" AND site IN ({', '.join('?' * len(names))})", names

    # ------------------------------------------------------------------ stats
    def stats(self) -> dict:
        """Counts for `aesthetics stats`: per site, language, procedure, dup groups, last runs."""
        q = self.conn.execute
        per_proc: dict[str, int] = {}
        per_risk: dict[str, int] = {}
        for (procs, risks) in q("SELECT procedures, risks FROM documents WHERE deleted = 0"):
            for p in json.loads(procs):
                per_proc[p] = per_proc.get(p, 0) + 1
            for r in json.loads(risks):
                per_risk[r] = per_risk.get(r, 0) + 1
        groups = q(
            "SELECT dup_group, count(*) FROM documents WHERE deleted = 0 AND dup_group IS NOT NULL "
            "GROUP BY dup_group HAVING count(*) > 1 ORDER BY count(*) DESC, dup_group").fetchall()
        return {
            "pages": q("SELECT count(*) FROM pages").fetchone()[0],
            "documents": self.count_documents(),
            "tombstones": q("SELECT count(*) FROM documents WHERE deleted = 1").fetchone()[0],
            "history_versions": q("SELECT count(*) FROM history").fetchone()[0],
            "sites": dict(q("SELECT site, count(*) FROM documents WHERE deleted = 0 "
                            "GROUP BY site ORDER BY count(*) DESC, site").fetchall()),
            "languages": dict(q("SELECT coalesce(language, 'unknown'), count(*) FROM documents "
                                "WHERE deleted = 0 GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()),
            "procedures": dict(sorted(per_proc.items(), key=lambda kv: (-kv[1], kv[0]))),
            "risks": dict(sorted(per_risk.items(), key=lambda kv: (-kv[1], kv[0]))),
            "duplicate_groups": {"groups": len(groups),
                                 "documents": sum(n for _, n in groups),
                                 "largest": [{"group": g, "size": n} for g, n in groups[:10]]},
            "runs": [asdict(r) for r in self.runs(limit=5)],
        }
