"""kill -9 in the middle of a crawl, then the same command again: nothing lost, nothing twice.

The frontier lives in the corpus and each page row is written in the same transaction as its
frontier state, so the second run re-requests only what was queued or in flight.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from corpus.store import Store
from crawler.siteserver import SiteServer
from tests.conftest import REPO, run_aesthetics

N_ARTICLES = 30
PARAGRAPH = ("Swelling after the procedure settles over several weeks, and the surgeon reviews "
             "the result at follow-up visits. Patients are asked to avoid strenuous exercise, "
             "to sleep with the head raised and to report fever or increasing pain at once.")


def _make_site(root: Path, delay: float = 0.15) -> None:
    (root / "articles").mkdir(parents=True)
    links = []
    for i in range(N_ARTICLES):
        slug = f"note-{i:02d}"
        links.append(f'<li><a href="/articles/{slug}.html?utm_source=home">Note {i}</a></li>')
        nxt = f"note-{(i + 1) % N_ARTICLES:02d}"
        (root / "articles" / f"{slug}.html").write_text(
            f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Recovery note {i}</title><meta property="og:type" content="article"></head>
<body><article><h1>Recovery note {i}</h1><p>{PARAGRAPH}</p><p>Note number {i}. {PARAGRAPH}</p>
</article><a href="/articles/{nxt}.html">next note</a> <a href="/">home</a></body></html>""",
            encoding="utf-8")
    (root / "index.html").write_text(
        "<html><head><title>Notes</title></head><body><ul>" + "".join(links) + "</ul></body></html>",
        encoding="utf-8")
    (root / "_routes.json").write_text(json.dumps({"/articles/": {"prefix": True, "delay": delay}}))


def _stored_urls(data_dir: Path) -> list[str]:
    with Store.open(data_dir, create=False) as store:
        return [p.url for p in store.iter_pages() if p.status == 200 and not p.error]


def _count_while_crawling(data_dir: Path) -> int:
    """Stored pages so far, read without migrating or writing (the crawl owns the file)."""
    path = data_dir / "corpus.sqlite3"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT count(*) FROM pages WHERE status = 200").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:  # not created yet
        return 0


def _crawl_args(server: SiteServer) -> list[str]:
    return ["crawl", server.url("/"), "--delay", "0", "--no-index", "-q"]


def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    _make_site(root)
    server = site_server(root)
    data_dir = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-c", "from search_cli.main import main; main()",
           "--data-dir", str(data_dir), *_crawl_args(server)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if _count_while_crawling(data_dir) >= 8:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    killed_at = time.time()
    before = set(_stored_urls(data_dir))
    assert 8 <= len(before) < N_ARTICLES + 1, "the crawl should have been cut in the middle"

    again = run_aesthetics(*_crawl_args(server), "--format", "json", data_dir=data_dir,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["outcome"] == "ok" and summary["resumed"] > 0

    # Pages stored before the kill were not fetched again by the second run.
    second_run = [r for r in server.requests() if killed_at <= r["time"]]
    refetched = {server.url(r["path"]) for r in second_run} & before
    assert refetched == set()

    clean_dir = tmp_path / "clean"
    clean = run_aesthetics(*_crawl_args(server), data_dir=clean_dir, timeout=120)
    assert clean.returncode == 0, clean.stderr

    resumed = _stored_urls(data_dir)
    assert len(resumed) == len(set(resumed))
    assert set(resumed) == set(_stored_urls(clean_dir))
    assert len(resumed) == N_ARTICLES + 1

    with Store.open(data_dir, create=False) as store:
        assert store.integrity_check() == "ok"
        runs = store.runs(kind="crawl")
        assert [r.outcome for r in runs] == ["ok", "interrupted"]
        assert store.frontier_counts().get("queued", 0) == 0
        docs = [d.url for d in store.iter_documents()]
    # every article became exactly one document (when the cleaner step is installed)
    assert len(docs) == len(set(docs))
    if docs:
        assert set(docs) == {u for u in resumed if "/articles/" in u}
