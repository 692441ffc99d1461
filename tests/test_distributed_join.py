"""A seeder joining a live distributed crawl whose first seeder died.

`aesthetics crawl --redis` seeds a crawl and works on it. If that process is killed with
SIGKILL while a worker is still live, running the same `aesthetics crawl --redis` again must
join the crawl (same run, frontier and Redis fingerprints left alone under the live worker)
rather than start a new one, and the crawl must complete with every page stored once. Real
redis-server, real site server, real `aesthetics` subprocesses.
"""

from __future__ import annotations

import json
import pickle
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from corpus import Store
from tests.conftest import run_aesthetics
from tests.distributed_support import (
    ALL_PATHS,
    PAGES,
    corpus_pages,
    finish,
    make_site,
    page_requests,
    start_crawl,
    start_worker,
    worker_lines,
)

pytestmark = pytest.mark.usefixtures("no_stray_processes")

SERVER_DELAY = 0.3  # per article: 37 pages at concurrency 2 take ~6 s, room to kill mid-way


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    """Poll an observable event (request log, Redis key); fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def inflight_paths(client, wid: str) -> set[str]:
    """Paths of the requests a worker has popped and not finished (its in-flight hash holds
    ``<40 hex id><pickled request dict>`` entries, as scrapy-redis pickles them)."""
    paths = set()
    for entry in client.hvals(f"aesthetics:inflight:{wid}"):
        paths.add(urlsplit(pickle.loads(entry[40:])["url"]).path)
    return paths


@pytest.mark.slow
def test_seeder_rejoins_a_live_crawl_after_its_first_seeder_died(
        redis_server, site_server, tmp_path: Path) -> None:
    import redis

    server = site_server(make_site(tmp_path / "site", delay=SERVER_DELAY))
    data_dir = tmp_path / "data"
    client = redis.Redis.from_url(redis_server.url)
    host = socket.gethostname()

    worker = start_worker(data_dir, redis_server.url, idle_exit=3)  # waits for the crawl
    first = start_crawl(server.url("/"), data_dir, redis_server.url)
    first_id, worker_id = f"{host}-{first.pid}", f"{host}-{worker.pid}"

    # Kill the first seeder mid-crawl, while it holds requests and the worker is working too.
    articles = lambda: sum(1 for r in server.requests()  # noqa: E731
                           if r["path"].startswith("/articles/"))
    wait_for("the crawl to get going", lambda: articles() >= 6)
    wait_for("the first seeder to hold requests",
             lambda: client.hlen(f"aesthetics:inflight:{first_id}") > 0)
    assert client.exists(f"aesthetics:alive:{worker_id}"), "the worker is not live"
    assert client.hget("aesthetics:meta", "run") == b"1"
    first.send_signal(signal.SIGKILL)
    first.communicate()
    held_by_the_dead = inflight_paths(client, first_id)  # read before anyone gives them back
    fetched_before = articles()
    assert fetched_before < PAGES, "the crawl ended before the kill: raise SERVER_DELAY"

    second = start_crawl(server.url("/"), data_dir, redis_server.url)
    second_id = f"{host}-{second.pid}"
    wait_for("the second seeder to join", lambda: client.exists(f"aesthetics:alive:{second_id}")
             or second.poll() is not None)
    # While the joined crawl runs, `aesthetics history` shows its run as running, not as
    # interrupted by the death of its first seeder.
    history = run_aesthetics("history", "--kind", "crawl", "--format", "json",
                             data_dir=data_dir)
    assert history.returncode == 0, history.stderr
    live = [(r["id"], r["outcome"]) for r in json.loads(history.stdout)]
    (code, out, err), (w_code, _w_out, w_err) = finish([second, worker], timeout=60)
    assert code == 0, err
    assert w_code == 0, w_err
    summary = json.loads(out)

    # It joined run 1 instead of starting a new crawl (which would reset Redis and refetch).
    assert summary["run"] == 1 and summary["outcome"] == "ok", summary
    with Store.open(data_dir, create=False) as store:
        runs = store.runs(kind="crawl")
        frontier = store.frontier_counts()
    assert [(r.id, r.outcome) for r in runs] == [(1, "ok")]
    assert live == [(1, "running")], live

    # Nothing lost: every page stored, no queued URL left in the frontier or in Redis.
    pages = corpus_pages(data_dir)
    assert set(pages) == ALL_PATHS and all(pages.values())
    assert frontier.get("queued", 0) == 0, frontier
    assert client.zcard("aesthetics:requests") == 0
    assert not client.keys("aesthetics:inflight:*")

    # Each page fetched once; only what the dead seeder held in flight may come twice.
    requests = page_requests(server)
    assert set(requests) == ALL_PATHS
    twice = {path for path, n in requests.items() if n > 1}
    assert twice <= held_by_the_dead, (twice, held_by_the_dead)
    assert max(requests.values()) <= 2, requests.most_common(3)

    # The survivors' final counts are in the run, next to the last count the dead seeder
    # published; no other process took part.
    counts = dict(worker_lines(err) + worker_lines(w_err))
    assert set(counts) == {second_id, worker_id}
    recorded = runs[0].details["workers"]
    assert {wid: recorded.get(wid) for wid in counts} == counts
    assert set(recorded) <= {first_id, second_id, worker_id}
