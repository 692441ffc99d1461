"""Crawl throughput: our crawler vs a bare Scrapy spider on the same local site, same run.

The site (2,000+ generated article pages plus listings) is served by ``crawler.siteserver``
on 127.0.0.1. Both crawlers get the same Scrapy settings that matter for speed (no delay, no
AutoThrottle, the same per-site concurrency, robots.txt obeyed, FIFO scheduling); the bare
spider only follows links and keeps nothing, ours canonicalises, checks scope and traps,
keeps the frontier in SQLite and stores every page. Each crawl runs in its own process
(Twisted's reactor runs once per process); rounds alternate to share any warm-up effects.
The result is the ratio ours / bare in pages per second; the target is ≥ 0.9.

    python -m bench.crawl [--pages 2000] [--concurrency 4] [--rounds 2] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

PARAGRAPHS = [
    "Swelling after surgery peaks around the third day and fades over the following weeks.",
    "Patients are asked to sleep with the head raised and to avoid heavy lifting for a month.",
    "Bruising usually clears within two weeks; numbness can take several months to recover.",
    "Warning signs include fever, spreading redness and pain that keeps getting worse.",
]


def make_site(root: Path, pages: int, per_listing: int = 100) -> int:
    """Write ``pages`` articles and their listings; returns the number of HTML pages."""
    (root / "a").mkdir(parents=True)
    (root / "list").mkdir()
    listings = (pages + per_listing - 1) // per_listing
    for i in range(pages):
        related = "".join(f'<a href="/a/{(i * 7 + k) % pages}.html">related {k}</a> '
                          for k in (1, 2, 3))
        body = "".join(f"<p>{PARAGRAPHS[(i + k) % 4]} Note {i}.</p>" for k in range(4))
        (root / "a" / f"{i}.html").write_text(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Article {i}</title></head>"
            f"<body><nav><a href='/'>home</a> <a href='/list/{i // per_listing}.html'>list</a>"
            f"</nav><article><h1>Article {i}</h1>{body}</article>{related}</body></html>",
            encoding="utf-8")
    for n in range(listings):
        items = "".join(f'<li><a href="/a/{i}.html">Article {i}</a></li>'
                        for i in range(n * per_listing, min(pages, (n + 1) * per_listing)))
        nxt = f'<a href="/list/{n + 1}.html">next</a>' if n + 1 < listings else ""
        (root / "list" / f"{n}.html").write_text(
            f"<html><head><title>List {n}</title></head><body><ul>{items}</ul>{nxt}</body></html>",
            encoding="utf-8")
    (root / "index.html").write_text(
        "<html><body>" + "".join(f'<a href="/list/{n}.html">page {n}</a> '
                                 for n in range(listings)) + "</body></html>", encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    return pages + listings + 1


# The bare reference: follow every same-host link, keep nothing.
BARE = r"""
import json, sys, time
import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.linkextractors import LinkExtractor

base, concurrency = sys.argv[1], int(sys.argv[2])
count = {"pages": 0}

class Bare(scrapy.Spider):
    name = "bare"
    start_urls = [base + "/"]
    links = LinkExtractor()  # allow_domains does not match IP hosts: filter by prefix

    def parse(self, response):
        count["pages"] += 1
        for link in self.links.extract_links(response):
            if link.url.startswith(base + "/"):
                yield response.follow(link.url, self.parse)

settings = json.loads(sys.argv[3])
process = CrawlerProcess(settings)
process.crawl(Bare)
t0 = time.perf_counter()
process.start()
print(json.dumps({"pages": count["pages"], "seconds": time.perf_counter() - t0}))
"""

OURS = r"""
import json, sys, time
from pathlib import Path
from crawler.run import CrawlConfig, crawl
from crawler.sources import sources_from_urls

base, concurrency, data_dir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
config = CrawlConfig(sources=sources_from_urls([base + "/"]), delay=0, depth=50,
                     concurrency=concurrency, resume=False)
