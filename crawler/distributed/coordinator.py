"""Which crawl a process takes part in, and how: start a new one, join a live one, or wait.

The crawl is published in Redis (``Keys.meta``: its config, its corpus, its run id) by the
seeding process, ``aesthetics crawl --redis``. A seeder whose crawl (same sources and limits)
still has live workers joins it; otherwise it starts a new crawl. A plain worker waits for a
crawl to be published and joins it, on the machine and data dir that hold its corpus.
"""

from __future__ import annotations

import pickle
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.errors import BadInputError
from corpus.paths import db_path
from crawler.distributed.connection import redacted
from crawler.distributed.heartbeat import HEARTBEAT_SECONDS
from crawler.distributed.keys import Keys
from crawler.distributed.run_report import find_run
from crawler.run import CrawlConfig

if TYPE_CHECKING:
    import redis

    from corpus.models import Run
    from corpus.store import Store


@dataclass
class Claim:
    """How this process takes part in the crawl published in Redis."""

    config: CrawlConfig
    seed: bool  # it runs the start requests (``crawl --redis``), not only the shared queue
    join: bool = False  # a seeder joining the live workers of the same crawl
    run_id: int | None = None  # a worker: the run the seeder published


def claim_crawl(client: redis.Redis, keys: Keys, data_dir: Path, redis_url: str,
                config: CrawlConfig | None, idle_exit: float | None) -> Claim | None:
    """Decide how this process takes part: a seeder (``config`` given) starts or joins the
    crawl, a worker waits for one. None: no crawl was published within ``idle_exit``."""
    if config is not None:
        return _claim_as_seeder(client, keys, data_dir, redis_url, config)
    meta = wait_for_crawl(client, keys, idle_exit)
    if meta is None:
        return None
    config = pickle.loads(meta["config"])
    corpus = meta["corpus"].decode()
    if corpus != corpus_id(data_dir):
        raise BadInputError(
            f"this worker's corpus {corpus_id(data_dir)} is not the crawl's corpus "
            f"{corpus}: run `aesthetics worker` on that host with that --data-dir")
    return Claim(config, seed=False, run_id=int(meta["run"]))


def _claim_as_seeder(client: redis.Redis, keys: Keys, data_dir: Path, redis_url: str,
                     config: CrawlConfig) -> Claim:
    live = live_workers(client, keys)
    published = client.hget(keys.meta, "corpus")
    if live and published and published.decode() != corpus_id(data_dir):
        raise BadInputError(
            f"{redacted(redis_url)} is busy with a live crawl of another corpus "
            f"({published.decode()}); use another Redis database (/DB in the URL)")
    if not same_crawl(client, keys, config):
        live = []
    if not live:  # a new crawl: workers of an older one see the new run and stop
        client.delete(*keys.crawl_keys())
    return Claim(config, seed=True, join=bool(live))


def corpus_id(data_dir: Path) -> str:
    """Where the crawl's corpus is: workers must run on that host, on that file."""
    return f"{socket.gethostname()}:{db_path(Path(data_dir)).resolve()}"


def same_crawl(client: redis.Redis, keys: Keys, config: CrawlConfig) -> bool:
    """Is the crawl published in Redis this one (same sources and limits)? Then a seeder
    joins its live workers; otherwise it starts a new crawl."""
    blob = client.hget(keys.meta, "config")
    if not blob:
        return False
    try:
        published = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - an unreadable old config is simply another crawl
        return False

    def comparable(value: CrawlConfig) -> dict:
        return {k: v for k, v in asdict(value).items() if k not in ("log_level", "resume")}

    return comparable(published) == comparable(config)


def live_workers(client: redis.Redis, keys: Keys) -> list[str]:
    """Registered workers whose heartbeat has not expired."""
    ids = [w.decode() for w in client.smembers(keys.workers)]
    return [w for w in ids if client.exists(keys.alive(w))]


def wait_for_crawl(client: redis.Redis, keys: Keys, idle_exit: float | None) -> dict | None:
    """The published crawl's meta hash, once there is one (None after ``idle_exit`` s)."""
    started = time.monotonic()
    announced = False
    while True:
        meta = client.hgetall(keys.meta)
        if meta.get(b"config"):
            return {k.decode(): v for k, v in meta.items()}
        if idle_exit is not None and time.monotonic() - started >= idle_exit:
            return None
        if not announced:
            print("waiting for a crawl to be published (aesthetics crawl --redis ...)",
                  file=sys.stderr)
            announced = True
        time.sleep(HEARTBEAT_SECONDS)


def start_run(store: Store, config: CrawlConfig, redis_url: str) -> Run:
    """The run record of a new distributed crawl (workers add their counts to it)."""
    return store.start_run("crawl", {
        "sources": [s.name for s in config.sources], "conditional": False,
        "start_urls": [u for s in config.sources for u in s.start_urls][:20],
        "redis": redacted(redis_url), "workers": {}})


def joined_run(client: redis.Redis, keys: Keys, store: Store, redis_url: str) -> Run:
    """The run of the live crawl a seeder joins (e.g. after its first seeder died).

    The joining seeder took the crawl lock, so ``aesthetics crawl`` has just marked that run
    "interrupted" (its first seeder is gone). Its workers are still crawling into it, though,
    so it is reopened as "running" until this seeder finishes it; otherwise ``aesthetics
    history`` would report a live crawl as interrupted."""
    run_id = int(client.hget(keys.meta, "run") or 0) or None
    run = find_run(store, run_id)
    if run is None:
        raise BadInputError(f"the crawl published in {redacted(redis_url)} names run "
                            f"{run_id}, which is not in this corpus")
    if run.outcome != "running":
        run.outcome, run.finished = "running", None
        store.update_run(run)
    return run


def publish(client: redis.Redis, keys: Keys, config: CrawlConfig, data_dir: Path,
            run_id: int) -> None:
    """Announce the crawl: waiting workers start, later ones join it."""
    client.hset(keys.meta, mapping={
        "config": pickle.dumps(config), "corpus": corpus_id(data_dir), "run": str(run_id)})
