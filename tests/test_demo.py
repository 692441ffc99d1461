"""The bundled demo site and `aesthetics demo`.

The site tests read the package data and serve it over real HTTP. The end-to-end tests run
the real console entry point in a subprocess (Scrapy's reactor cannot restart in-process).

Facts of the sample site these tests rely on (see search_cli/demo_site/_README.md):
- /encyclopedia/hyaluronic-acid-fillers.html says blindness is the rarest filler complication;
- /encyclopedia/breast-augmentation.html names capsular contracture as the commonest
  long-term complication of implants.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from corpus import Store
from search_cli.commands.demo import (
    DEFAULT_QUERY,
    DEMO_SITE,
    PLACEHOLDER_HOST,
    bind_host,
    copy_demo_site,
    serve_demo_site,
)
from tests.conftest import run_aesthetics

# Every article of the sample site, by path: 12 news, 12 encyclopedia, 2 Chinese.
ARTICLES = sorted(
    [f"/news/{s}.html" for s in (
        "microneedling-vs-micro-plastic-surgery", "filler-emergencies-hyaluronidase",
        "nose-job-recovery", "double-eyelid-surgery", "thread-lift", "ipl-photorejuvenation",
        "hair-transplant-fue", "fat-grafting", "radiofrequency-skin-tightening",
        "anesthesia-risks-cosmetic-surgery", "cosmetic-surgery-abroad-infection",
        "lip-fillers-lumps")]
    + [f"/encyclopedia/{s}.html" for s in (
        "botulinum-toxin", "hyaluronic-acid-fillers", "rhinoplasty", "blepharoplasty",
        "micro-needling", "laser-pigment-removal", "chemical-peel", "liposuction",
        "abdominoplasty", "breast-augmentation", "microdermabrasion",
        "scars-after-cosmetic-surgery")]
    + ["/zh/boniaosuan-zhushe-fengxian.html", "/zh/shuangyanpi-huifu.html"])
NOT_ARTICLES = ["/", "/news/", "/news/page/2.html", "/encyclopedia/", "/encyclopedia/page/2.html",
                "/zh/", "/tags/risks.html", "/contact.html", "/about.html", "/privacy.html"]
DUPLICATES = ["/print/hyaluronic-acid-fillers.html", "/partners/thread-lift.html",
              "/encyclopedia/liposuction-2.html"]


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback only
        return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode("utf-8",
                                                                                     "replace")


def _words(html: str) -> int:
    body = re.search(r'<div class="(?:content|entry-content)">(.*?)</div>', html, re.S)
    assert body, "article body not found"
    text = re.sub(r"<[^>]+>", " ", body.group(1))
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    return len(text.split()) if cjk < 100 else round(cjk / 1.6)  # ~1.6 characters a word


# ---------------------------------------------------------------------------- the site itself
def test_site_has_the_promised_articles() -> None:
    for path in ARTICLES + DUPLICATES:
        assert (DEMO_SITE / path.lstrip("/")).is_file(), path
    for path in ARTICLES:
        html = (DEMO_SITE / path.lstrip("/")).read_text(encoding="utf-8")
        if path != "/encyclopedia/liposuction.html":  # its second half is on page 2
            assert 250 <= _words(html) <= 600, path
        assert '<meta name="author"' in html and 'rel="canonical"' in html
        assert ('lang="zh-CN"' in html) == path.startswith("/zh/")
    zh = (DEMO_SITE / "zh/boniaosuan-zhushe-fengxian.html").read_text(encoding="utf-8")
    assert "2024年3月5日" in zh


def test_site_pages_are_shaped_like_the_seed() -> None:
    html = (DEMO_SITE / "news/microneedling-vs-micro-plastic-surgery.html").read_text("utf-8")
    assert re.search(r"Current location - <a [^>]+>Lumen Aesthetics Review</a> - <a [^>]+>"
                     r"Plastic surgery and medical aesthetics</a> - Micro-needling", html)
    for part in ("Hot topics", "Related procedures", "cookie-banner", 'class="comments"',
                 'class="consult"', 'class="share"', "<footer"):
        assert part in html
    fillers = (DEMO_SITE / "encyclopedia/hyaluronic-acid-fillers.html").read_text("utf-8")
    assert "Blindness is the rarest and most feared complication of filler" in fillers
    breast = (DEMO_SITE / "encyclopedia/breast-augmentation.html").read_text("utf-8")
    assert "Capsular contracture is the most common long-term complication" in breast


def test_bind_host_rewrites_every_absolute_url(tmp_path: Path) -> None:
    root = copy_demo_site(tmp_path / "site")
    assert not (root / "_README.md").exists()
    changed = bind_host(root, "http://127.0.0.1:8123/")
    assert changed >= len(ARTICLES) + 2  # articles, sitemap, robots.txt
    for path in root.rglob("*"):
        if path.suffix in (".html", ".xml", ".txt"):
            assert PLACEHOLDER_HOST not in path.read_text(encoding="utf-8"), path
    sitemap = (root / "sitemap.xml").read_text(encoding="utf-8")
    locs = re.findall(r"<loc>(.*?)</loc>", sitemap)
    assert sorted(loc.removeprefix("http://127.0.0.1:8123") for loc in locs) == sorted(
        ["/"] + ARTICLES)
    assert (DEMO_SITE / "sitemap.xml").read_text("utf-8").count(PLACEHOLDER_HOST) == len(locs)


def test_served_site_has_real_host_robots_and_traps(tmp_path: Path) -> None:
    with serve_demo_site(tmp_path, log_path=tmp_path / "requests.jsonl") as server:
        status, _, robots = _get(server.url("/robots.txt"))
        assert status == 200
        assert f"Sitemap: {server.base}/sitemap.xml" in robots
        assert "Disallow: /admin/" in robots and "Disallow: /search" in robots
        _, ctype, page = _get(server.url("/news/thread-lift.html?utm_source=home"))
        assert ctype.startswith("text/html")
        assert f'<link rel="canonical" href="{server.base}/news/thread-lift.html">' in page
        _, _, printed = _get(server.url("/print/hyaluronic-acid-fillers.html"))
        assert f'rel="canonical" href="{server.base}/encyclopedia/hyaluronic-acid-fillers.html"' \
            in printed
        _, _, day = _get(server.url("/events/2024/9"))
        assert "/events/2024/10" in day  # the endless calendar
        _, ctype, _ = _get(server.url("/downloads/aftercare-guide.pdf"))
        assert ctype == "application/pdf"
        _, _, home = _get(server.url("/"))
        for trap in ("utm_source=", "mailto:", "tel:", "http://example.invalid/", ".pdf",
                     "/events/", "/search?q=", "/partners/"):
            assert trap in home, trap
        assert [r["path"] for r in server.requests()][0] == "/robots.txt"


def test_demo_help_has_an_example() -> None:
    result = run_aesthetics("demo", "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout and "--data-dir" in result.stdout


# ---------------------------------------------------------------------------- end to end
def _paths(urls: list[str]) -> list[str]:
    return sorted(re.sub(r"^http://127\.0\.0\.1:\d+", "", u) for u in urls)


@pytest.mark.slow
def test_demo_with_data_dir_keeps_exactly_the_articles(data_dir: Path) -> None:
    result = run_aesthetics("demo", "--format", "json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]  # stdout is the result alone
    assert hits and hits[0]["url"].endswith("/encyclopedia/hyaluronic-acid-fillers.html")
    assert "blindness" in hits[0]["risks"]
    assert "demo: serving the sample site at http://127.0.0.1:" in result.stderr
    assert "disallowed by robots.txt" in result.stderr

    with Store.open(data_dir, create=False) as store:
        docs = {d.url: d for d in store.iter_documents()}
        pages = _paths([p.url for p in store.iter_pages()])
    paths = _paths(list(docs))
    # every article once: no listing/tag/contact page, no calendar day, no ?utm_ copy, no
    # printer-friendly copy, page 2 of liposuction folded into page 1; the syndicated copy
    # is kept as its own document but grouped with the original as a near-duplicate
    assert paths == sorted(ARTICLES + ["/partners/thread-lift.html"])
    by_path = {_paths([url])[0]: doc for url, doc in docs.items()}
    original, copy = by_path["/news/thread-lift.html"], by_path["/partners/thread-lift.html"]
    assert copy.dup_group and copy.dup_group == original.dup_group
    lipo = by_path["/encyclopedia/liposuction.html"]
    assert "tumescent technique" in lipo.text and "outpatient setting" in lipo.text
    assert "capsular-contracture" in by_path["/encyclopedia/breast-augmentation.html"].risks
    assert {d.language for d in docs.values()} == {"en", "zh"}
    assert not any(p.startswith(("/admin", "/search")) or "utm_" in p for p in pages)
    assert sum(p.startswith("/events/") for p in pages) < 100  # the trap was cut off


@pytest.mark.slow
def test_demo_default_run_prints_a_hit_and_leaves_nothing_behind(tmp_path: Path) -> None:
    scratch, user_data = tmp_path / "tmp", tmp_path / "user-data"
    scratch.mkdir()
    result = run_aesthetics("demo", env={"TMPDIR": str(scratch),
                                         "AESTHETICS_DATA_DIR": str(user_data)})
    assert result.returncode == 0, result.stderr
    assert f"for {DEFAULT_QUERY!r}" in result.stdout
    assert "Hyaluronic acid fillers: uses, results and risks" in result.stdout
    assert "demo:" not in result.stdout  # progress stays on stderr
    assert not user_data.exists()  # a demo never writes into the user's corpus
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
def test_demo_keep_leaves_the_data_dir_and_says_where(tmp_path: Path) -> None:
    result = run_aesthetics("demo", "nose job swelling", "--keep", "--format", "urls",
                            env={"TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "/news/nose-job-recovery.html" in result.stdout
    kept = re.search(r"kept the data dir (\S+)", result.stderr)
    assert kept and (Path(kept.group(1)) / "corpus.sqlite3").is_file()
    assert not (Path(kept.group(1)).parent / "site").exists()
