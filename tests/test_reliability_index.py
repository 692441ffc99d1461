"""Reliability of the index: kill -9 during `aesthetics index` and `aesthetics refresh`, and
50 searches running while `aesthetics index --rebuild` rewrites the index under them.

After every kill the same three things must hold: the index still opens and answers, the next
run of the same command ends with exit 0, and afterwards the index agrees with the corpus —
exactly the live documents, each with its current content hash, and no tombstone.
Kill points are chosen from what an outside observer sees (the index lock's holder, files
appearing in the new index version, tombstones in the corpus), never from sleeps.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from corpus import Document, Store
from corpus.lock import DataDirLock
from corpus.paths import index_path
from indexer.build import current_version, update_index
from indexer.search import Searcher, SearchRequest
from tests.conftest import REPO, run_aesthetics

WORDS = ("swelling bruising recovery filler toxin rhinoplasty scar laser peel eyelid lift "
         "injection numbness infection surgeon clinic downtime massage compress pigment "
         "redness tightness sutures antibiotics anaesthetic consultation result cheek jaw "
         "brow nose lip chin neck thigh abdomen breast implant graft fat tissue").split()
N_DOCS = 300
ADDED, EDITED, DELETED = range(N_DOCS, N_DOCS + 40), range(0, 20), range(20, 40)


def _text(rng: random.Random, marker: str, words: int = 110) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + f" {marker}."


def _doc(i: int, marker: str, rng: random.Random) -> Document:
    return Document(id=f"d{i:05d}", url=f"https://bulk.example/notes/{i}", site="bulk.example",
                    title=f"Aftercare note {i}", text=_text(rng, marker), language="en")


def _popen_cli(data_dir: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("AESTHETICS_DATA_DIR", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from search_cli.main import main; main()", "--data-dir",
         str(data_dir), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _kill_when(victim: subprocess.Popen, reached: Callable[[], bool], what: str,
               timeout: float = 120) -> None:
    """SIGKILL ``victim`` as soon as ``reached()``; fail if it ends or never gets there."""
    deadline = time.monotonic() + timeout
    try:
        while not reached():
            if victim.poll() is not None:
                out, err = victim.communicate()
                pytest.fail(f"ended (exit {victim.returncode}) before {what}: {err[-2000:]}")
            assert time.monotonic() < deadline, f"{what} never happened"
            time.sleep(0.01)
    finally:
        if victim.poll() is None:
            victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, f"{what}: exit {victim.returncode}"


def _lock_held_by(data_dir: Path, name: str, pid: int) -> Callable[[], bool]:
    lock = DataDirLock(data_dir, name)
    return lambda: (lock.holder() or {}).get("pid") == pid


def _new_version_files(data_dir: Path, before: Path | None, pattern: str) -> Callable[[], bool]:
    """True once an index version other than ``before`` holds a file matching ``pattern``."""
    root = index_path(data_dir)

    def check() -> bool:
        for version in root.glob("v[0-9]*"):
            if version != before and any(version.glob(pattern)):
                return True
        return False

    return check


def _live_version_files(data_dir: Path, pattern: str) -> Callable[[], bool]:
    """True once the live version holds more files matching ``pattern`` than it does now."""
    live = current_version(data_dir)
    assert live is not None
    start = len(list(live.glob(pattern)))
    return lambda: len(list(live.glob(pattern))) > start


def index_contents(data_dir: Path) -> dict[str, str]:
    """id -> content_hash of every document in the live index."""
    version = current_version(data_dir)
    assert version is not None, "no live index"
    ix = whoosh_index.open_dir(str(version))
    with ix.searcher() as searcher:
        return {fields["id"]: fields.get("content_hash", "")
                for fields in searcher.all_stored_fields()}


def corpus_contents(data_dir: Path) -> tuple[dict[str, str], set[str]]:
    """(id -> content_hash of live documents, ids of tombstones)."""
    with Store.open(data_dir, create=False) as store:
        assert store.integrity_check() == "ok"
        docs = list(store.iter_documents(include_deleted=True))
    return ({d.id: d.content_hash for d in docs if not d.deleted},
            {d.id for d in docs if d.deleted})


def assert_index_agrees_with_corpus(data_dir: Path) -> None:
    live, tombstones = corpus_contents(data_dir)
    indexed = index_contents(data_dir)
    assert not tombstones & set(indexed), "tombstoned documents are still in the index"
    assert set(indexed) == set(live), (
        f"missing from index: {sorted(set(live) - set(indexed))[:5]}, "
        f"extra: {sorted(set(indexed) - set(live))[:5]}")
    stale = [i for i in live if indexed[i] != live[i]]
    assert stale == [], f"index holds old text of {stale[:5]}"


def _found(data_dir: Path, marker: str) -> list[str]:
    with Searcher(data_dir) as searcher:
        return [h.id for h in searcher.search(SearchRequest(marker, limit=5)).hits]


# ---------------------------------------------------------------------------- kill -9 of `index`
@pytest.fixture(scope="module")
def indexed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus of N_DOCS documents with a complete index; each test works on a copy."""
    data_dir = tmp_path_factory.mktemp("template") / "data"
    rng = random.Random(7)
    with Store.open(data_dir) as store, store.transaction():
        for i in range(N_DOCS):
            store.save_document(_doc(i, f"mk{i:05d}", rng))
    update_index(data_dir)
    return data_dir


