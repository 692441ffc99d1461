"""The corpus store on a real SQLite file: round trips, history, tombstones, migrations, errors."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from corpus import (
    BusyError,
    CorpusFileError,
    Document,
    Evidence,
    NothingYetError,
    Page,
    StorageError,
    Store,
)
from corpus.lock import DataDirLock
from corpus.paths import db_path
from corpus.schema import SCHEMA_VERSION
from corpus.store import CHANGED, NEW, REVIVED, UNCHANGED


def make_doc(n: int = 1, text: str = "Botox can cause bruising.", **kw) -> Document:
    return Document(id=f"d{n}", url=f"http://site.test/a{n}.html", text=text, site="site.test",
                    title=f"Article {n}", **kw)


def test_page_round_trip_compresses_html(data_dir: Path) -> None:
    html = "<html><body>" + "玻尿酸 hyaluronic acid " * 2000 + "</body></html>"
    page = Page(url="http://site.test/a.html", site="site.test", status=200, html=html,
                etag='"abc"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT", charset="gb18030",
                content_type="text/html", fetched_at="2024-01-01T00:00:00+00:00")
    with Store.open(data_dir) as store:
        store.upsert_page(page)
        back = store.get_page(page.url)
        raw = store.conn.execute("SELECT length(html) FROM pages").fetchone()[0]
    assert back == page
    assert raw < len(html.encode()) / 10  # stored compressed


def test_304_upsert_keeps_body(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        store.upsert_page(Page(url="http://s/a", site="s", status=200, html="<p>x</p>"))
        store.upsert_page(Page(url="http://s/a", site="s", status=304, html=None,
                               checked_at="2025-01-01T00:00:00+00:00"))
        page = store.get_page("http://s/a")
    assert page.html == "<p>x</p>" and page.status == 304


def test_document_round_trip_with_annotations(data_dir: Path) -> None:
    doc = make_doc(procedures=["botulinum_toxin"], risks=["bruising"],
                   mentions={"botulinum_toxin": 1, "bruising": 1},
                   evidence=[Evidence("botulinum_toxin", "bruising", "Botox can cause bruising.")],
                   published="2024-03-05", language="en", category="Injectables")
    with Store.open(data_dir) as store:
        assert store.save_document(doc) == NEW
        back = store.get_document("d1")
        assert store.get_document(doc.url) == back
    assert back.evidence == doc.evidence and back.mentions == doc.mentions
    assert back.published == "2024-03-05" and back.updated_at


def test_change_keeps_history_and_requeues_for_index(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        store.save_document(make_doc(text="first version"))
        store.mark_indexed([("d1", make_doc(text="first version").content_hash, False)],
                           "2099-01-01T00:00:00+00:00")
        assert list(store.documents_to_index()) == []
        assert store.save_document(make_doc(text="first version")) == UNCHANGED
        assert store.save_document(make_doc(text="second version"), when="2099-02-01") == CHANGED
        hist = store.history("d1")
        assert [h.text for h in hist] == ["first version"]
        assert [d.id for d in store.documents_to_index()] == ["d1"]
        assert store.get_document("d1").text == "second version"


def test_change_in_the_same_second_as_indexing_is_not_lost(data_dir: Path) -> None:
    when = "2030-01-01T00:00:00+00:00"
    with Store.open(data_dir) as store:
        store.save_document(make_doc(text="as indexed"), when=when)
        read = [(d.id, d.content_hash, d.deleted) for d in store.documents_to_index()]
        store.save_document(make_doc(text="edited while indexing"), when=when)
        store.mark_indexed(read, when)
        assert [d.text for d in store.documents_to_index()] == ["edited while indexing"]


def test_tombstone_is_kept_and_revived(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        store.save_document(make_doc())
        assert store.tombstone("http://site.test/a1.html")
        assert not store.tombstone("d1")  # already a tombstone
        assert store.count_documents() == 0
        assert store.count_documents(include_deleted=True) == 1
        assert store.get_document("d1").deleted
        assert [d.id for d in store.documents_to_index()] == ["d1"]  # leaves the index
        assert store.save_document(make_doc()) == REVIVED
        assert not store.get_document("d1").deleted


def test_runs_and_frontier(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        run = store.start_run("crawl", {"seeds": ["http://s/"]})
        run.counts = {"pages": 3}
        store.finish_run(run)
        assert store.runs()[0].counts == {"pages": 3}
        assert store.runs()[0].outcome == "ok"
        assert store.frontier_add([("http://s/a", "s", 0), ("http://s/b", "s", 1)]) == 2
        assert store.frontier_add([("http://s/a", "s", 0)]) == 0
        store.frontier_mark("http://s/a", "done")
        assert store.frontier_queued() == [("http://s/b", "s", 1)]
        assert store.frontier_counts() == {"done": 1, "queued": 1}


def test_missing_corpus_is_nothing_yet(data_dir: Path) -> None:
    with pytest.raises(NothingYetError, match="aesthetics crawl"):
        Store.open(data_dir, create=False)
    assert not data_dir.exists()


def test_foreign_sqlite_file_is_refused(data_dir: Path) -> None:
    data_dir.mkdir()
    conn = sqlite3.connect(db_path(data_dir))
    conn.execute("CREATE TABLE cats (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(CorpusFileError, match="not an aesthetics-search corpus"):
        Store.open(data_dir)


def test_garbage_file_is_refused(data_dir: Path) -> None:
    data_dir.mkdir()
    db_path(data_dir).write_bytes(os.urandom(4096))
    with pytest.raises(CorpusFileError):
        Store.open(data_dir)


def test_newer_schema_is_refused(data_dir: Path) -> None:
    Store.open(data_dir).close()
    conn = sqlite3.connect(db_path(data_dir))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CorpusFileError, match="newer than this release"):
        Store.open(data_dir)


def test_migration_from_empty_file_sets_version(data_dir: Path) -> None:
    data_dir.mkdir()
    sqlite3.connect(db_path(data_dir)).close()  # an empty file: version 0
    with Store.open(data_dir) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_dir_gives_clear_error(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        store.save_document(make_doc())
    os.chmod(data_dir, 0o500)
    os.chmod(db_path(data_dir), 0o400)
    try:
        with pytest.raises(StorageError):
            with Store.open(data_dir) as store:
                store.save_document(make_doc(2))
    finally:
        os.chmod(data_dir, 0o700)
        os.chmod(db_path(data_dir), 0o600)


def test_full_disk_gives_clear_error_and_keeps_data(data_dir: Path) -> None:
    """SQLite's max_page_count makes the database 'full' exactly like a full disk would."""
    with Store.open(data_dir) as store:
        store.save_document(make_doc())
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        big = "x" * 200_000
        with pytest.raises(StorageError, match="full"):
            store.save_document(make_doc(2, text=big))
        assert store.count_documents() == 1
        assert store.get_document("d2") is None
        assert store.integrity_check() == "ok"


