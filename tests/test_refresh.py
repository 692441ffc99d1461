"""refresh: a fixture site changes between real crawls; the report, corpus, index and the
server's request log must show exactly what changed.

Every crawl and refresh is a real subprocess (Twisted's reactor runs once per process) against
the real site server on a free loopback port; the corpus and index are real files in tmp.
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

from corpus import Store
from corpus.lock import DataDirLock
from crawler.refresh import (
    HintFetcher,
    feed_links,
    parse_feed,
    parse_lastmod,
    parse_sitemap,
)
from tests.conftest import REPO, SITES, run_aesthetics

SITE = SITES / "refreshsite"
EDITED = ["a01", "a02", "a03"]
ADDED = ["a11", "a12", "a13", "a14"]
DELETED = ["a04", "a05"]  # a04 answers 404, a05 410
UNTOUCHED = ["a06", "a07", "a08", "a09", "a10"]  # a06: only its sidebar changes


def make_site(tmp_path: Path, *, sitemap: bool = True) -> Path:
    root = tmp_path / "site"
    shutil.copytree(SITE / "before", root)
    if not sitemap:
        (root / "sitemap.xml").unlink()
    return root


def change_site(root: Path) -> None:
    """The second state: 3 edited, 4 added, a04 removed (404), a05 410, a06 new sidebar."""
    shutil.copytree(SITE / "after", root, dirs_exist_ok=True)
    for key in DELETED:
        (root / "articles" / f"{key}.html").unlink()


def url(server, key: str) -> str:
    return server.url(f"/articles/{key}.html")


def crawl(server, data_dir: Path) -> None:
    done = run_aesthetics("crawl", server.url("/"), "--delay", "0", "-q", data_dir=data_dir)
    assert done.returncode == 0, done.stderr


def refresh(data_dir: Path, *extra: str) -> dict:
    done = run_aesthetics("refresh", "--delay", "0", "--format", "json", "-q", *extra,
                          data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def requests_since(server, mark: int) -> list[dict]:
    return server.requests()[mark:]


def search_urls(data_dir: Path, query: str) -> list[str]:
    from indexer.search import Searcher, SearchRequest

    with Searcher(data_dir) as searcher:
        return [h.url for h in searcher.search(SearchRequest(query=query, limit=50)).hits]


# ---------------------------------------------------------------------------- the scenario
@pytest.mark.slow
def test_refresh_reports_exactly_what_changed(tmp_path: Path, data_dir: Path,
                                              site_server) -> None:
    root = make_site(tmp_path)
    server = site_server(root)
    crawl(server, data_dir)
    assert url(server, "a04") in search_urls(data_dir, "liposuction compression garments")
    change_site(root)
    mark = len(server.requests())
    # Stored times have one-second resolution: start the refresh in a later second than the
    # crawl's last write, or `changes --since <refresh start>` below also lists that write.
    time.sleep(1.01 - time.time() % 1.0)

    report = refresh(data_dir)

    assert report["new"] == [url(server, k) for k in ADDED]
    assert report["changed"] == [url(server, k) for k in EDITED]
    assert report["deleted"] == [url(server, k) for k in DELETED]
    assert report["unchanged"] == len(UNTOUCHED)
    assert report["errors"] == []
    assert report["missing"] == []
    assert report["started"] <= report["finished"]

    # Unchanged pages were asked conditionally and answered 304; the sidebar-only page was
    # asked conditionally too, came back with a body, and its cleaned text did not change.
    log = {r["path"]: r for r in requests_since(server, mark) if r["path"].startswith("/articles/")}
    for key in UNTOUCHED[1:]:
        entry = log[f"/articles/{key}.html"]
        assert entry["if_none_match"] and entry["status"] == 304, entry
    assert log["/articles/a06.html"]["if_none_match"] and log["/articles/a06.html"]["status"] == 200
    assert log["/articles/a04.html"]["status"] == 404 and log["/articles/a05.html"]["status"] == 410
    paths = [r["path"] for r in requests_since(server, mark)]
    assert all(paths.count(f"/articles/{k}.html") == 1 for k in EDITED + ADDED + UNTOUCHED)

    # Tombstones and history
    with Store.open(data_dir) as store:
        for key in DELETED:
            doc = store.get_document(url(server, key))
            assert doc.deleted and doc.deleted_at
        for key in EDITED:
            doc = store.get_document(url(server, key))
            versions = store.history(doc.id)
            assert len(versions) == 1 and "Updated advice" not in versions[0].text
            assert "Updated advice" in doc.text
        assert store.history(store.get_document(url(server, "a06")).id) == []
        assert store.integrity_check() == "ok"
        refresh_runs = store.runs(kind="refresh")
    assert [r.outcome for r in refresh_runs] == ["ok"]
    assert refresh_runs[0].counts["new"] == 4 and refresh_runs[0].counts["changed"] == 3
    assert refresh_runs[0].counts["deleted"] == 2 and refresh_runs[0].counts["unchanged"] == 5

    # The index: deleted documents are gone, edited ones are found by their new words.
    assert search_urls(data_dir, "apraclonidine") == [url(server, "a02")]
    assert search_urls(data_dir, "hyaluronidase") == [url(server, "a03")]
    assert url(server, "a01") in search_urls(data_dir, "supratip")
    assert url(server, "a11") in search_urls(data_dir, "seroma")
    assert url(server, "a04") not in search_urls(data_dir, "liposuction compression garments")
    assert url(server, "a05") not in search_urls(data_dir, "capsular contracture")

    # history lists the runs with counts; changes lists the documents since the refresh began
    history = json.loads(run_aesthetics("history", "--format", "json",
                                        data_dir=data_dir).stdout)
    kinds = [r["kind"] for r in history]
    assert kinds.count("refresh") == 1 and kinds.count("crawl") == 2
    assert next(r for r in history if r["kind"] == "refresh")["counts"]["deleted"] == 2
    changes = json.loads(run_aesthetics("changes", "--since", report["started"], "--format",
                                        "json", data_dir=data_dir).stdout)
    by_kind = {(c["change"], c["url"]) for c in changes}
    assert by_kind == ({("changed", url(server, k)) for k in EDITED}
                       | {("new", url(server, k)) for k in ADDED}
                       | {("deleted", url(server, k)) for k in DELETED})

    # A second refresh of the unchanged site: only 304s and nothing to report.
    mark = len(server.requests())
    again = refresh(data_dir)
    assert (again["new"], again["changed"], again["deleted"]) == ([], [], [])
    assert again["unchanged"] == len(EDITED + ADDED + UNTOUCHED)
    pages = [r for r in requests_since(server, mark)
             if r["path"].startswith("/articles/") and r["path"][10:13] not in DELETED]
    assert pages and all(r["status"] == 304 and r["if_none_match"] for r in pages)


@pytest.mark.slow
def test_gone_twice_deletes_without_a_sitemap(tmp_path: Path, data_dir: Path,
                                              site_server) -> None:
    root = make_site(tmp_path, sitemap=False)
    server = site_server(root)
    crawl(server, data_dir)
    (root / "articles" / "a07.html").unlink()

    first = refresh(data_dir)
    assert first["deleted"] == [] and first["missing"] == [url(server, "a07")]
    with Store.open(data_dir) as store:
        assert not store.get_document(url(server, "a07")).deleted
        assert store.get_page(url(server, "a07")).gone_count == 1

    second = refresh(data_dir)
    assert second["deleted"] == [url(server, "a07")] and second["missing"] == []
    assert url(server, "a07") not in search_urls(data_dir, "chemical peel patches")

    mark = len(server.requests())
    third = refresh(data_dir)  # a tombstone gone twice is not asked again
    assert third["deleted"] == [] and third["missing"] == []
    assert "/articles/a07.html" not in [r["path"] for r in requests_since(server, mark)]


@pytest.mark.slow
def test_sitemap_lastmod_spares_requests(tmp_path: Path, data_dir: Path, site_server) -> None:
    root = make_site(tmp_path)
    sitemap = (root / "sitemap.xml").read_text()
    (root / "sitemap.xml").write_text(
        sitemap.replace(".html</loc>", ".html</loc><lastmod>2001-02-03</lastmod>"))
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\nSitemap: /sitemap.xml\n")
    server = site_server(root)
    crawl(server, data_dir)
    mark = len(server.requests())

    report = refresh(data_dir)

    assert report["unchanged"] == 10 and report["skipped"] == 10
    asked = [r["path"] for r in requests_since(server, mark)]
    assert not [p for p in asked if p.startswith("/articles/")]  # not even a 304
    assert "/sitemap.xml" in asked and "/" in asked


def test_dry_run_requests_and_changes_nothing(tmp_path: Path, data_dir: Path,
                                              site_server) -> None:
    server = site_server(make_site(tmp_path))
    with Store.open(data_dir) as store:  # a corpus as a crawl leaves it, without crawling
        from corpus import Page

        for key in ("a01", "a02"):
            store.upsert_page(Page(url=url(server, key), site=server.base[7:], status=200,
                                   etag=f'"{key}"', last_modified="Mon, 02 Mar 2026 10:00:00 GMT",
                                   html=(SITE / "before" / "articles" / f"{key}.html").read_text(),
                                   content_hash="x", fetched_at="2026-03-02T10:00:00+00:00"))
        run = store.start_run("crawl", {"sources": [server.base[7:]],
                                        "start_urls": [server.url("/")]})
        store.finish_run(run)
    done = run_aesthetics("refresh", "--dry-run", "--format", "json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["dry_run"] is True
    assert [r["url"] for r in plan["revisit"]] == [url(server, "a01"), url(server, "a02")]
    assert plan["revisit"][0]["etag"] == '"a01"'
    assert plan["sites"][0]["feeds"] == [server.url("/feed.xml")]
    assert plan["sites"][0]["listings"] == [server.url("/")]
    assert server.requests() == []
    with Store.open(data_dir) as store:
        assert [r.kind for r in store.runs()] == ["crawl"]
    table = run_aesthetics("refresh", "--dry-run", data_dir=data_dir)
    assert '"a01"' in table.stdout and "feed" in table.stdout


@pytest.mark.slow
def test_refresh_with_sources_file_starts_an_empty_corpus(tmp_path: Path, data_dir: Path,
                                                          site_server) -> None:
    server = site_server(make_site(tmp_path))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[defaults]\ndelay = 0\n\n[[site]]\nname = "clinic-notes"\n'
                       f'start_urls = ["{server.url("/")}"]\n')
    first = refresh(data_dir, "--sources", str(sources))
    assert first["new"] == [url(server, f"a{i:02d}") for i in range(1, 11)]
    # later refreshes without the file find the site (and its name) in the corpus
    second = refresh(data_dir)
    assert second["unchanged"] == 10 and second["new"] == []
    with Store.open(data_dir) as store:
        assert {p.site for p in store.iter_pages()} == {"clinic-notes"}


@pytest.mark.slow
def test_busy_index_keeps_the_report_and_catches_up_later(tmp_path: Path, data_dir: Path,
                                                          site_server) -> None:
    root = make_site(tmp_path)
    server = site_server(root)
    crawl(server, data_dir)
    shutil.copy(SITE / "after" / "articles" / "a02.html", root / "articles" / "a02.html")
    with DataDirLock(data_dir, "index", command="a long index rebuild"):
        done = run_aesthetics("refresh", "--delay", "0", "--format", "json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["changed"] == [url(server, "a02")]
    assert "a long index rebuild" in report["index"]["error"]
    assert "index not updated" in done.stderr
    assert search_urls(data_dir, "apraclonidine") == []  # not indexed yet, nothing lost:
    assert run_aesthetics("index", data_dir=data_dir).returncode == 0
    assert search_urls(data_dir, "apraclonidine") == [url(server, "a02")]


def test_refresh_without_corpus_or_with_bad_sources(tmp_path: Path, data_dir: Path) -> None:
    nothing = run_aesthetics("refresh", data_dir=data_dir)
    assert nothing.returncode == 3 and "crawl" in nothing.stderr
    bad = tmp_path / "sources.toml"
    bad.write_text("[[site]]\nname = 'x'\nstart_urls = ['ftp://nope']\n")
    wrong = run_aesthetics("refresh", "--sources", str(bad), data_dir=data_dir)
    assert wrong.returncode == 2 and "start_urls" in wrong.stderr


# ---------------------------------------------------------------------------- lock and kill
def _popen_refresh(data_dir: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("AESTHETICS_DATA_DIR", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-c", "from search_cli.main import main; main()", "--data-dir",
         str(data_dir), "refresh", "--delay", "0", "-q", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _slow_down(root: Path, seconds: float) -> None:
    routes = json.loads((root / "_routes.json").read_text()) if (root / "_routes.json").exists() else {}
    for key in ("a08", "a09", "a10"):
        routes[f"/articles/{key}.html"] = {"delay": seconds}
    (root / "_routes.json").write_text(json.dumps(routes))


@pytest.mark.slow
def test_concurrent_refresh_is_refused_with_exit_4(tmp_path: Path, data_dir: Path,
                                                   site_server) -> None:
    root = make_site(tmp_path)
    server = site_server(root)
    crawl(server, data_dir)
    _slow_down(root, 3.0)
    first = _popen_refresh(data_dir)
    try:
        lock = DataDirLock(data_dir, "crawl")
        _wait_for(lambda: (lock.holder() or {}).get("pid") == first.pid)
        second = run_aesthetics("refresh", "--delay", "0", data_dir=data_dir)
        assert second.returncode == 4
        assert f"PID {first.pid}" in second.stderr and "since" in second.stderr
        crawl_too = run_aesthetics("crawl", server.url("/"), "--delay", "0", data_dir=data_dir)
        assert crawl_too.returncode == 4
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out)["unchanged"] == 10


@pytest.mark.slow
def test_kill_9_during_refresh_then_refresh_again(tmp_path: Path, data_dir: Path,
                                                  site_server) -> None:
    root = make_site(tmp_path)
    server = site_server(root)
    crawl(server, data_dir)
    change_site(root)
    _slow_down(root, 5.0)
    victim = _popen_refresh(data_dir)

    def a01_saved() -> bool:
        with Store.open(data_dir) as store:
            return "Updated advice" in store.get_document(url(server, "a01")).text

    try:  # killed while slow pages are in flight, after a01 was fetched and processed
        _wait_for(a01_saved)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    (root / "_routes.json").write_text(json.dumps({"/articles/a05.html": {"status": 410}}))

    done = run_aesthetics("refresh", "--delay", "0", "--format", "json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "taking over stale crawl lock" in done.stderr
    second = json.loads(done.stdout)
    assert url(server, "a01") not in second["changed"]  # the killed run had saved it

    with Store.open(data_dir) as store:
        assert store.integrity_check() == "ok"
        live = {d.url for d in store.iter_documents()}
        assert live == {url(server, k) for k in EDITED + ADDED + UNTOUCHED}
        for key in EDITED:
            assert "Updated advice" in store.get_document(url(server, key)).text
        assert {r.outcome for r in store.runs(kind="refresh")} == {"interrupted", "ok"}
        assert store.pages_to_process() == []
    assert search_urls(data_dir, "apraclonidine") == [url(server, "a02")]
    assert url(server, "a04") not in search_urls(data_dir, "liposuction compression garments")
# ---------------------------------------------------------------------------- parsing (no network)
def test_parse_rss_atom_and_rdf_feeds() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>a</title><link>/articles/a.html</link><pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate></item>
      <item><title>b</title><link> http://other.test/b </link></item></channel></rss>"""
    assert parse_feed(rss, "http://s.test/feed.xml") == [
        ("http://s.test/articles/a.html", "Tue, 03 Mar 2026 10:00:00 GMT"),
        ("http://other.test/b", None)]
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><link rel="self" href="/e1.atom"/><link href="/e1.html"/><updated>2026-03-01T00:00:00Z</updated></entry>
      </feed>"""
    assert parse_feed(atom, "http://s.test/atom") == [("http://s.test/e1.html", "2026-03-01T00:00:00Z")]
    rdf = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/"><item rdf:about="http://s.test/r1"><title>r</title></item></rdf:RDF>"""
    assert parse_feed(rdf, "http://s.test/") == [("http://s.test/r1", None)]
    assert parse_feed(b"not xml at all <<<", "http://s.test/") == []


