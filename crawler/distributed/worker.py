"""The two entry points, ``seed_and_work`` (``aesthetics crawl --redis``) and ``work``
(``aesthetics worker``), and the run of one worker from claim to summary.

Both run the normal single-process crawl (``crawler.run``'s settings, ``SiteSpider`` and
pipeline, writing into the one corpus) with the Redis overlay of ``worker_settings``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from scrapy import signals

from corpus.store import Store
from crawler.distributed.connection import (
    RedisUnavailableError,
    connect,
    redis_error,
    went_away,
    worker_id,
)
from crawler.distributed.coordinator import claim_crawl, joined_run, publish, start_run
from crawler.distributed.crawl_context import SharedCapsContext, resume_queued
from crawler.distributed.keys import Keys
from crawler.distributed.run_report import (
    final_counts,
    finish_seed_run,
    print_summary,
    record_worker,
)
from crawler.distributed.worker_settings import redis_settings
from crawler.run import CrawlConfig, CrawlContext, RunReport, scrapy_settings


def seed_and_work(config: CrawlConfig, data_dir: Path, redis_url: str, *,
                  idle_exit: float | None = 30.0,
                  on_page: Callable[[str], str | None] | None = None,
                  progress: Callable[[str], None] | None = None) -> RunReport:
    """``aesthetics crawl --redis``: publish the crawl in Redis, seed the shared queue, then
    work on it like any other worker until it has been quiet for ``idle_exit`` seconds.

    With no live worker in Redis this is a new distributed crawl: Redis' queue and fingerprints
    are reset and the corpus frontier decides what is resumed (``config.resume``), exactly as in
    a single-process crawl. With live workers it joins their crawl and resumes the frontier's
    queued URLs (the shared fingerprint set drops those already queued). The caller holds the
    data dir's crawl lock, as for ``crawler.run.crawl``.
    """
    return _work(Path(data_dir), redis_url, config=config, idle_exit=idle_exit,
                 on_page=on_page, progress=progress)


def work(data_dir: Path, redis_url: str, *, idle_exit: float | None = None,
         on_page: Callable[[str], str | None] | None = None,
         progress: Callable[[str], None] | None = None,
         log_level: str | None = None) -> RunReport:
    """``aesthetics worker``: join the crawl published in Redis and fetch from its queue.

    Waits for a crawl to be published if there is none yet. The worker writes into the crawl's
    corpus, so it must run on the corpus' machine with the same data dir (checked). Runs until
    stopped unless ``idle_exit`` is given.
    """
    return _work(Path(data_dir), redis_url, config=None, idle_exit=idle_exit,
                 on_page=on_page, progress=progress, log_level=log_level)


def _work(data_dir: Path, redis_url: str, *, config: CrawlConfig | None,
          idle_exit: float | None, on_page: Callable[[str], str | None] | None,
          progress: Callable[[str], None] | None, log_level: str | None = None) -> RunReport:
    """Claim a part in the crawl, open (seeder) or name (worker) its run, crawl, report."""
    keys = Keys()
    wid = worker_id()
    client = connect(redis_url)
    try:
        claim = claim_crawl(client, keys, data_dir, redis_url, config, idle_exit)
    except redis.RedisError as exc:
        raise went_away(redis_url, exc, 0) from exc
    if claim is None:
        print_summary(wid, 0)
        return RunReport(outcome="idle")
    config = claim.config
    if log_level:
        config.log_level = log_level
    store = Store.open(data_dir, create=claim.seed)
    ctx = SharedCapsContext(config, store, data_dir, client, on_page=on_page,
                          progress=progress)
    run = None  # the seeder's run record, which it finishes; a worker only adds its count
    try:
        if claim.join:
            # Join the running crawl (e.g. its seeder died): keep its run, and never clear the
            # frontier under its workers' feet; its queued URLs are offered again (the shared
            # fingerprint set drops those still in Redis).
            run = joined_run(client, keys, store, redis_url)
            resume_queued(ctx, store)
        elif claim.seed:
            run = start_run(store, config, redis_url)
            ctx.prepare_frontier()
            publish(client, keys, config, data_dir, run.id)
        run_id = run.id if run is not None else claim.run_id
        ctx.report.run_id = run_id
        ctx.report.started = run.started if run is not None else ""
        crawler, reason = _run_scrapy(ctx, redis_url, wid=wid, seed=claim.seed,
                                      idle_exit=idle_exit, run_id=run_id)
    except BaseException as exc:
        if run is not None:
            finish_seed_run(store, run, ctx, {wid: ctx.report.pages_fetched}, "failed")
        ctx.close()
        store.close()
        if isinstance(exc, redis.RedisError):
            raise went_away(redis_url, exc, ctx.report.pages_fetched) from exc
        raise
    error = redis_error(crawler)
    fetched = ctx.report.pages_fetched
    counts = final_counts(client, keys, wid, fetched, error)
    record_worker(store, run_id, counts)
    if run is not None:
        outcome = "failed" if error else ("ok" if reason in ("idle", "finished") else "interrupted")
        finish_seed_run(store, run, ctx, counts, outcome)
    else:
        ctx.report.outcome = "failed" if error else "ok"
    ctx.close()
    store.close()
    print_summary(wid, fetched)
    if error is not None:
        raise went_away(redis_url, error, fetched)
    return ctx.report


def _run_scrapy(ctx: CrawlContext, redis_url: str, *, wid: str, seed: bool,
                idle_exit: float | None, run_id: int | None) -> tuple[Any, str]:
    """Run this worker's Scrapy crawl to its end; returns the crawler and why it closed."""
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.site import SiteSpider

    # scrapy-redis 0.9.1 still calls Spider.log() when it resumes a queue: harmless.
    warnings.filterwarnings("ignore", message=r"Spider\.log\(\) is deprecated")
    base = scrapy_settings(ctx.config)
    base.update(redis_settings(redis_url, wid=wid, seed=seed, idle_exit=idle_exit, base=base,
                               run_id=run_id))
    process = CrawlerProcess(base)
    crawler = process.create_crawler(SiteSpider)
    ended = {"reason": "finished"}

    def closed(spider: Any, reason: str) -> None:
        ended["reason"] = reason

    def failed(failure: Any) -> None:  # e.g. Redis gone before the spider opened
        ended["reason"] = "failed"
        if redis_error(crawler) is None:
            crawler.redis_error = failure.value

    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler, ctx=ctx).addErrback(failed)
    process.start()
    error = redis_error(crawler)
    if error is not None and not isinstance(error, (RedisUnavailableError, redis.RedisError)):
        raise error  # not Redis: a real bug, shown as such
    return crawler, ended["reason"]
