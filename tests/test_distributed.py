"""Distributed crawl on a real private redis-server, real site server, real worker processes.

The single-process crawl is the reference: whatever N workers store must be what one process
stores (same URLs, same content hashes), and the site must see each page requested once.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest

from corpus import Store
from tests.conftest import run_aesthetics
from tests.distributed_support import (
    ALL_PATHS,
    PAGES,
    corpus_documents,
    corpus_pages,
    finish,
    make_site,
    page_requests,
    reference_crawl,
    start_seeder,
    start_worker,
    worker_lines,
)
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.usefixtures("no_stray_processes")


# --------------------------------------------------------------------------- fast checks
def test_worker_help_has_an_example() -> None:
    result = run_aesthetics("worker", "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout and "--idle-exit" in result.stdout


def test_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run_aesthetics("worker", "--redis", url, "--idle-exit", "1",
                            data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert "cannot reach Redis at " + url in result.stderr
    assert not (tmp_path / "data").exists()  # nothing created for a worker that never ran


def test_bad_redis_url_is_bad_input(tmp_path: Path) -> None:
    result = run_aesthetics("worker", "--redis", "http://nowhere/", data_dir=tmp_path / "d")
    assert result.returncode == 2
    assert "bad --redis URL" in result.stderr


def test_worker_without_a_crawl_exits_after_idle_time(redis_server, tmp_path: Path) -> None:
    result = run_aesthetics("worker", "--redis", redis_server.url, "--idle-exit", "1",
                            data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    (wid, count), = worker_lines(result.stderr)
    assert wid.startswith(socket.gethostname() + "-") and count == 0


def test_worker_refuses_another_corpus(redis_server, site_server, tmp_path: Path) -> None:
    """Workers write into the crawl's own SQLite file: one on another data dir would split
    the corpus, so it is refused up front (exit 2) instead."""
    server = site_server(make_site(tmp_path / "site", pages=3))
    seeder = start_seeder(server.url("/"), tmp_path / "data", redis_server.url, idle_exit=1)
    other = run_aesthetics("worker", "--redis", redis_server.url, "--idle-exit", "5",
                           data_dir=tmp_path / "elsewhere")
    finish([seeder])
    assert other.returncode == 2
    assert "is not the crawl's corpus" in other.stderr


# --------------------------------------------------------------------------- real crawls
@pytest.mark.slow
def test_three_workers_store_what_one_process_stores(redis_server, site_server,
                                                     tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", delay=0.1)
    reference = reference_crawl(site_server, site, tmp_path)
    expected = corpus_pages(reference)
    assert len(expected) == PAGES + 1

    server = site_server(site, name="distributed")
    data_dir = tmp_path / "data"
    workers = [start_worker(data_dir, redis_server.url) for _ in range(2)]  # they wait for it
    seeder = start_seeder(server.url("/"), data_dir, redis_server.url)
    results = finish([seeder, *workers])
    for code, _out, err in results:
        assert code == 0, err

    assert corpus_pages(data_dir) == expected
    documents = corpus_documents(reference)
    assert len(documents) == PAGES  # the articles; the start page is a listing
    assert corpus_documents(data_dir) == documents
    requests = page_requests(server)
    assert set(requests) == ALL_PATHS
    assert max(requests.values()) == 1, requests.most_common(3)

    lines = [worker_lines(err) for _code, _out, err in results]
    assert all(len(found) == 1 for found in lines)
    counts = {wid: n for found in lines for wid, n in found}
    assert sum(counts.values()) == PAGES + 1
    with Store.open(data_dir, create=False) as store:
        run = store.runs(kind="crawl")[0]
    assert run.outcome == "ok"
    assert run.details["workers"] == counts
    assert sum(1 for n in counts.values() if n) >= 2  # the work was shared


@pytest.mark.slow
def test_kill_9_of_a_worker_loses_nothing(redis_server, site_server, tmp_path: Path) -> None:
    import redis

    site = make_site(tmp_path / "site", delay=0.25)
    server = site_server(site)
    data_dir = tmp_path / "data"
    victim = start_worker(data_dir, redis_server.url, idle_exit=None)
    survivor = start_worker(data_dir, redis_server.url)
    seeder = start_seeder(server.url("/"), data_dir, redis_server.url)
    client = redis.Redis.from_url(redis_server.url)
    inflight = f"aesthetics:inflight:{socket.gethostname()}-{victim.pid}"
    deadline = time.monotonic() + 30
    while not client.hlen(inflight):  # kill it while it holds work
        assert time.monotonic() < deadline, "the victim never took a request"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    results = finish([seeder, survivor])
    for code, _out, err in results:
        assert code == 0, err

    pages = corpus_pages(data_dir)
    assert set(pages) == ALL_PATHS
    assert all(pages.values())
    with Store.open(data_dir, create=False) as store:
        assert store.frontier_counts().get("queued", 0) == 0
    assert client.zcard("aesthetics:requests") == 0 and not client.exists(inflight)


@pytest.mark.slow
def test_redis_going_away_stops_workers_and_a_rerun_completes(site_server,
                                                              tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", delay=0.2)
    server = site_server(site)
    data_dir = tmp_path / "data"
    redis_dir = tmp_path / "redis"
    with RedisServer(redis_dir) as first:
        worker = start_worker(data_dir, first.url)
        seeder = start_seeder(server.url("/"), data_dir, first.url)
        deadline = time.monotonic() + 30
        while len(server.requests()) < 8:
            assert time.monotonic() < deadline, "the crawl never got going"
            time.sleep(0.05)
        first.stop()  # Redis crashes mid-crawl
        results = finish([seeder, worker])
        port = first.port
    for code, _out, err in results:
        assert code == 1, err
        assert "went away" in err and "run `aesthetics crawl --redis" in err
        assert "Traceback" not in err
    stored = corpus_pages(data_dir)
    assert 0 < len(stored) < PAGES + 1
    with Store.open(data_dir, create=False) as store:
        assert store.runs(kind="crawl")[0].outcome == "failed"

    with RedisServer(redis_dir, port=port) as again:  # back, empty (no persistence)
        (code, _out, err), = finish([start_seeder(server.url("/"), data_dir, again.url)])
    assert code == 0, err
    pages = corpus_pages(data_dir)
    assert set(pages) == ALL_PATHS
    requests = page_requests(server)
    assert max(requests.values()) <= 2  # at most the pages in flight at the crash again


@pytest.mark.slow
def test_politeness_is_shared_by_all_workers(redis_server, site_server,
                                             tmp_path: Path) -> None:
    """Three workers, one site allowing one request at a time and one start per 0.3 s: the
    site sees what a single polite process would send, not three times as much."""
    site = make_site(tmp_path / "site", pages=10, delay=0.2)
    server = site_server(site)
    data_dir = tmp_path / "data"
    workers = [start_worker(data_dir, redis_server.url) for _ in range(2)]
    seeder = start_seeder(server.url("/"), data_dir, redis_server.url, delay=0.3,
                          concurrency=1)
    results = finish([seeder, *workers])
    for code, _out, err in results:
        assert code == 0, err
    assert sum(1 for _c, _o, err in results if worker_lines(err)[0][1]) >= 2  # all took part
    served = sorted(r["time"] for r in server.requests() if r["path"].startswith("/articles/"))
    assert len(served) == 10
    # One at a time: each article is answered after a 0.2 s server delay, so a request that
    # started only after the previous answer (concurrency 1) is served >= 0.2 s after it.
    gaps = [b - a for a, b in zip(served, served[1:], strict=False)]
    assert min(gaps) >= 0.19, gaps
    # And starts are >= 0.3 s apart across workers (served times add a little jitter).
    assert served[-1] - served[0] >= 9 * 0.3 - 0.3, gaps


@pytest.mark.slow
def test_robots_crawl_delay_is_shared_by_all_workers(redis_server, site_server,
                                                     tmp_path: Path) -> None:
    """A robots.txt Crawl-delay of 0.5 s holds for the site as a whole: two workers and the
    seeder, each allowed two requests at once with no delay of ours, start one article per
    0.5 s between them, not one each."""
    site = make_site(tmp_path / "site", pages=8)
    (site / "robots.txt").write_text("User-agent: *\nCrawl-delay: 0.5\n")
    server = site_server(site)
    data_dir = tmp_path / "data"
    workers = [start_worker(data_dir, redis_server.url) for _ in range(2)]
    seeder = start_seeder(server.url("/"), data_dir, redis_server.url, concurrency=2)
    for code, _out, err in finish([seeder, *workers]):
        assert code == 0, err
    served = sorted(r["time"] for r in server.requests() if r["path"].startswith("/articles/"))
    assert len(served) == 8
    gaps = [b - a for a, b in zip(served, served[1:], strict=False)]
    # Starts are 0.5 s apart; served times add the server's own jitter to each gap. Three
    # processes keeping the delay each on their own would serve three articles per 0.5 s.
    assert served[-1] - served[0] >= 7 * 0.5 - 0.3, gaps
    assert min(gaps) >= 0.25, gaps


@pytest.mark.slow
def test_max_pages_counts_all_workers(redis_server, site_server, tmp_path: Path) -> None:
    """--max-pages caps the crawl, not each worker: three workers with a cap of 10 request
    about 10 pages (a race on the last places may add one per extra worker), not 30."""
    site = make_site(tmp_path / "site", delay=0.1)
    # Three hubs of twelve articles each: whichever worker reads a hub finds twelve new links,
    # so per-worker caps would let each of them schedule ten more.
    hubs = ["".join(f'<a href="/articles/a{i}.html">{i}</a>' for i in range(h, PAGES, 3))
            for h in range(3)]
    for h, links in enumerate(hubs):
        (site / f"hub{h}.html").write_text(f"<html><body>{links}</body></html>")
    (site / "index.html").write_text("<html><body>" + "".join(
        f'<a href="/hub{h}.html">hub {h}</a>' for h in range(3)) + "</body></html>")
    (site / "_routes.json").write_text(json.dumps(
        {"/articles/": {"prefix": True, "delay": 0.1}, "/hub": {"prefix": True, "delay": 0.3}}))
    server = site_server(site)
    data_dir = tmp_path / "data"
    workers = [start_worker(data_dir, redis_server.url) for _ in range(2)]
    seeder = start_seeder(server.url("/"), data_dir, redis_server.url, max_pages=10,
                          concurrency=1)
    for code, _out, err in finish([seeder, *workers]):
        assert code == 0, err
    requested = page_requests(server)
    assert 10 <= sum(requested.values()) <= 12, requested
    assert 10 <= len(corpus_pages(data_dir)) <= 12