def _changed_copy(template: Path, tmp_path: Path) -> Path:
    """A copy of the template, then 40 documents added, 20 edited and 20 tombstoned."""
    data_dir = tmp_path / "data"
    shutil.copytree(template, data_dir)
    rng = random.Random(11)
    with Store.open(data_dir) as store:
        with store.transaction():
            for i in ADDED:
                store.save_document(_doc(i, f"mk{i:05d}", rng))
            for i in EDITED:
                store.save_document(_doc(i, f"edited{i:05d}", rng))
        for i in DELETED:
            assert store.tombstone(f"d{i:05d}")
    return data_dir


# name -> (command-line args, kill point factory (data_dir, victim pid, live version))
INDEX_KILL_POINTS: dict[str, tuple[list[str], Callable[[Path, int, Path | None], Callable]]] = {
    "rebuild-near-duplicate-pass": (
        ["index", "--rebuild"], lambda d, pid, live: _lock_held_by(d, "index", pid)),
    "rebuild-adding-documents": (
        ["index", "--rebuild"], lambda d, pid, live: _new_version_files(d, live, "*.trm")),
    "rebuild-committing": (
        ["index", "--rebuild"], lambda d, pid, live: _new_version_files(d, live, "*.col")),
    "incremental-writing-segment": (
        ["index"], lambda d, pid, live: _live_version_files(d, "*.trm")),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(INDEX_KILL_POINTS))
def test_kill_9_during_index_then_rerun(indexed_template: Path, tmp_path: Path,
                                        point: str) -> None:
    data_dir = _changed_copy(indexed_template, tmp_path)
    live = current_version(data_dir)
    args, make_point = INDEX_KILL_POINTS[point]
    victim = _popen_cli(data_dir, *args)
    _kill_when(victim, make_point(data_dir, victim.pid, live), point)

    # the index still opens and answers, from the version that was live before the kill
    assert current_version(data_dir) is not None
    assert _found(data_dir, "mk00100") == ["d00100"]
    cli_search = run_aesthetics("search", "mk00200", "--format", "json", data_dir=data_dir,
                                timeout=120)
    assert cli_search.returncode == 0, cli_search.stderr
    assert [h["id"] for h in json.loads(cli_search.stdout)["hits"]] == ["d00200"]

    again = run_aesthetics("index", "--format", "json", data_dir=data_dir, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert_index_agrees_with_corpus(data_dir)
    for i in EDITED[:3]:
        assert _found(data_dir, f"edited{i:05d}") == [f"d{i:05d}"]
    for i in DELETED[:3]:
        assert _found(data_dir, f"mk{i:05d}") == []
    for i in ADDED[:3]:
        assert _found(data_dir, f"mk{i:05d}") == [f"d{i:05d}"]


def test_killed_index_run_is_not_left_running(indexed_template: Path, tmp_path: Path) -> None:
    data_dir = _changed_copy(indexed_template, tmp_path)
    live = current_version(data_dir)
    victim = _popen_cli(data_dir, "index", "--rebuild")
    _kill_when(victim, _new_version_files(data_dir, live, "*.trm"), "documents being added")
    again = run_aesthetics("index", data_dir=data_dir, timeout=180)
    assert again.returncode == 0, again.stderr
    with Store.open(data_dir, create=False) as store:
        outcomes = [r.outcome for r in store.runs(kind="index")]
    assert "running" not in outcomes, outcomes


# ---------------------------------------------------------------------------- kill -9 of `refresh`
SITE_ARTICLES = 16
SITE_EDITED, SITE_DELETED, SITE_ADDED = (1, 2, 3, 4), (5, 6, 7), (16, 17)
PARAGRAPH = ("Most of the swelling goes down in the first fortnight, and the surgeon checks "
             "the healing at a follow-up visit. Patients avoid heavy lifting for a while and "
             "call the clinic about fever, spreading redness or pain that grows.")


def _article(i: int, extra: str = "") -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Recovery "
            f"guide {i}</title><meta property=\"og:type\" content=\"article\"></head><body>"
            f"<nav><a href=\"/\">home</a></nav><article><h1>Recovery guide {i}</h1><p>{PARAGRAPH}"
            f"</p><p>Guide {i} marker site{i:02d}. {PARAGRAPH}</p>{extra}</article></body></html>")


