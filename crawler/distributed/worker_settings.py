"""The Scrapy settings that turn a single-process crawl into one worker of a shared crawl.

``redis_settings`` plugs our scrapy-redis subclasses and components into the crawl's own
settings; the components read back who they are and where Redis is through the small helpers
below, so the setting names live here only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.distributed.connection import connect, worker_id
from crawler.distributed.keys import Keys

if TYPE_CHECKING:
    import redis
    from scrapy.settings import BaseSettings

# Scrapy settings the distributed components read.
S_URL, S_WORKER, S_SEED, S_IDLE, S_RUN = (
    "AESTHETICS_REDIS_URL", "AESTHETICS_WORKER_ID", "AESTHETICS_SEED", "AESTHETICS_IDLE_EXIT",
    "AESTHETICS_RUN_ID")

_PACKAGE = "crawler.distributed"


def redis_settings(redis_url: str, *, wid: str, seed: bool, idle_exit: float | None,
                   base: dict[str, Any], run_id: int | None = None) -> dict[str, Any]:
    """The overlay that turns the single-process crawl settings ``base`` into a worker's.

    ``SCHEDULER_PERSIST`` is the one setting scrapy-redis must not be left at its default:
    with it off, the first worker to finish would delete the queue and the fingerprint set
    that the others are still using.
    """
    keys = Keys()
    downloader_mws = dict(base.get("DOWNLOADER_MIDDLEWARES") or {})
    downloader_mws[f"{_PACKAGE}.politeness.SharedPolitenessMiddleware"] = 950
    spider_mws = dict(base.get("SPIDER_MIDDLEWARES") or {})
    spider_mws[f"{_PACKAGE}.scheduler.SeedGate"] = 10
    extensions = dict(base.get("EXTENSIONS") or {})
    extensions[f"{_PACKAGE}.heartbeat.WorkerExtension"] = 100
    return {
        "SCHEDULER": f"{_PACKAGE}.scheduler.RedisScheduler",
        "SCHEDULER_QUEUE_CLASS": f"{_PACKAGE}.acked_queue.AckedQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": f"{_PACKAGE}.scheduler.SharedDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_FLUSH_ON_START": False,
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
        "REDIS_URL": redis_url,
        "REDIS_PARAMS": {"socket_timeout": 10, "socket_connect_timeout": 5,
                         "retry_on_timeout": False},
        "DOWNLOADER_MIDDLEWARES": downloader_mws,
        "SPIDER_MIDDLEWARES": spider_mws,
        "EXTENSIONS": extensions,
        S_URL: redis_url, S_WORKER: wid, S_SEED: seed,
        S_IDLE: "" if idle_exit is None else idle_exit, S_RUN: run_id or "",
    }


def worker_id_of(settings: BaseSettings) -> str:
    """This worker's id as the settings carry it (the process' own id outside a worker)."""
    return settings.get(S_WORKER) or worker_id()


def client_of(settings: BaseSettings) -> redis.Redis:
    """A fresh client for the crawl's Redis: each component keeps its own connection."""
    return connect(settings.get(S_URL))


def idle_exit_of(settings: BaseSettings) -> float | None:
    """Seconds of quiet after which the worker exits; None: run until stopped."""
    idle = settings.get(S_IDLE)
    return float(idle) if idle not in (None, "") else None
