"""Reliability of the crawl: kill -9 at three points, and a site whose every other page is hostile.

Both halves use real processes against the real ``crawler.siteserver``:

- kill -9 after N stored pages / N server requests / N cleaned documents, then the same command
  again: the corpus must equal a clean crawl's (URLs and content hashes of pages and documents),
  with no duplicate and a clean ``PRAGMA integrity_check``.
- ``tests/sites/hostile``: gzip bomb, 50 MB body, endless chunked body, slowloris trickle,
  binary sent as HTML, invalid UTF-8, undeclared GBK, 10,000 links on one page, a redirect loop
  and a 503 storm. The crawl must end by itself within its limits, record each failure as an
  error of the run, and still store (and clean) every good article.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus.store import Store
from crawler.siteserver import SiteServer
from tests.conftest import REPO, SITES, run_aesthetics
from tests.crawl_support import read_only_count

# ---------------------------------------------------------------------------- kill -9 points
N_ARTICLES = 24
BODY = ("Bruising and swelling after the procedure settle over two to three weeks. The clinic "
        "reviews the result at follow-up visits and asks patients to avoid heavy lifting, to "
        "sleep with the head raised and to call at once about fever or pain that gets worse.")


def _make_site(root: Path) -> None:
    """A home page linking to articles that each also link to the next one (two paths in)."""
    (root / "articles").mkdir(parents=True)
    items = []
    for i in range(N_ARTICLES):
        items.append(f'<li><a href="/articles/a{i:02d}.html">Aftercare note {i}</a></li>')
        nxt = f"a{(i + 1) % N_ARTICLES:02d}"
        (root / "articles" / f"a{i:02d}.html").write_text(
            f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Aftercare note {i}</title><meta property="og:type" content="article"></head>
<body><nav><a href="/">home</a></nav><article><h1>Aftercare note {i}</h1>
<p>{BODY}</p><p>This is note number {i} of the series, marker kiwi{i:02d}. {BODY}</p></article>
<a href="/articles/{nxt}.html">next</a> <a href="/articles/{nxt}.html?utm_source=prev">again</a>
</body></html>""", encoding="utf-8")
    (root / "index.html").write_text(
        "<html><head><title>Aftercare notes</title></head><body><ul>" + "".join(items)
        + "</ul></body></html>", encoding="utf-8")
    # slow enough that every kill point lands in the middle of the crawl
    (root / "_routes.json").write_text(json.dumps({"/articles/": {"prefix": True, "delay": 0.15}}))


def _crawl_args(server: SiteServer) -> list[str]:
    return ["crawl", server.url("/"), "--delay", "0", "--no-index", "-q", "--format", "json"]


def _snapshot(data_dir: Path) -> dict:
    """What must be identical between a resumed and a clean crawl."""
    with Store.open(data_dir, create=False) as store:
        assert store.integrity_check() == "ok"
        pages = [(p.url, p.status, p.content_hash) for p in store.iter_pages()]
        docs = [(d.url, d.id, d.content_hash) for d in store.iter_documents(include_deleted=True)]
        queued = store.frontier_counts().get("queued", 0)
    return {"pages": pages, "docs": docs, "queued": queued}


@pytest.fixture(scope="module")
def kill_site(tmp_path_factory: pytest.TempPathFactory):
    """The site, its server and a clean crawl of it, shared by the three kill points."""
    tmp = tmp_path_factory.mktemp("killsite")
    _make_site(tmp / "site")
    server = SiteServer(tmp / "site", log_path=tmp / "requests.jsonl").start()
    clean_dir = tmp / "clean"
    try:
        done = run_aesthetics(*_crawl_args(server), data_dir=clean_dir, timeout=180)
        assert done.returncode == 0, done.stderr
        yield server, _snapshot(clean_dir)
    finally:
        server.stop()


def _stored_pages(data_dir: Path, _server: SiteServer) -> int:
    return read_only_count(data_dir, "SELECT count(*) FROM pages WHERE status = 200")


def _server_requests(data_dir: Path, server: SiteServer) -> int:
    return sum(1 for r in server.requests() if r["path"].startswith("/articles/"))


def _documents(data_dir: Path, _server: SiteServer) -> int:
    return read_only_count(data_dir, "SELECT count(*) FROM documents")


