"""What the distributed-crawl tests share: the test site, worker/seeder processes, and
readers of what they stored and requested. Processes started here are recorded in
``SPAWNED``; the ``no_stray_processes`` fixture (tests/conftest.py) kills leftovers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from corpus import Store
from tests.conftest import AESTHETICS, child_env, run_aesthetics

PAGES = 36
SPAWNED: list[subprocess.Popen] = []  # killed after each test if still running


ALL_PATHS = {"/", *(f"/articles/a{i}.html" for i in range(PAGES))}


def make_site(root: Path, pages: int = PAGES, delay: float = 0.0) -> Path:
    """Articles that link to each other (a chain plus jumps) under /articles/, a robots.txt,
    and an optional per-request delay on every article (the server sleeps, like a far site)."""
    (root / "articles").mkdir(parents=True)
    for i in range(pages):
        links = "".join(f'<li><a href="/articles/a{j}.html">Article {j}</a></li>'
                        for j in ((i + 1) % pages, (i + 2) % pages, (i * 7 + 3) % pages))
        text = (f"<p>Notes on rhinoplasty recovery, part {i}. Swelling after the operation "
                "usually settles within weeks; bruising fades sooner.</p>") * 6
        (root / "articles" / f"a{i}.html").write_text(
            f"<html><head><title>Recovery notes {i}</title></head><body><article>"
            f"<h1>Recovery notes {i}</h1>{text}</article><ul>{links}</ul></body></html>",
            encoding="utf-8")
    (root / "index.html").write_text(
        '<html><body><a href="/articles/a0.html">Start reading</a></body></html>')
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    if delay:
        (root / "_routes.json").write_text(json.dumps(
            {"/articles/": {"prefix": True, "delay": delay}}))
    return root


def start_seeder(start_url: str, data_dir: Path, redis_url: str, *, idle_exit: float = 2,
                 delay: float = 0, concurrency: int = 2,
                 max_pages: int | None = None) -> subprocess.Popen:
    """What `aesthetics crawl URL --redis URL` runs: seed the shared queue, then work."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from corpus.errors import AestheticsError\n"
        "from crawler.distributed import seed_and_work\n"
        "from crawler.run import CrawlConfig\n"
        "from crawler.sources import sources_from_urls\n"
        "from corpus import Store\n"
        "from indexer.process import PageProcessor\n"
        f"data_dir = Path({str(data_dir)!r})\n"
        "processor = PageProcessor(Store.open(data_dir), data_dir)\n"
        f"config = CrawlConfig(sources=sources_from_urls([{start_url!r}]), delay={delay!r}, "
        f"concurrency={concurrency!r}, max_pages={max_pages!r})\n"
        "try:\n"
        f"    report = seed_and_work(config, data_dir, {redis_url!r}, idle_exit={idle_exit!r}, "
        "on_page=processor.process)\n"
        "except AestheticsError as exc:\n"
        "    print(f'Error: {exc}', file=sys.stderr)\n"
        "    sys.exit(exc.exit_code)\n"
        "print(report.pages_fetched)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=child_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    SPAWNED.append(proc)
    return proc


def start_worker(data_dir: Path, redis_url: str, *, idle_exit: float | None = 2
                 ) -> subprocess.Popen:
    args = [*AESTHETICS, "worker",
            "--redis", redis_url, "--data-dir", str(data_dir), "--format", "json"]
    if idle_exit is not None:
        args += ["--idle-exit", str(idle_exit)]
    proc = subprocess.Popen(args, env=child_env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    SPAWNED.append(proc)
    return proc


def start_crawl(start_url: str, data_dir: Path, redis_url: str) -> subprocess.Popen:
    """The real `aesthetics crawl URL --redis URL` (seed, then work until the queue is dry)."""
    args = [*AESTHETICS, "--data-dir", str(data_dir), "crawl", start_url, "--redis", redis_url,
            "--delay", "0", "--idle-exit", "2", "--no-index", "-q", "--format", "json"]
    proc = subprocess.Popen(args, env=child_env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    SPAWNED.append(proc)
    return proc


def finish(procs: list[subprocess.Popen], timeout: float = 90) -> list[tuple[int, str, str]]:
    results = []
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for each in procs:  # leave no stray worker behind
                each.kill()
            out, err = proc.communicate()
            pytest.fail(f"process {proc.args[:3]} did not exit in time: {err[-2000:]}")
        results.append((proc.returncode, out, err))
    return results


def corpus_pages(data_dir: Path) -> dict[str, str | None]:
    """Stored pages as {path: content hash} (each test's server has its own port)."""
    with Store.open(data_dir, create=False) as store:
        return {urlsplit(p.url).path: p.content_hash for p in store.iter_pages()}


def corpus_documents(data_dir: Path) -> dict[str, str]:
    """Cleaned documents as {path: hash of the cleaned text}."""
    with Store.open(data_dir, create=False) as store:
        return {urlsplit(d.url).path: d.content_hash for d in store.iter_documents()}


def page_requests(server) -> Counter:
    """How often each path was requested; robots.txt is each process's own (Scrapy keeps
    robots rules per process), so it is left out."""
    return Counter(r["path"] for r in server.requests() if r["path"] != "/robots.txt")


def reference_crawl(site_server, site: Path, tmp_path: Path) -> Path:
    """The single-process `aesthetics crawl` of the same site: what the workers must match."""
    server = site_server(site, name="reference")
    ref_dir = tmp_path / "reference"
    result = run_aesthetics("crawl", server.url("/"), "--delay", "0", "--no-index", "-q",
                            data_dir=ref_dir)
    assert result.returncode == 0, result.stderr
    return ref_dir


def worker_lines(stderr: str) -> list[tuple[str, int]]:
    found = []
    for line in stderr.splitlines():
        if line.startswith("worker ") and line.endswith(" pages fetched"):
            wid, count = line[len("worker "):-len(" pages fetched")].rsplit(": ", 1)
            found.append((wid, int(count)))
    return found