def _write_site(root: Path, base: str, live: list[int], edited: tuple[int, ...] = ()) -> None:
    """The site in one state: listed articles, a sitemap listing exactly them."""
    (root / "articles").mkdir(parents=True, exist_ok=True)
    for i in live:
        extra = f"<p>Update: new advice, marker fresh{i:02d}.</p>" if i in edited else ""
        (root / "articles" / f"g{i:02d}.html").write_text(_article(i, extra), encoding="utf-8")
    for page in (root / "articles").glob("g*.html"):
        if int(page.stem[1:]) not in live:
            page.unlink()
    links = "".join(f'<li><a href="/articles/g{i:02d}.html">Guide {i}</a></li>' for i in live)
    (root / "index.html").write_text(f"<html><head><title>Guides</title></head><body><ul>"
                                     f"{links}</ul></body></html>", encoding="utf-8")
    locs = "".join(f"<url><loc>{base}/articles/g{i:02d}.html</loc></url>" for i in live)
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/'
        f'sitemap/0.9"><url><loc>{base}/</loc></url>{locs}</urlset>', encoding="utf-8")


def _refreshable(tmp_path: Path, site_server) -> tuple[Path, object]:
    """A crawled, indexed site whose pages then change: 4 edited, 3 deleted, 2 added."""
    root = tmp_path / "site"
    root.mkdir()
    server = site_server(root)
    first = list(range(SITE_ARTICLES))
    _write_site(root, server.base, first)
    data_dir = tmp_path / "data"
    done = run_aesthetics("crawl", server.url("/"), "--delay", "0", "-q", data_dir=data_dir,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    assert len(index_contents(data_dir)) == SITE_ARTICLES
    second = [i for i in first if i not in SITE_DELETED] + list(SITE_ADDED)
    _write_site(root, server.base, second, edited=SITE_EDITED)
    return data_dir, server


def _tombstones(data_dir: Path) -> Callable[[], bool]:
    import sqlite3

    path = data_dir / "corpus.sqlite3"

    def check() -> bool:
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
            try:
                return conn.execute("SELECT count(*) FROM documents WHERE deleted = 1"
                                    ).fetchone()[0] > 0
            finally:
                conn.close()
        except sqlite3.Error:
            return False

    return check


REFRESH_KILL_POINTS: dict[str, Callable[[Path, int], Callable[[], bool]]] = {
    "first-tombstone-written": lambda d, pid: _tombstones(d),
    "index-step-started": lambda d, pid: _lock_held_by(d, "index", pid),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(REFRESH_KILL_POINTS))
def test_kill_9_during_refresh_then_rerun(tmp_path: Path, site_server, point: str) -> None:
    data_dir, server = _refreshable(tmp_path, site_server)
    victim = _popen_cli(data_dir, "refresh", "--delay", "0", "-q", "--format", "json")
    _kill_when(victim, REFRESH_KILL_POINTS[point](data_dir, victim.pid), point)

    assert current_version(data_dir) is not None
    assert len(_found(data_dir, "site10")) == 1  # untouched article, still found

    again = run_aesthetics("refresh", "--delay", "0", "-q", "--format", "json",
                           data_dir=data_dir, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert_index_agrees_with_corpus(data_dir)
    live, tombstones = corpus_contents(data_dir)
    assert len(live) == SITE_ARTICLES - len(SITE_DELETED) + len(SITE_ADDED)
    assert len(tombstones) == len(SITE_DELETED)
    for i in SITE_EDITED:
        assert len(_found(data_dir, f"fresh{i:02d}")) == 1
    for i in SITE_DELETED:
        assert _found(data_dir, f"site{i:02d}") == []
    for i in SITE_ADDED:
        assert len(_found(data_dir, f"site{i:02d}")) == 1


# ---------------------------------------------------------------------------- parallel searches
N_SEARCHES = 50
# how each search is made: a real `aesthetics search` process, the one long-lived Searcher
# shared by all threads, or a fresh Searcher (what a new process or API user does)
KINDS = {"cli": 5, "shared": 15, "fresh": 30}


def _search_kind(n: int) -> str:
    return "cli" if n % 10 == 0 else ("shared" if n % 3 == 1 else "fresh")


@pytest.mark.slow
def test_50_parallel_searches_while_the_index_is_rewritten(indexed_template: Path,
                                                           tmp_path: Path) -> None:
    """Threads (each opening the index like a new process would, or sharing one long-lived
    Searcher) and real CLI processes search while a rebuild swaps index versions under
    them: the first half during a rebuild, the second half after its swap, while an
    incremental run adds documents."""
    data_dir = tmp_path / "data"
    shutil.copytree(indexed_template, data_dir)
    first_version = current_version(data_dir)
    rebuilds: list[subprocess.CompletedProcess] = []

    def rebuild_then_update() -> None:
        """A full rebuild (swap), then new documents and an incremental run, as a refresh does."""
        rebuilds.append(run_aesthetics("index", "--rebuild", data_dir=data_dir, timeout=180))
        rng = random.Random(5)
        with Store.open(data_dir) as store, store.transaction():
            for i in ADDED:
                store.save_document(_doc(i, f"mk{i:05d}", rng))
        rebuilds.append(run_aesthetics("index", data_dir=data_dir, timeout=180))

    def swapped() -> bool:
        return current_version(data_dir) != first_version or len(rebuilds) == 2

    writer = threading.Thread(target=rebuild_then_update)
    writer.start()
    lock = DataDirLock(data_dir, "index")
    _wait(lambda: bool(lock.holder()), "the first rebuild to start")
    shared = Searcher(data_dir)  # opened before any swap; must outlive them
    failures: list[str] = []
    versions: set[str] = set()

    def one_search(n: int) -> None:
        if n >= N_SEARCHES // 2:
            _wait(swapped, "the first swap")
        i = (n * 37) % N_DOCS
        marker, want = f"mk{i:05d}", f"d{i:05d}"
        try:
            kind = _search_kind(n)
            if kind == "cli":
                done = run_aesthetics("search", marker, "--format", "json", data_dir=data_dir,
                                      timeout=120)
                if done.returncode != 0 or "Traceback" in done.stderr:
                    failures.append(f"cli {marker}: exit {done.returncode}: {done.stderr[-500:]}")
                    return
                ids = [h["id"] for h in json.loads(done.stdout)["hits"]]
            elif kind == "shared":
                ids = [h.id for h in shared.search(SearchRequest(marker, limit=5)).hits]
            else:
                version = current_version(data_dir)
                versions.add(version.name if version else "none")
                ids = _found(data_dir, marker)
            if ids != [want]:
                failures.append(f"{marker}: expected [{want}], got {ids}")
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none may happen
            failures.append(f"{marker}: {type(exc).__name__}: {exc}")

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(one_search, range(N_SEARCHES)))
    finally:
        writer.join(timeout=300)
        shared.close()
    assert Counter(_search_kind(n) for n in range(N_SEARCHES)) == KINDS
    assert failures == [], f"{len(failures)} of {N_SEARCHES} searches failed: {failures[:5]}"
    assert [r.returncode for r in rebuilds] == [0, 0], [r.stderr for r in rebuilds]
    assert len(versions) >= 2, f"the searches never saw an index swap: {versions}"
    assert_index_agrees_with_corpus(data_dir)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
