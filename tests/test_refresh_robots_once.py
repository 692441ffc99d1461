"""``aesthetics refresh`` asks each site for robots.txt once.

The refresh reads robots.txt while planning (its ``Sitemap:`` lines and their ``lastmod``
decide what is requested at all) and hands that answer to the crawl, whose Scrapy robots.txt
middleware parses it instead of downloading the file again. The rules, the sitemap and the
Crawl-delay must work exactly as if the crawl had fetched it itself. Crawl and refresh run as
real subprocesses against the real site server; its request log is the evidence.
"""

from __future__ import annotations

import json
from pathlib import Path

from corpus.store import Store
from tests.conftest import run_aesthetics
from tests.crawl_support import crawl_json, gets, write_page

TOLERANCE = 0.1  # seconds: the server stamps answers, not arrivals


def _make_site(root: Path, robots: str | None) -> None:
    """Home links to two articles and a private page robots.txt may forbid."""
    write_page(root / "index.html", "Clinic", '<a href="/p/0.html">0</a> <a href="/p/1.html">1</a>'
          ' <a href="/private/notes.html">notes</a>')
    write_page(root / "p" / "0.html", "Brow lift recovery")
    write_page(root / "p" / "1.html", "Rhinoplasty swelling")
    write_page(root / "private" / "notes.html", "Internal notes")
    if robots is not None:
        (root / "robots.txt").write_text(robots, encoding="utf-8")


def _refresh(data_dir: Path) -> dict:
    done = run_aesthetics("refresh", "--delay", "0", "--no-index", "--format", "json",
                          data_dir=data_dir, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_refresh_asks_for_robots_txt_once_and_still_obeys_it(tmp_path: Path,
                                                             site_server) -> None:
    root = tmp_path / "site"
    _make_site(root, "User-agent: *\nAllow: /\n")
    server = site_server(root)
    data_dir = tmp_path / "data"
    crawl_json(server, data_dir, "-q")
    assert gets(server.requests(), "/private/notes.html") == 1

    # Now robots.txt forbids /private/ and names a sitemap listing a page nothing links to.
    (root / "robots.txt").write_text(
        "User-agent: *\nDisallow: /private/\nSitemap: /maps/all.xml\n", encoding="utf-8")
    (root / "maps").mkdir()
    (root / "maps" / "all.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{server.url('/p/2.html')}</loc></url></urlset>", encoding="utf-8")
    write_page(root / "p" / "2.html", "Only in the sitemap")
    mark = len(server.requests())

    _refresh(data_dir)

    asked = server.requests()[mark:]
    assert gets(asked, "/robots.txt") == 1
    assert gets(asked, "/private/notes.html") == 0  # the rule read before the crawl holds
    assert gets(asked, "/p/2.html") == 1  # found through the robots.txt sitemap
    with Store.open(data_dir, create=False) as store:
        assert store.get_page(server.url("/p/2.html"), with_html=False) is not None


def test_refresh_with_missing_robots_txt_asks_once(tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    _make_site(root, None)
    server = site_server(root)
    data_dir = tmp_path / "data"
    crawl_json(server, data_dir, "-q")
    mark = len(server.requests())

    _refresh(data_dir)

    asked = server.requests()[mark:]
    assert gets(asked, "/robots.txt") == 1
    assert gets(asked, "/private/notes.html") == 1  # a 404 robots.txt forbids nothing


def test_refresh_keeps_the_crawl_delay_of_a_robots_txt_read_before_the_crawl(
        tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    _make_site(root, "User-agent: *\nDisallow: /private/\n")
    server = site_server(root)
    data_dir = tmp_path / "data"
    crawl_json(server, data_dir, "-q")  # fast: no Crawl-delay yet
    (root / "robots.txt").write_text("User-agent: *\nCrawl-delay: 1\nDisallow: /private/\n",
                                     encoding="utf-8")
    mark = len(server.requests())

    _refresh(data_dir)

    asked = sorted(server.requests()[mark:], key=lambda r: r["time"])
    assert gets(asked, "/robots.txt") == 1
    netloc = server.url("/").split("/")[2]
    # The planning step asks for robots.txt and the default /sitemap.xml; every request of
    # the crawl after it keeps the site's gap.
    paths = [r["path"] for r in asked]
    crawl_part = asked[paths.index("/sitemap.xml") + 1:]
    assert {r["path"] for r in crawl_part} >= {"/", "/p/0.html", "/p/1.html"}
    gaps = [b["time"] - a["time"] for a, b in zip(crawl_part, crawl_part[1:], strict=False)]
    assert gaps and min(gaps) >= 1.0 - TOLERANCE, gaps
    log = (data_dir / "crawl.log").read_text(encoding="utf-8")
    assert f"crawl-delay\thttp://{netloc}/robots.txt\t1 s" in log


def test_refresh_leaves_a_failing_robots_txt_to_the_crawls_retries(tmp_path: Path,
                                                                  site_server) -> None:
    """A 503 is no answer to reuse: the crawl asks again with its usual retries (2), as it
    did before, and the site is still crawled."""
    root = tmp_path / "site"
    _make_site(root, None)
    server = site_server(root)
    data_dir = tmp_path / "data"
    crawl_json(server, data_dir, "-q")
    (root / "_routes.json").write_text(json.dumps({"/robots.txt": {"status": 503}}),
                                       encoding="utf-8")
    mark = len(server.requests())

    _refresh(data_dir)

    asked = server.requests()[mark:]
    assert gets(asked, "/robots.txt") == 1 + 3  # planning, then the crawl's try and 2 retries
    assert gets(asked, "/p/0.html") == 1