t0 = time.perf_counter()
report = crawl(config, data_dir)
print(json.dumps({"pages": report.pages_fetched, "stored": report.pages_stored,
                  "seconds": time.perf_counter() - t0}))
"""


def shared_settings(concurrency: int) -> dict:
    """The speed-relevant settings both crawlers run with."""
    from crawler import settings as ours

    return {
        "USER_AGENT": ours.USER_AGENT, "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "COOKIES_ENABLED": False,
        "SCHEDULER_DISK_QUEUE": ours.SCHEDULER_DISK_QUEUE,
        "SCHEDULER_MEMORY_QUEUE": ours.SCHEDULER_MEMORY_QUEUE,
        "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False,
        "CONCURRENT_ITEMS": ours.CONCURRENT_ITEMS,
        "WARN_ON_GENERATOR_RETURN_VALUE": ours.WARN_ON_GENERATOR_RETURN_VALUE,
        "LOG_LEVEL": "ERROR", "DEPTH_LIMIT": 0,
    }


def _run(code: str, *args: str) -> dict:
    """Run ``code`` as a script file (Scrapy inspects callbacks' source: ``-c`` has none)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(code)
    try:
        done = subprocess.run([sys.executable, fh.name, *args], capture_output=True, text=True,
                              env=env, timeout=1800)
    finally:
        os.unlink(fh.name)
    if done.returncode != 0:
        raise SystemExit(f"benchmark crawl failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="generated articles")
    parser.add_argument("--concurrency", type=int, default=4, help="requests per site")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; best kept")
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    parser.add_argument("--note", default="", help="a remark recorded with the result")
    args = parser.parse_args(argv)

    from crawler.siteserver import SiteServer

    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        tmp_path = Path(tmp)
        total = make_site(tmp_path / "site", args.pages)
        best = {"bare": 0.0, "ours": 0.0}
        pages = {"bare": 0, "ours": 0}
        with SiteServer(tmp_path / "site") as server:
            for round_no in range(args.rounds):
                bare = _run(BARE, server.base, str(args.concurrency),
                            json.dumps(shared_settings(args.concurrency)))
                ours = _run(OURS, server.base, str(args.concurrency),
                            str(tmp_path / f"data-{round_no}"))
                for name, result in (("bare", bare), ("ours", ours)):
                    rate = result["pages"] / result["seconds"]
                    print(f"round {round_no + 1}: {name:4s} {result['pages']} pages in "
                          f"{result['seconds']:.2f}s = {rate:.1f} pages/s", file=sys.stderr)
                    best[name] = max(best[name], rate)
                    pages[name] = result["pages"]
        ratio = best["ours"] / best["bare"] if best["bare"] else 0.0
    print(f"site: {total} HTML pages; concurrency {args.concurrency}; best of {args.rounds}")
    print(f"bare scrapy: {best['bare']:.1f} pages/s ({pages['bare']} pages)")
    print(f"ours:        {best['ours']:.1f} pages/s ({pages['ours']} pages)")
    print(f"ratio ours/bare: {ratio:.2f} (target >= 0.9)")
    if not args.no_record:
        record(args, total, best, pages, ratio)


def record(args: argparse.Namespace, total: int, best: dict, pages: dict, ratio: float) -> None:
    """Append this run under a dated heading; other benchmarks add their own sections."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = (f"python -m bench.crawl --pages {args.pages} --concurrency {args.concurrency} "
               f"--rounds {args.rounds}")
    lines = [
        f"\n## Crawl throughput — {stamp}\n",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; local site of {total} HTML pages on 127.0.0.1.\n",
        "| crawler | pages | pages/s |",
        "|---|---:|---:|",
        f"| bare Scrapy spider | {pages['bare']} | {best['bare']:.1f} |",
        f"| aesthetics crawl (frontier, store, canonicalisation) | {pages['ours']} | "
        f"{best['ours']:.1f} |",
        f"\nRatio ours/bare: **{ratio:.2f}** (target ≥ 0.9).\n",
    ]
    if args.note:
        lines.append(args.note + "\n")
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n", encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