def test_parse_feed_refuses_entities() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
      <rss><channel><item><link>&x;</link></item></channel></rss>"""
    assert all("root:" not in url for url, _ in parse_feed(bomb, "http://s.test/"))


def test_parse_sitemap_and_index() -> None:
    urlset = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>http://s.test/a</loc><lastmod>2026-01-02</lastmod></url>
      <url><loc>/b</loc></url></urlset>"""
    assert parse_sitemap(urlset, "http://s.test/sitemap.xml") == (
        [("http://s.test/a", "2026-01-02"), ("http://s.test/b", None)], [])
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>http://s.test/s1.xml</loc></sitemap></sitemapindex>"""
    assert parse_sitemap(index, "http://s.test/") == ([], ["http://s.test/s1.xml"])


def test_feed_links_are_discovered_from_html() -> None:
    page = """<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">
      <link rel="alternate" type="application/atom+xml; charset=utf-8" href="atom.xml">
      <link rel="alternate" hreflang="de" href="/de/"><link rel="stylesheet" href="/s.css">
      </head><body></body></html>"""
    assert feed_links(page, "http://s.test/news/") == [
        "http://s.test/feed.xml", "http://s.test/news/atom.xml"]


def test_parse_lastmod_forms() -> None:
    assert parse_lastmod("2026-01-02").isoformat() == "2026-01-02T23:59:59+00:00"
    assert parse_lastmod("2026-01-02T10:00:00+02:00").isoformat() == "2026-01-02T08:00:00+00:00"
    assert parse_lastmod("Tue, 03 Mar 2026 10:00:00 GMT").isoformat() == "2026-03-03T10:00:00+00:00"
    assert parse_lastmod("soon") is None and parse_lastmod(None) is None


