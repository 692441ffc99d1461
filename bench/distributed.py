"""Distributed crawl throughput: 1, 2, 3 workers on one Redis, and the speed-up over 1.

The site: 5,000 generated article pages (plus a sitemap listing them all) served by
``crawler.siteserver`` on 127.0.0.1, every article answered after a fixed server delay that
stands in for network latency. The model is the case distribution is for: a site that allows
more parallel requests (``--site-concurrency``, a per-site budget all workers share) than one
worker can keep in flight (``--worker-concurrency``, Scrapy's CONCURRENT_REQUESTS per worker).
One worker is then bound by its own concurrency; N workers by N times that, up to the site's
budget — and never beyond it, whatever N is.

Each configuration gets a fresh corpus and an emptied private redis-server. Throughput is
measured on the site server's request log (first to last article request), so process
start-up and the idle exit are not counted. The single-process crawl (``crawler.run.crawl``,
no Redis) with the same settings runs in the same session as a reference for Redis' cost.

    python -m bench.distributed [--pages 5000] [--delay 0.1] [--workers 1,2,3] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TEXT = ("<p>Swelling after rhinoplasty peaks around the third day and fades over the following "
        "weeks; bruising clears sooner. Warning signs include fever and spreading redness.</p>")


def make_site(root: Path, pages: int, delay: float) -> None:
    """Articles under /a/ (each linking to two neighbours), a sitemap of all of them, a
    robots.txt naming it, and the per-request delay on every article."""
    (root / "a").mkdir(parents=True)
    for i in range(pages):
        links = "".join(f'<a href="/a/{j}.html">article {j}</a> '
                        for j in ((i + 1) % pages, (i + 97) % pages))
        (root / "a" / f"{i}.html").write_text(
            f"<html><head><title>Article {i}</title></head><body><article><h1>Article {i}"
            f"</h1>{TEXT * 4}</article><nav>{links}</nav></body></html>", encoding="utf-8")
    entries = "".join(f"<url><loc>/a/{i}.html</loc></url>" for i in range(pages))
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><urlset '
        f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>')
    (root / "index.html").write_text('<html><body><a href="/a/0.html">start</a></body></html>')
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    (root / "_routes.json").write_text(json.dumps({"/a/": {"prefix": True, "delay": delay}}))


def _config_code(base_url: str, site_concurrency: int, worker_concurrency: int) -> str:
    return (
        "from crawler.run import CrawlConfig\n"
        "from crawler.sources import sources_from_urls\n"
        f"sources = sources_from_urls([{base_url + '/'!r}])\n"
        f"sources[0].sitemap_urls = [{base_url + '/sitemap.xml'!r}]\n"
        f"config = CrawlConfig(sources=sources, delay=0, concurrency={site_concurrency},"
        f" depth=3, log_level='ERROR', settings={{'CONCURRENT_REQUESTS': {worker_concurrency}}})\n")


def _env() -> dict:
    env = dict(os.environ)
    env.pop("AESTHETICS_DATA_DIR", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_distributed(base_url: str, redis_url: str, data_dir: Path, workers: int,
                    site_concurrency: int, worker_concurrency: int) -> list[int]:
    """Seeder + (workers - 1) `aesthetics worker`s; returns each one's pages fetched."""
    seed = (_config_code(base_url, site_concurrency, worker_concurrency)
            + "from pathlib import Path\nfrom crawler.distributed import seed_and_work\n"
            f"seed_and_work(config, Path({str(data_dir)!r}), {redis_url!r}, idle_exit=2)\n")
    procs = [subprocess.Popen([sys.executable, "-c", seed], env=_env(), text=True,
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)]
    for _ in range(workers - 1):
        procs.append(subprocess.Popen(
            [sys.executable, "-c", "from search_cli.main import main; main()", "worker",
             "--redis", redis_url, "--data-dir", str(data_dir), "--idle-exit", "2", "-q"],
            env=_env(), text=True, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL))
    counts = []
    for proc in procs:
        _out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"worker failed ({proc.returncode}): {err[-2000:]}")
        line = [x for x in err.splitlines() if x.startswith("worker ")][-1]
        counts.append(int(line.rsplit(": ", 1)[1].split()[0]))
    return counts


def run_single(base_url: str, data_dir: Path, site_concurrency: int,
               worker_concurrency: int) -> None:
    code = (_config_code(base_url, site_concurrency, worker_concurrency)
            + "from pathlib import Path\nfrom crawler.run import crawl\n"
            f"crawl(config, Path({str(data_dir)!r}))\n")
    subprocess.run([sys.executable, "-c", code], env=_env(), check=True)


def article_rate(requests: list[dict], since: float) -> tuple[int, float]:
    """Articles requested after ``since`` and their rate (first to last request)."""
    times = sorted(r["time"] for r in requests
                   if r["time"] >= since and r["path"].startswith("/a/"))
    if len(times) < 2:
        return len(times), 0.0
    return len(times), (len(times) - 1) / (times[-1] - times[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--delay", type=float, default=0.1, help="server delay per article (s)")
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--site-concurrency", type=int, default=24)
    parser.add_argument("--worker-concurrency", type=int, default=8)
    parser.add_argument("--no-single", action="store_true",
                        help="skip the single-process reference crawl")
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    args = parser.parse_args(argv)
    from crawler.siteserver import SiteServer
    from tests.redis_server import RedisServer

    counts = [int(n) for n in args.workers.split(",")]
    rows: list[tuple[str, int, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        root = Path(tmp)
        make_site(root / "site", args.pages, args.delay)
        with SiteServer(root / "site", log_path=root / "requests.jsonl") as site, \
                RedisServer(root / "redis") as redis_server:
            import redis

            client = redis.Redis.from_url(redis_server.url)
            if not args.no_single:
                since = time.time()
                run_single(site.base, root / "single", args.site_concurrency,
                           args.worker_concurrency)
                n, rate = article_rate(site.requests(), since)
                rows.append(("single process, no Redis", n, rate, "-"))
                print(f"single process: {n} articles, {rate:.1f} pages/s", flush=True)
            for workers in counts:
                client.flushdb()
                since = time.time()
                shares = run_distributed(site.base, redis_server.url, root / f"w{workers}",
                                         workers, args.site_concurrency,
                                         args.worker_concurrency)
                n, rate = article_rate(site.requests(), since)
                rows.append((f"{workers} worker{'s' if workers > 1 else ''}", n, rate,
                             "/".join(str(c) for c in shares)))
                print(f"{workers} worker(s): {n} articles, {rate:.1f} pages/s, "
                      f"pages per worker {shares}", flush=True)
    base = next((rate for label, _n, rate, _s in rows if label == "1 worker"), None)
    lines = ["| crawl | articles | pages/s | speed-up vs 1 worker | pages per worker |",
             "|---|---|---|---|---|"]
    for label, n, rate, shares in rows:
        speedup = f"{rate / base:.2f}x" if base else "-"
        lines.append(f"| {label} | {n} | {rate:.1f} | {speedup} | {shares} |")
    table = "\n".join(lines)
    print(table)
    if not args.no_record:
        from bench.results import record

        note = (f"{args.pages} articles, server delay {args.delay} s per article, per-site "
                f"budget {args.site_concurrency} parallel requests shared by all workers, "
                f"{args.worker_concurrency} per worker (CONCURRENT_REQUESTS); pages/s from "
                "the site's request log (first to last article).")
        record("Distributed crawl (Redis workers)", note + "\n\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
