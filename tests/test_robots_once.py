"""A site's robots.txt is requested once per crawl, and its ``Sitemap:`` lines still lead the
crawl to pages nothing links to.

Scrapy's robots.txt middleware fetches the file to decide what may be fetched; the spider reads
the sitemaps from that same parse instead of asking the site a second time. Only a crawl that
does not obey robots.txt fetches it for its sitemaps alone. Crawls run in subprocesses against
a real local server whose request log is the evidence.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from corpus.store import Store
from crawler.siteserver import SiteServer
from tests.conftest import child_env, run_aesthetics
from tests.crawl_support import crawl_json, gets, write_page


def _sitemap(path: Path, urls: list[str]) -> None:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns='
                    f'"http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>\n',
                    encoding="utf-8")


def _make_site(root: Path, robots: str | None) -> None:
    """Home links to one article; ``/hidden/only.html`` is reachable through the sitemap
    that robots.txt names (``/maps/hidden.xml``, not the default ``/sitemap.xml``) only."""
    write_page(root / "index.html", "Clinic", '<a href="/articles/botox.html">Botox</a>')
    write_page(root / "articles" / "botox.html", "Botox basics")
    write_page(root / "hidden" / "only.html", "Only in the sitemap")
    write_page(root / "hidden" / "second.html", "Added later")
    if robots is not None:
        (root / "robots.txt").write_text(robots, encoding="utf-8")


def _crawl_py(server: SiteServer, data_dir: Path, **settings: object) -> None:
    """``crawler.run.crawl`` with extra Scrapy settings (the CLI has no switch for them)."""
    code = (
        "import json, sys; from pathlib import Path\n"
        "from crawler.run import CrawlConfig, crawl\n"
        "from crawler.sources import Source\n"
        "url, data, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n"
        "config = CrawlConfig(sources=[Source(name='site', start_urls=[url])], delay=0,\n"
        "                     retries=0, settings=extra)\n"
        "report = crawl(config, Path(data))\n"
        "sys.exit(0 if report.outcome == 'ok' else 1)\n")
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", code, server.url("/"), str(data_dir),
                           json.dumps(settings)], capture_output=True, text=True, timeout=120,
                          env=child_env())
    assert done.returncode == 0, done.stderr


def _stored(data_dir: Path, server: SiteServer) -> set[str]:
    with Store.open(data_dir, create=False) as store:
        return {p.url.replace(server.base, "") for p in store.iter_pages()}


def test_robots_sitemap_is_followed_with_one_robots_request_per_crawl(
        tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    _make_site(root, "User-agent: *\nDisallow: /private/\nSitemap: /maps/hidden.xml\n")
    server = site_server(root)
    _sitemap(root / "maps" / "hidden.xml", [server.url("/hidden/only.html")])
    data_dir = tmp_path / "data"

    report = crawl_json(server, data_dir)
    assert report["pages_stored"] == 3
    assert gets(server.requests(), "/hidden/only.html") == 1
    assert gets(server.requests(), "/maps/hidden.xml") == 1
    assert gets(server.requests(), "/robots.txt") == 1

    # A second crawl of the same data dir: the home page and the sitemap's first page are
    # done, yet robots.txt is still read (once) and its sitemap yields the new page.
    _sitemap(root / "maps" / "hidden.xml",
             [server.url("/hidden/only.html"), server.url("/hidden/second.html")])
    crawl_json(server, data_dir)
    assert gets(server.requests(), "/hidden/second.html") == 1
    assert gets(server.requests(), "/robots.txt") == 2
    assert {"/hidden/only.html", "/hidden/second.html"} <= _stored(data_dir, server)


def test_without_robots_obey_robots_txt_is_fetched_for_its_sitemaps_only(
        tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    _make_site(root, "User-agent: *\nDisallow: /articles/\nSitemap: /maps/hidden.xml\n")
    server = site_server(root)
    _sitemap(root / "maps" / "hidden.xml", [server.url("/hidden/only.html")])

    _crawl_py(server, tmp_path / "data", ROBOTSTXT_OBEY=False)
    assert gets(server.requests(), "/robots.txt") == 1
    assert gets(server.requests(), "/hidden/only.html") == 1
    assert gets(server.requests(), "/articles/botox.html") == 1  # Disallow not obeyed, as configured


def test_missing_or_failing_robots_txt_is_asked_once_and_names_no_sitemap(
        tmp_path: Path, site_server) -> None:
    missing = tmp_path / "missing"
    _make_site(missing, None)
    failing = tmp_path / "failing"
    _make_site(failing, None)
    # An error page whose body looks like a robots.txt: only a 200 answer counts.
    (failing / "_routes.json").write_text(json.dumps({"/robots.txt": {
        "status": 503, "body": "Sitemap: /maps/hidden.xml\n"}}), encoding="utf-8")
    for root, name in ((missing, "missing"), (failing, "failing")):
        server = site_server(root, name=name)
        _sitemap(root / "maps" / "hidden.xml", [server.url("/hidden/only.html")])
        _crawl_py(server, tmp_path / f"data-{name}")
        assert gets(server.requests(), "/robots.txt") == 1, name
        assert gets(server.requests(), "/articles/botox.html") == 1, name
        assert gets(server.requests(), "/maps/hidden.xml") == 0, name
        assert gets(server.requests(), "/hidden/only.html") == 0, name


def test_a_slow_robots_txt_does_not_hold_back_another_site(tmp_path: Path, site_server) -> None:
    """Every site is asked for robots.txt at once when the crawl starts: B's answer comes
    back while A's is still on its way (the server logs an answer when it sends it)."""
    root_a, root_b = tmp_path / "a", tmp_path / "b"
    for root in (root_a, root_b):
        _make_site(root, "User-agent: *\nDisallow: /private/\n")
    (root_a / "_routes.json").write_text(json.dumps({"/robots.txt": {"delay": 2.0}}))
    slow, quick = site_server(root_a, "a"), site_server(root_b, "b")
    done = run_aesthetics("crawl", slow.url("/"), quick.url("/"), "--delay", "0",
                          "--no-index", "--format", "json", data_dir=tmp_path / "data",
                          timeout=120)
    assert done.returncode == 0, done.stderr

    def robots_sent(server: SiteServer) -> float:
        (entry,) = [r for r in server.requests() if r["path"] == "/robots.txt"]
        return entry["time"]

    assert robots_sent(quick) < robots_sent(slow) - 1.0
