"""Each site keeps its own resumable frontier: crawling site B never drops site A's queue.

Site A's crawl is killed (or stopped by its page cap) half way; site B is then crawled
(fresh, and refreshed); A's next crawl must still resume A's queue: every A page stored
exactly once, none fetched twice.
"""

from __future__ import annotations

import time
from pathlib import Path

from corpus.store import Store
from crawler.siteserver import SiteServer
from tests.conftest import run_aesthetics
from tests.crawl_support import (
    N_ARTICLES,
    crawl_json,
    kill_crawl_when_stored,
    make_site,
    stored_urls,
)


def _make_small_site(root: Path, name: str, pages: int = 3) -> None:
    (root / "p").mkdir(parents=True)
    for i in range(pages):
        (root / "p" / f"{i}.html").write_text(
            f"<html><head><title>{name} {i}</title></head><body><article><h1>{name} {i}</h1>"
            f"<p>{name} page {i} about recovery after eyelid surgery.</p></article>"
            f'<a href="/">home</a></body></html>', encoding="utf-8")
    (root / "index.html").write_text(
        "<html><head><title>home</title></head><body>"
        + "".join(f'<a href="/p/{i}.html">page {i}</a> ' for i in range(pages))
        + "</body></html>", encoding="utf-8")


def _site_name(server: SiteServer) -> str:
    return server.url("/").split("/")[2]


def _queued(data_dir: Path, site: str) -> set[str]:
    with Store.open(data_dir, create=False) as store:
        return {url for url, _site, _depth in store.frontier_queued(sites=[site])}


def _pages_requested(server: SiteServer, since: float = 0.0) -> list[str]:
    return [r["path"] for r in server.requests()
            if r["time"] >= since and r["path"] not in ("/robots.txt", "/sitemap.xml")]


def test_killed_crawl_of_a_survives_a_fresh_crawl_of_b(tmp_path: Path, site_server) -> None:
    root_a, root_b = tmp_path / "a", tmp_path / "b"
    make_site(root_a)  # 30 articles at 0.15 s each: a kill lands in the middle
    _make_small_site(root_b, "beta")
    server_a, server_b = site_server(root_a, "a"), site_server(root_b, "b")
    site_a, site_b = _site_name(server_a), _site_name(server_b)
    data_dir = tmp_path / "data"

    kill_crawl_when_stored(data_dir, server_a, 8)
    killed_at = time.time()
    stored_a = set(stored_urls(data_dir))
    queue_a = _queued(data_dir, site_a)
    assert 8 <= len(stored_a) < N_ARTICLES + 1 and queue_a, "A must be cut in the middle"

    # B from scratch (--fresh clears B's frontier, and only B's), then B again (resume path).
    for extra in (("--fresh",), ()):
        summary_b = crawl_json(server_b, data_dir, *extra)
        assert summary_b["outcome"] == "ok" and summary_b["resumed"] == 0
        assert summary_b["queued_left"] == 0  # B's own queue; A's is not B's business
        assert _queued(data_dir, site_a) == queue_a
    assert len(_pages_requested(server_b)) == 2 * 4  # home + 3 pages, each crawl from scratch

    summary_a = crawl_json(server_a, data_dir)
    assert summary_a["outcome"] == "ok" and summary_a["resumed"] == len(queue_a)
    refetched = {server_a.url(p) for p in _pages_requested(server_a, killed_at)} & stored_a
    assert refetched == set()
    urls = stored_urls(data_dir)
    a_urls = [u for u in urls if u.split("/")[2] == site_a]
    assert len(a_urls) == len(set(a_urls)) == N_ARTICLES + 1
    assert len([u for u in urls if u.split("/")[2] == site_b]) == 4
    with Store.open(data_dir, create=False) as store:
        assert store.frontier_counts().get("queued", 0) == 0


def test_capped_crawl_of_a_survives_a_refresh_of_b(tmp_path: Path, site_server) -> None:
    root_a, root_b = tmp_path / "a", tmp_path / "b"
    make_site(root_a, delay=0)
    _make_small_site(root_b, "beta")
    server_a, server_b = site_server(root_a, "a"), site_server(root_b, "b")
    site_a = _site_name(server_a)
    data_dir = tmp_path / "data"

    first_a = crawl_json(server_a, data_dir, "--max-pages", "10")
    assert first_a["queued_left"] > 0
    queue_a = _queued(data_dir, site_a)
    assert len(queue_a) == first_a["queued_left"]
    crawl_json(server_b, data_dir)
    assert _queued(data_dir, site_a) == queue_a

    sources_b = tmp_path / "b.toml"
    sources_b.write_text(f'[[site]]\nname = "{_site_name(server_b)}"\n'
                         f'start_urls = ["{server_b.url("/")}"]\n', encoding="utf-8")
    refreshed = run_aesthetics("refresh", "--sources", str(sources_b), "--delay", "0",
                               "--no-index", "--format", "json", data_dir=data_dir, timeout=120)
    assert refreshed.returncode == 0, refreshed.stderr
    assert _queued(data_dir, site_a) == queue_a

    second_a = crawl_json(server_a, data_dir)
    assert second_a["resumed"] == len(queue_a) and second_a["queued_left"] == 0
    paths = _pages_requested(server_a)
    assert len(paths) == len(set(paths)) == N_ARTICLES + 1  # continued, nothing fetched twice


def test_frontier_rows_are_scoped_by_site(tmp_path: Path) -> None:
    with Store.open(tmp_path / "data") as store:
        store.frontier_add([("http://a/1", "a", 0), ("http://a/2", "a", 1),
                            ("http://b/1", "b", 0)])
        store.frontier_mark("http://a/1", "done")
        store.frontier_mark("http://a/x", "skipped", "trap", site="a")  # unknown URL: added
        store.frontier_mark("http://old/y", "skipped", "from an older version")  # no site
        assert store.frontier_queued(sites=["a"]) == [("http://a/2", "a", 1)]
        assert store.frontier_queued(sites=[]) == []
        assert len(store.frontier_queued()) == 2
        assert store.frontier_counts(sites={"a"}) == {"done": 1, "queued": 1, "skipped": 1}
        assert store.frontier_counts(sites=["b"]) == {"queued": 1}

        assert store.frontier_clear(["a"]) == 4  # a's three rows and the site-less one
        assert store.frontier_queued() == [("http://b/1", "b", 0)]
        assert store.frontier_seen("http://b/1") and not store.frontier_seen("http://a/x")

        store.frontier_mark("http://b/1", "done", site="a")  # a known row keeps its site
        assert store.frontier_counts(sites=["b"]) == {"done": 1}
        store.frontier_add([("http://c/1", "c", 0)])
        assert store.frontier_clear() == 2
        assert store.frontier_counts() == {}