# (what is polled, the threshold): early, middle and late in the crawl, each seen differently
KILL_POINTS = {
    "after-2-pages-stored": (_stored_pages, 2),
    "after-12-article-requests": (_server_requests, 12),
    "after-16-documents": (_documents, 16),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_then_rerun_equals_a_clean_crawl(kill_site, tmp_path: Path, point: str) -> None:
    server, clean = kill_site
    poll, threshold = KILL_POINTS[point]
    # the server (and its request log) is shared with the clean crawl and the other points
    offset = _server_requests(tmp_path, server) if poll is _server_requests else 0
    data_dir = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("AESTHETICS_DATA_DIR", None)
    stderr = tmp_path / "victim-stderr.txt"  # a file, not a pipe: a full pipe would stall it
    with open(stderr, "wb") as err:
        victim = subprocess.Popen(
            [sys.executable, "-c", "from search_cli.main import main; main()", "--data-dir",
             str(data_dir), *_crawl_args(server)], env=env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 90
    try:
        while True:
            if poll(data_dir, server) - offset >= threshold:
                break
            assert victim.poll() is None, "the crawl ended before the kill point: " \
                + stderr.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, f"kill point {point} never reached"
            time.sleep(0.02)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
    assert victim.returncode == -signal.SIGKILL
    assert _stored_pages(data_dir, server) < N_ARTICLES + 1, "killed too late to prove anything"

    again = run_aesthetics(*_crawl_args(server), data_dir=data_dir, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    summary = json.loads(again.stdout)
    assert summary["outcome"] == "ok"

    resumed = _snapshot(data_dir)
    assert resumed["queued"] == 0
    assert resumed["pages"] == clean["pages"]  # same URLs, statuses and content hashes
    assert resumed["docs"] == clean["docs"]
    assert len(clean["docs"]) == N_ARTICLES
    # no duplicates: one page per URL (primary key) and no two pages with the same body
    hashes = [h for _url, _status, h in resumed["pages"]]
    assert len(hashes) == len(set(hashes)) == N_ARTICLES + 1
    with Store.open(data_dir, create=False) as store:
        assert [r.outcome for r in store.runs(kind="crawl")] == ["ok", "interrupted"]
        assert store.pages_to_process() == []


# ---------------------------------------------------------------------------- hostile site
HOSTILE = SITES / "hostile"
GOOD_ARTICLES = {  # path -> a word only that article contains
    "/articles/scar-care.html": "kestrelscar",
    "/articles/filler-swelling.html": "heronfiller",
    "/articles/peel-downtime.html": "plovpeel",
    "/articles/after-farm.html": "wrenlid",
    "/articles/gbk-recovery.html": "鹭鸶鼻",
}
FAILING = {  # path -> what the recorded error must mention
    "/bomb.html": "DOWNLOAD_MAXSIZE|too big",
    "/huge.html": "DOWNLOAD_MAXSIZE|too big",
    "/endless.html": "DOWNLOAD_MAXSIZE|too big|timeout",
    "/trickle.html": "timeout|timed out",
    "/loop-a": "redirect loop",
    "/storm/1.html": "503",
}
STORM_PAGES = 6
FARM_LINKS = 10_000
BOMB_INFLATED = 30_000_000
LIMITS = {"max_pages": 80, "timeout": 3.0, "download_maxsize": 2_000_000, "retries": 1}

_HOSTILE_CRAWL = """
import json, sys
from pathlib import Path
from corpus.store import Store
from crawler.run import CrawlConfig, crawl
from crawler.sources import sources_from_urls
from indexer.process import PageProcessor

data_dir, url, limits = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
config = CrawlConfig(sources=sources_from_urls([url]), delay=0, concurrency=4, **limits)
with Store.open(data_dir) as store:
    processor = PageProcessor(store, data_dir)
    report = crawl(config, data_dir, on_page=processor.process)
    processor.process_pending()
print(json.dumps(report.to_dict()))
"""


def _build_hostile_site(root: Path) -> None:
    shutil.copytree(HOSTILE, root)
    (root / "bomb.gz").write_bytes(gzip.compress(b"\0" * BOMB_INFLATED, 9))
    links = ['<a href="/articles/after-farm.html">the one real article</a>']
    links += [f'<a href="/farm/item-{i}.html">item {i}</a>' for i in range(FARM_LINKS - 1)]
    (root / "farm.html").write_text(
        "<html><head><title>Link farm</title></head><body>" + "\n".join(links) + "</body></html>",
        encoding="utf-8")


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory: pytest.TempPathFactory):
    """One crawl of the hostile site through ``crawler.run.crawl`` with small limits (the CLI
    has no timeout / size options), the cleaner wired in as ``aesthetics crawl`` does."""
    tmp = tmp_path_factory.mktemp("hostile")
    root = tmp / "site"
    _build_hostile_site(root)
    server = SiteServer(root, log_path=tmp / "requests.jsonl").start()
    data_dir = tmp / "data"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _HOSTILE_CRAWL, str(data_dir), server.url("/"),
             json.dumps(LIMITS)], capture_output=True, text=True, env=env, timeout=150)
        elapsed = time.monotonic() - started
        yield server, data_dir, done, elapsed
    finally:
        server.stop()


