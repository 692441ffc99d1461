"""What the crawl resume tests share: a slow 30-article site, and a crawl killed with SIGKILL
once some pages are stored."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from corpus.store import Store
from crawler.siteserver import SiteServer
from tests.conftest import AESTHETICS, child_env, run_aesthetics

N_ARTICLES = 30
PARAGRAPH = ("Swelling after the procedure settles over several weeks, and the surgeon reviews "
             "the result at follow-up visits. Patients are asked to avoid strenuous exercise, "
             "to sleep with the head raised and to report fever or increasing pain at once.")


def make_site(root: Path, delay: float = 0.15) -> None:
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


def stored_urls(data_dir: Path) -> list[str]:
    with Store.open(data_dir, create=False) as store:
        return [p.url for p in store.iter_pages() if p.status == 200 and not p.error]


def read_only_count(data_dir: Path, sql: str) -> int:
    """A count from the corpus while a crawl writes it, read without migrating or creating
    the file (the crawl owns it); 0 before the file or its tables exist."""
    path = data_dir / "corpus.sqlite3"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def count_while_crawling(data_dir: Path) -> int:
    """Pages stored so far by a running crawl."""
    return read_only_count(data_dir, "SELECT count(*) FROM pages WHERE status = 200")


def kill_crawl_when_stored(data_dir: Path, server: SiteServer, at_least: int) -> None:
    """Start `aesthetics crawl` of ``server`` and SIGKILL it once ``at_least`` pages are
    stored; fail if it ends first or never gets there."""
    cmd = [*AESTHETICS, "--data-dir", str(data_dir), "crawl", server.url("/"), "--delay", "0",
           "--no-index", "-q"]
    proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while count_while_crawling(data_dir) < at_least:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the crawl never stored enough pages"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()


ARTICLE = "<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


def write_page(path: Path, title: str, body: str = "<p>Recovery after the procedure.</p>"
               ) -> None:
    """A small article page at ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ARTICLE.format(title=title, body=body), encoding="utf-8")


def gets(requests: list[dict], path: str) -> int:
    """How many GETs of ``path`` a site server's request log holds."""
    return sum(1 for r in requests if r["path"] == path and r["method"] == "GET")


def crawl_json(server: SiteServer, data_dir: Path, *extra: str) -> dict:
    """`aesthetics crawl` of ``server`` (no delay, no index); its JSON summary."""
    done = run_aesthetics("crawl", server.url("/"), "--delay", "0", "--no-index",
                          "--format", "json", *extra, data_dir=data_dir, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
