"""End-to-end crawls of the fixture site ``tests/sites/crawlsite`` with the real CLI.

One crawl (module fixture) answers most questions; the server's request log says what was
asked for, the corpus says what was stored. Crawls run in subprocesses: Twisted's reactor
cannot restart inside the test process.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpus.store import Store
from crawler.siteserver import SiteServer
from tests.conftest import SITES, run_aesthetics

SITE = SITES / "crawlsite"
DEPTH = 3

ARTICLES = {
    "/articles/rhinoplasty-recovery.html", "/articles/botox-basics.html",
    "/articles/filler-risks.html", "/articles/liposuction-faq.html",
    "/articles/eyelid-surgery.html", "/articles/flaky.html", "/articles/gbk-article.html",
    "/articles/gzipped.html", "/articles/slow.html", "/articles/nofollow-page.html",
    "/articles/facelift-guide.html", "/articles/from-noindex.html",
    "/articles/sitemap-only.html",
}
OTHER_PAGES = {"/", "/list/page-2.html", "/contact.html"}
NEVER_REQUESTED = {
    "/private/admin.html",  # robots.txt Disallow (also listed in the sitemap)
    "/files/brochure.pdf",  # skipped by extension
    "/articles/nofollow-target.html",  # linked only from a meta-nofollow page
    "/articles/rel-nofollow-target.html",  # linked only with rel=nofollow
    "/articles/eyelid-surgery.html",  # only its ?view=amp variant is linked
}


class Crawled:
    """The outcome of one crawl: server, request logs, data dir, CLI result."""

    def __init__(self, root: Path, tmp: Path):
        self.external = SiteServer(root, log_path=tmp / "external.jsonl").start()
        ext_base = self.external.base.replace("127.0.0.1", "localhost")
        for page in root.rglob("*.html"):
            text = page.read_text(encoding="utf-8")
            if "{{EXTERNAL}}" in text:
                page.write_text(text.replace("{{EXTERNAL}}", ext_base), encoding="utf-8")
        self._add_gzip_bomb(root)
        self.server = SiteServer(root, log_path=tmp / "site.jsonl").start()
        self.data_dir = tmp / "data"
        self.result = run_aesthetics(
            "crawl", self.server.url("/"), "--delay", "0", "--depth", str(DEPTH), "--no-index",
            "--format", "json", data_dir=self.data_dir, timeout=120)

    @staticmethod
    def _add_gzip_bomb(root: Path) -> None:
        """11 MB of HTML that gzips to a few KB: only the size limit on the inflated body
        stops it (generated here rather than kept in the repository)."""
        (root / "bomb.html").write_text("<html><body>" + "<p>aaaa</p>" * 1_000_000
                                        + "</body></html>", encoding="utf-8")
        routes = json.loads((root / "_routes.json").read_text(encoding="utf-8"))
        routes["/bomb.html"] = {"gzip": True}
        (root / "_routes.json").write_text(json.dumps(routes), encoding="utf-8")
        index = root / "index.html"
        index.write_text(index.read_text(encoding="utf-8").replace(
            "</ul>", '<li><a href="/bomb.html">Compressed</a></li></ul>'), encoding="utf-8")

    def stop(self) -> None:
        self.server.stop()
        self.external.stop()

    def paths(self) -> list[str]:
        return [r["path"] for r in self.server.requests()]

    def stored(self) -> dict[str, object]:
        with Store.open(self.data_dir, create=False) as store:
            return {p.url.replace(self.server.base, ""): p
                    for p in store.iter_pages(with_html=True)}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("crawl")
    root = tmp / "site"
    shutil.copytree(SITE, root)
    result = Crawled(root, tmp)
    yield result
    result.stop()


def test_crawl_ends_by_itself_with_a_summary(crawled: Crawled) -> None:
    assert crawled.result.returncode == 0, crawled.result.stderr
    summary = json.loads(crawled.result.stdout)
    assert summary["outcome"] == "ok"
    assert summary["queued_left"] == 0  # every frontier URL ended done, skipped or failed
    assert summary["pages_stored"] >= len(ARTICLES) + len(OTHER_PAGES)
    with Store.open(crawled.data_dir, create=False) as store:
        run = store.runs(kind="crawl")[0]
        assert run.outcome == "ok" and run.finished
        assert run.counts["pages_stored"] == summary["pages_stored"]
        assert store.integrity_check() == "ok"
    log = (crawled.data_dir / "crawl.log").read_text(encoding="utf-8")
    assert "stored\t" + crawled.server.url("/articles/botox-basics.html") in log


def test_every_article_stored_once_under_its_canonical_url(crawled: Crawled) -> None:
    stored = crawled.stored()
    good = {path for path, page in stored.items() if page.status == 200 and not page.error}
    assert ARTICLES | OTHER_PAGES <= good
    extra = {p for p in good - ARTICLES - OTHER_PAGES if not p.startswith("/cal/")}
    assert extra == set()  # no tracking-param, fragment or session-id variants
    assert stored["/articles/eyelid-surgery.html"].final_url.endswith("?view=amp")
    assert stored["/articles/facelift-guide.html"].final_url.endswith("/articles/facelift-guide.html")
    paths = crawled.paths()
    for article in ARTICLES - {"/articles/eyelid-surgery.html", "/articles/flaky.html",
                               "/articles/sitemap-only.html"}:
        asked = [p for p in paths if p.split("?")[0].split("#")[0] == article]
        assert len(asked) == 1, (article, asked)


def test_nothing_disallowed_nofollow_external_or_binary_requested(crawled: Crawled) -> None:
    paths = {p.split("?")[0] for p in crawled.paths()}
    assert paths.isdisjoint(NEVER_REQUESTED - {"/articles/eyelid-surgery.html"})
    assert "/articles/eyelid-surgery.html" not in set(crawled.paths())
    assert crawled.external.requests() == []
    agents = {r["user_agent"] for r in crawled.server.requests()}
    assert len(agents) == 1 and next(iter(agents)).startswith("aesthetics-search/0.1 (+")


def test_noindex_pages_are_not_stored_but_their_links_are_followed(crawled: Crawled) -> None:
    stored = crawled.stored()
    assert "/articles/noindex.html" not in stored
    assert "/articles/header-noindex.html" not in stored
    assert "/articles/from-noindex.html" in stored


def test_retry_charset_gzip_and_slow_pages(crawled: Crawled) -> None:
    stored = crawled.stored()
    flaky = [r for r in crawled.server.requests() if r["path"] == "/articles/flaky.html"]
    assert [r["status"] for r in flaky] == [500, 200]
    assert flaky[1]["time"] - flaky[0]["time"] >= 0.9  # the retry waited (backoff 1 s)
    assert stored["/articles/flaky.html"].status == 200
    gbk = stored["/articles/gbk-article.html"]
    assert gbk.charset == "gb18030"
    assert "双眼皮手术后的恢复期" in gbk.html and "\ufffd" not in gbk.html
    assert "Capsular contracture" in stored["/articles/gzipped.html"].html
    assert "Laser hair removal" in stored["/articles/slow.html"].html


def test_errors_and_skips_are_recorded(crawled: Crawled) -> None:
    stored = crawled.stored()
    assert stored["/missing.html"].status == 404 and stored["/missing.html"].error == "HTTP 404"
    assert stored["/gone.html"].status == 410 and stored["/gone.html"].gone_count == 1
    assert "/big.html" not in stored and "/download/price-list" not in stored
    with Store.open(crawled.data_dir, create=False) as store:
        run = store.runs(kind="crawl")[0]
    errors = {e["url"].replace(crawled.server.base, ""): e["error"] for e in run.details["errors"]}
    assert "redirect loop" in errors["/loop-a"]
    assert errors["/big.html"].startswith("too big")
    assert errors["/bomb.html"] == "too big (after decompression)"
    assert "/bomb.html" not in stored
    reasons = run.details["skip_reasons"]
    assert reasons.get("disallowed by robots.txt") == 1
    assert reasons.get("not HTML") == 2  # the .pdf link and the PDF served without extension
    assert reasons.get("noindex") == 2
    # the redirect loop was cut at once, not after REDIRECT_MAX_TIMES hops
    assert [p for p in crawled.paths() if p.startswith("/loop-")] == ["/loop-a", "/loop-b"]


def test_the_calendar_trap_is_bounded_by_depth(crawled: Crawled) -> None:
    calendar = [p for p in crawled.paths() if p.startswith("/cal/")]
    # /cal/ at depth 1, then at most 3 new days per hop for the remaining hops
    assert 1 <= len(calendar) <= 1 + 3 + 9
    assert len(calendar) == len(set(calendar))


def test_sitemap_from_robots_txt_is_followed(crawled: Crawled) -> None:
    paths = crawled.paths()
    assert "/sitemap.xml" in paths
    assert "/articles/sitemap-only.html" in paths