def test_hint_fetcher_gzip_robots_and_errors(tmp_path: Path, site_server) -> None:
    root = tmp_path / "hints"
    root.mkdir()
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n"
                                     "Sitemap: /maps/all.xml.gz\n")
    (root / "maps").mkdir()
    (root / "maps" / "all.xml.gz").write_bytes(gzip.compress(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>/a.html</loc></url></urlset>"))
    (root / "_routes.json").write_text(json.dumps({"/broken.xml": {"status": 500}}))
    server = site_server(root)
    fetcher = HintFetcher("aesthetics-search/0.1 (+test)", timeout=5)
    assert fetcher.robots_sitemaps(server.url("/")) == [server.url("/maps/all.xml.gz")]
    body = fetcher.get(server.url("/maps/all.xml.gz"))
    assert parse_sitemap(body, server.url("/maps/all.xml.gz"))[0] == [(server.url("/a.html"), None)]
    assert fetcher.get(server.url("/private/feed.xml")) is None  # robots.txt says no
    assert fetcher.get(server.url("/feed.xml")) is None  # 404: a site without a feed
    assert fetcher.get(server.url("/broken.xml")) is None
    assert fetcher.errors == [{"url": server.url("/broken.xml"), "error": "HTTP 500"}]
    asked = [r["path"] for r in server.requests()]
    assert "/private/feed.xml" not in asked and asked.count("/robots.txt") == 1