def test_concurrent_reader_sees_old_state_during_write(data_dir: Path) -> None:
    with Store.open(data_dir) as writer, Store.open(data_dir) as reader:
        writer.save_document(make_doc(1))
        with writer.transaction():
            writer.save_document(make_doc(2))
            assert reader.count_documents() == 1  # WAL: the reader is not blocked
        assert reader.count_documents() == 2


def test_killed_writer_leaves_nothing_half_written(data_dir: Path, tmp_path: Path) -> None:
    Store.open(data_dir).close()
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from corpus import Store, Document
        store = Store.open({str(data_dir)!r})
        with store.transaction():
            for i in range(50):
                store.save_document(Document(id=f"k{{i}}", url=f"http://k/{{i}}", text="t" * 1000))
            os.kill(os.getpid(), 9)
    """))
    proc = subprocess.run([sys.executable, str(script)])
    assert proc.returncode == -9
    with Store.open(data_dir) as store:
        assert store.count_documents() == 0
        assert store.integrity_check() == "ok"


def test_lock_refuses_second_holder_and_takes_over_stale(data_dir: Path) -> None:
    with DataDirLock(data_dir, "crawl"):
        with pytest.raises(BusyError, match=f"PID {os.getpid()}"):
            DataDirLock(data_dir, "crawl").acquire()
    # a lock file left by a dead process (no flock held) is taken over
    (data_dir / "crawl.lock").write_text('{"pid": 999999, "started": "2020-01-01", "command": "x"}')
    lock = DataDirLock(data_dir, "crawl").acquire()
    assert lock.took_over_from and lock.took_over_from["pid"] == 999999
    lock.release()
