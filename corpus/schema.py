"""DDL and numbered forward migrations.

The schema version lives in ``PRAGMA user_version``; ``application_id`` marks the file as
ours so a foreign SQLite file is refused instead of being "migrated". Migrations only ever
move forward; a file written by a newer release is refused with a clear message.
"""

from __future__ import annotations

import sqlite3

APPLICATION_ID = 0x41455331  # "AES1"

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE pages (
        url TEXT PRIMARY KEY,            -- canonical URL
        site TEXT NOT NULL,
        final_url TEXT,
        status INTEGER NOT NULL,
        fetched_at TEXT,
        checked_at TEXT,
        etag TEXT,
        last_modified TEXT,
        content_type TEXT,
        charset TEXT,
        content_hash TEXT,
        html BLOB,                       -- zlib-compressed UTF-8
        error TEXT,
        depth INTEGER NOT NULL DEFAULT 0,
        gone_count INTEGER NOT NULL DEFAULT 0,
        processed_at TEXT
    );
    CREATE INDEX pages_site ON pages(site);

    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        site TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        author TEXT,
        published TEXT,
        modified TEXT,
        language TEXT,
        category TEXT,
        description TEXT,
        text TEXT NOT NULL,
        procedures TEXT NOT NULL DEFAULT '[]',   -- JSON list of canonical ids
        risks TEXT NOT NULL DEFAULT '[]',
        mentions TEXT NOT NULL DEFAULT '{}',     -- JSON {id: count}
        evidence TEXT NOT NULL DEFAULT '[]',     -- JSON [{procedure, risk, sentence}]
        content_hash TEXT NOT NULL,
        fetched_at TEXT,
        updated_at TEXT NOT NULL,
        indexed_at TEXT,
        deleted INTEGER NOT NULL DEFAULT 0,
        deleted_at TEXT,
        dup_group TEXT
    );
    CREATE INDEX documents_site ON documents(site);
    CREATE INDEX documents_updated ON documents(updated_at);
    CREATE INDEX documents_dup_group ON documents(dup_group);

    CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        content_hash TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL
    );
    CREATE INDEX history_doc ON history(doc_id);

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        outcome TEXT NOT NULL DEFAULT 'running',
        counts TEXT NOT NULL DEFAULT '{}',
        details TEXT NOT NULL DEFAULT '{}'
    );

    -- The crawl frontier lives here, not in Scrapy's JOBDIR, so a kill -9 loses nothing.
    CREATE TABLE frontier (
        url TEXT PRIMARY KEY,            -- canonical URL
        site TEXT NOT NULL,
        depth INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'queued',   -- queued | done | skipped | failed
        reason TEXT,
        added_at TEXT NOT NULL,
        done_at TEXT
    );
    CREATE INDEX frontier_state ON frontier(state);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn`` to SCHEMA_VERSION; each step runs in its own transaction."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for version in range(current + 1, SCHEMA_VERSION + 1):
        script = MIGRATIONS[version - 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLITE_FULL / IOERR roll back by themselves
                conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def _split(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit behind our back)."""
    statements, buf = [], []
    for line in script.splitlines():
        code = line.split("--", 1)[0]
        buf.append(code)
        if code.rstrip().endswith(";"):
            statements.append("\n".join(buf).strip())
            buf = []
    rest = "\n".join(buf).strip()
    if rest:
        statements.append(rest)
    return [s for s in statements if s.strip(" ;\n")]