def _page(data_dir: Path, server: SiteServer, path: str):
    with Store.open(data_dir, create=False) as store:
        return store.get_page(server.url(path))


@pytest.mark.slow
def test_hostile_crawl_ends_by_itself_within_its_limits(hostile_crawl) -> None:
    server, data_dir, done, _elapsed = hostile_crawl
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["outcome"] == "ok"
    assert report["pages_fetched"] <= LIMITS["max_pages"]
    page_requests = [r for r in server.requests() if r["path"] != "/robots.txt"]
    # a request is retried at most `retries` times
    assert len(page_requests) <= LIMITS["max_pages"] * (1 + LIMITS["retries"])
    farm = [r for r in page_requests if r["path"].startswith("/farm/")]
    assert 0 < len(farm) < LIMITS["max_pages"]
    # the 10,000 links went to the frontier (resumable), not into memory-only queues
    with Store.open(data_dir, create=False) as store:
        counts = store.frontier_counts()
        assert store.integrity_check() == "ok"
    assert sum(counts.values()) >= FARM_LINKS - 1
    assert report["queued_left"] == counts.get("queued", 0) > 0


@pytest.mark.slow
def test_every_hostile_case_is_recorded_as_an_error(hostile_crawl) -> None:
    import re

    server, data_dir, done, _elapsed = hostile_crawl
    report = json.loads(done.stdout)
    errors = {e["url"]: e["error"] for e in report["errors"]}
    with Store.open(data_dir, create=False) as store:
        run = store.runs(kind="crawl", limit=1)[0]
        failed = dict(store.conn.execute(
            "SELECT url, reason FROM frontier WHERE state = 'failed'").fetchall())
    assert run.outcome == "ok" and run.counts["errors"] == len(report["errors"])
    in_run = {e["url"] for e in run.details["errors"]}  # what `aesthetics history` keeps
    for path, pattern in FAILING.items():
        url = server.url(path)
        assert url in errors, f"{path} is not recorded as an error: {sorted(errors)}"
        assert re.search(pattern, errors[url], re.I), f"{path}: {errors[url]!r}"
        assert url in failed and url in in_run
    for i in range(1, STORM_PAGES + 1):
        url = server.url(f"/storm/{i}.html")
        assert "503" in errors.get(url, ""), url
        assert _page(data_dir, server, f"/storm/{i}.html").html is None
    # nothing over the size limit was stored
    for path in ("/bomb.html", "/huge.html", "/endless.html", "/trickle.html"):
        page = _page(data_dir, server, path)
        assert page is None or page.html is None


@pytest.mark.slow
def test_good_articles_survive_the_hostile_neighbours(hostile_crawl) -> None:
    server, data_dir, _done, _elapsed = hostile_crawl
    with Store.open(data_dir, create=False) as store:
        for path, marker in GOOD_ARTICLES.items():
            page = store.get_page(server.url(path))
            assert page is not None and page.status == 200 and not page.error, path
            assert marker in page.html, path
            doc = store.get_document(server.url(path))
            assert doc is not None and not doc.deleted, path
            assert marker in doc.text, path
        gbk = store.get_page(server.url("/articles/gbk-recovery.html"))
        assert gbk.charset == "gb18030" and "隆鼻手术后的恢复要点" in gbk.html
        assert store.pages_to_process() == []


@pytest.mark.slow
def test_broken_bytes_are_decoded_not_fatal(hostile_crawl) -> None:
    """Invalid UTF-8 in a real page is decoded with replacement characters and stored (as a
    browser would show it); binary sent as HTML never becomes an article."""
    server, data_dir, _done, _elapsed = hostile_crawl
    bad = _page(data_dir, server, "/bad-utf8.html")
    assert bad is not None and bad.status == 200 and not bad.error
    assert "This page says it is UTF-8 but" in bad.html and "is not." in bad.html
    bad.html.encode("utf-8")  # valid Unicode: it round-trips
    binary = _page(data_dir, server, "/binary.html")
    if binary is not None and binary.html is not None:
        binary.html.encode("utf-8")
    with Store.open(data_dir, create=False) as store:
        assert store.get_document(server.url("/binary.html")) is None


@pytest.mark.slow
def test_binary_served_as_html_is_recorded_as_an_error(hostile_crawl) -> None:
    server, _data_dir, done, _elapsed = hostile_crawl
    errors = {e["url"] for e in json.loads(done.stdout)["errors"]}
    assert server.url("/binary.html") in errors
