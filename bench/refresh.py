"""Refresh of an unchanged site vs its first full crawl, measured in the same run.

A generated local site (default 1,000 articles behind paginated listings, a feed and a
sitemap) is served by the real site server; then, each as a real `aesthetics` subprocess:

1. ``crawl``   — the first full crawl: every page downloaded, cleaned, annotated, indexed;
2. ``refresh`` — nothing changed: every known page asked with If-None-Match and answered 304;
3. ``refresh`` with sitemap ``lastmod`` dates older than the crawl — pages the sitemap vouches
   for are not requested at all (only listings, feed and sitemap are).

Reported: wall time, requests the server saw, and the speed-up of each refresh over the
crawl (goal: at least 5x). The ratio is what counts; absolute seconds on a shared machine
are noise.

Usage:  python bench/refresh.py [--pages N] [--concurrency N] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import record  # noqa: E402
from crawler.siteserver import SiteServer  # noqa: E402

GOAL = 5.0
PER_LISTING = 50
ENTRY = "from search_cli.main import main; main()"

PROCEDURES = ["rhinoplasty", "blepharoplasty", "liposuction", "facelift", "breast augmentation",
              "abdominoplasty", "botulinum toxin injections", "dermal fillers", "chemical peels",
              "laser resurfacing", "hair transplants", "otoplasty", "thread lifts"]
RISKS = ["swelling", "bruising", "infection", "scarring", "numbness", "asymmetry",
         "hematoma", "seroma", "skin necrosis", "nerve injury", "ptosis", "hyperpigmentation"]
OPENERS = ["Patients often ask about", "Surgeons describe", "A common worry after",
           "Clinics report that", "Recovery from", "Long-term results of"]
MIDDLES = ["usually settles within weeks", "depends on skin type and age",
           "is lower with an experienced surgeon", "needs careful follow-up visits",
           "is explained during the consultation", "varies from one clinic to another"]


def article(i: int, rng: random.Random) -> str:
    proc = rng.choice(PROCEDURES)
    sentences = []
    for _ in range(14):
        sentences.append(f"{rng.choice(OPENERS)} {proc}: the risk of {rng.choice(RISKS)} "
                         f"{rng.choice(MIDDLES)}, note {i}-{rng.randrange(10_000)}.")
    paragraphs = "\n".join(f"<p>{' '.join(sentences[k:k + 4])}</p>" for k in range(0, 14, 4))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Notes on {proc} number {i}</title>"
            f'<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>'
            f'<body><nav><a href="/">Home</a></nav><article><h1>Notes on {proc} number {i}</h1>'
            f"<p class=\"byline\">By Bench Writer, 2026-01-{1 + i % 28:02d}</p>{paragraphs}"
            f"</article><aside>Advert {rng.randrange(100)}</aside></body></html>")


def build_site(root: Path, pages: int, lastmod: str | None = None) -> None:
    rng = random.Random(7)
    (root / "a").mkdir(parents=True)
    for i in range(pages):
        (root / "a" / f"{i:05d}.html").write_text(article(i, rng), encoding="utf-8")
    listings = (pages + PER_LISTING - 1) // PER_LISTING
    for n in range(listings):
        links = "".join(f'<li><a href="/a/{i:05d}.html">Article {i}</a></li>'
                        for i in range(n * PER_LISTING, min(pages, (n + 1) * PER_LISTING)))
        nav = "".join(f'<a href="/list/{k}.html">page {k}</a> ' for k in range(listings))
        (root / "list").mkdir(exist_ok=True)
        (root / "list" / f"{n}.html").write_text(
            f"<html><head><title>Listing {n}</title></head><body><ul>{links}</ul>{nav}"
            f"</body></html>", encoding="utf-8")
    (root / "index.html").write_text(
        '<html><head><title>Bench site</title><link rel="alternate" '
        'type="application/rss+xml" href="/feed.xml"></head><body>'
        + "".join(f'<a href="/list/{k}.html">page {k}</a> ' for k in range(listings))
        + "</body></html>", encoding="utf-8")
    items = "".join(f"<item><link>/a/{i:05d}.html</link></item>"
                    for i in range(max(0, pages - 20), pages))
    (root / "feed.xml").write_text(f'<rss version="2.0"><channel>{items}</channel></rss>',
                                   encoding="utf-8")
    write_sitemap(root, pages, lastmod)


def write_sitemap(root: Path, pages: int, lastmod: str | None) -> None:
    stamp = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    urls = "".join(f"<url><loc>/a/{i:05d}.html</loc>{stamp}</url>" for i in range(pages))
    (root / "sitemap.xml").write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + urls + "</urlset>",
        encoding="utf-8")


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], data_dir: Path) -> tuple[float, float, dict]:
    """Wall and CPU seconds of one `aesthetics` subprocess (the site server, still running,
    is not in the CPU figure: a child's CPU is counted when it is reaped)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("AESTHETICS_DATA_DIR", None)
    cmd = [sys.executable, "-c", ENTRY, "--data-dir", str(data_dir), *args, "--format", "json",
           "-q"]
    cpu = _child_cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, _child_cpu() - cpu, json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    # The site server answers keep-alive requests in ~45 ms (Nagle + delayed ACK), so at low
    # concurrency every run just waits on it; 16 makes the crawler's own cost visible.
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    polite = ["--delay", "0", "--concurrency", str(args.concurrency)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        root, data_dir = Path(tmp) / "site", Path(tmp) / "data"
        build_site(root, args.pages)
        log = Path(tmp) / "requests.jsonl"
        with SiteServer(root, log_path=log) as server:
            def requests() -> int:
                return len(server.requests())

            mark = requests()
            crawl_s, crawl_cpu, crawl = run(["crawl", server.url("/"), *polite], data_dir)
            rows.append(("first crawl", crawl_s, crawl_cpu, requests() - mark,
                         f"{crawl['articles']} articles"))

            mark = requests()
            cond_s, cond_cpu, cond = run(["refresh", *polite], data_dir)
            rows.append(("refresh, conditional GET", cond_s, cond_cpu, requests() - mark,
                         f"{cond['not_modified']} not modified, {cond['unchanged']} unchanged"))

            write_sitemap(root, args.pages, "2001-01-01")  # older than anything we hold
            mark = requests()
            lm_s, lm_cpu, lm = run(["refresh", *polite], data_dir)
            rows.append(("refresh, sitemap lastmod", lm_s, lm_cpu, requests() - mark,
                         f"{lm['skipped']} not requested, {lm['unchanged']} unchanged"))
        for report in (cond, lm):
            if report["new"] or report["changed"] or report["deleted"] or report["errors"]:
                raise SystemExit(f"an unchanged site reported changes: {report}")
    table = ["| run | wall s | CPU s | requests | result | wall speed-up | CPU speed-up |",
             "|---|---|---|---|---|---|---|"]
    table += [f"| {name} | {secs:.1f} | {cpu:.1f} | {n} | {what} | {crawl_s / secs:.1f}x | "
              f"{crawl_cpu / cpu:.1f}x |" for name, secs, cpu, n, what in rows]
    verdicts = [f"{name}: {'meets' if crawl_s / secs >= GOAL else 'misses'} it on wall time"
                for name, secs, _cpu, _n, _what in rows[1:]]
    body = (f"{args.pages} articles + {(args.pages + PER_LISTING - 1) // PER_LISTING} listings, "
            f"local site server, --delay 0 --concurrency {args.concurrency}; every run is a "
            f"real `aesthetics` subprocess including its index update. Load average at the "
            f"end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time is shared).\n\n"
            + "\n".join(table)
            + f"\n\nGoal: an unchanged site refreshed at least {GOAL:.0f}x faster than its first "
              "crawl. " + "; ".join(verdicts) + ".")
    print(body)
    if not args.no_record:
        record("Refresh vs first crawl", body,
               command=f"python bench/refresh.py --pages {args.pages} "
                       f"--concurrency {args.concurrency}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
