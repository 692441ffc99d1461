"""robots.txt ``Crawl-delay`` paces requests to its site, with or without AutoThrottle.

The gaps are read from the site server's own request log (the time each request was
answered), so they measure what the site saw, not how long the crawl took.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.middlewares import crawl_delay_floor
from tests.conftest import run_aesthetics

PAGES = 3
TOLERANCE = 0.1  # seconds: the server stamps answers, not arrivals


def _make_site(root: Path, robots: str) -> None:
    (root / "p").mkdir(parents=True)
    for i in range(PAGES):
        (root / "p" / f"{i}.html").write_text(
            f"<html><head><title>Page {i}</title></head><body><article><h1>Page {i}</h1>"
            f"<p>Bruising after a brow lift fades within two weeks (page {i}).</p></article>"
            "</body></html>", encoding="utf-8")
    (root / "index.html").write_text(
        "<html><head><title>home</title></head><body>"
        + "".join(f'<a href="/p/{i}.html">page {i}</a> ' for i in range(PAGES))
        + "</body></html>", encoding="utf-8")
    (root / "robots.txt").write_text(robots, encoding="utf-8")


@pytest.mark.parametrize("delay", ["0", "0.1"], ids=["no-autothrottle", "autothrottle"])
def test_crawl_delay_spaces_requests(tmp_path: Path, site_server, delay: str) -> None:
    """``--delay 0`` asks for no delay at all; ``--delay 0.1`` turns AutoThrottle on, which
    lowers the delay towards the (tiny) local latency after every response. Either way the
    site's Crawl-delay of 1 s is the shortest gap it sees."""
    _make_site(tmp_path / "site", "User-agent: *\nCrawl-delay: 1\nDisallow: /private/\n")
    server = site_server(tmp_path / "site")
    data_dir = tmp_path / "data"
    done = run_aesthetics("crawl", server.url("/"), "--delay", delay, "--no-index", "-v",
                          "--format", "json", data_dir=data_dir, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pages_stored"] == PAGES + 1
    netloc = server.url("/").split("/")[2]
    assert f"robots.txt of {netloc} asks for Crawl-delay 1.0 s; honoured" in done.stderr

    requests = sorted(server.requests(), key=lambda r: r["time"])
    assert len(requests) >= PAGES + 2  # robots.txt, home and the pages (and maybe a sitemap)
    # Until robots.txt is read its Crawl-delay is unknown, so the gap before that one request
    # is not checked; every request after it keeps the gap.
    gaps = [b["time"] - a["time"] for a, b in zip(requests, requests[1:], strict=False)
            if b["path"] != "/robots.txt"]
    assert len(gaps) >= PAGES + 1
    assert min(gaps) >= 1.0 - TOLERANCE, gaps
    log = (data_dir / "crawl.log").read_text(encoding="utf-8")
    assert f"crawl-delay\thttp://{netloc}/robots.txt\t1 s" in log


def test_no_crawl_delay_means_no_pause(tmp_path: Path, site_server) -> None:
    _make_site(tmp_path / "site", "User-agent: *\nDisallow: /private/\n")
    server = site_server(tmp_path / "site")
    done = run_aesthetics("crawl", server.url("/"), "--delay", "0", "--no-index", "-v",
                          data_dir=tmp_path / "data", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Crawl-delay" not in done.stderr
    times = sorted(r["time"] for r in server.requests())
    assert len(times) >= PAGES + 2
    # the same site without Crawl-delay: nothing holds the requests 1 s apart
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) < 1.0 - TOLERANCE


@pytest.mark.parametrize(("asked", "expected"), [
    (None, (0.0, False)), (0, (0.0, False)), (-3, (0.0, False)), (float("nan"), (0.0, False)),
    ("soon", (0.0, False)), (0.5, (0.5, False)), (60, (60.0, False)),
    (86400, (60.0, True)),
])
def test_crawl_delay_floor_caps_absurd_values(asked, expected) -> None:
    assert crawl_delay_floor(asked, 60.0) == expected
