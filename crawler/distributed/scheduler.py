"""What enters and leaves the shared queue: scheduler, duplicate filter and seed gate.

The engine is scrapy-redis (its Scheduler, request queue and RFPDupeFilter, checked against
Scrapy 2.19); these subclasses fit it to Scrapy 2.19 and to workers that share one crawl.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.distributed.connection import fail_hard, redis_error
from crawler.distributed.engine import requests_in_progress, site_of
from crawler.distributed.politeness import SiteLimits
from crawler.distributed.worker_settings import S_SEED
from crawler.middlewares import FrontierDupeFilter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request


class RedisScheduler(Scheduler):
    """scrapy-redis' Scheduler, fitted to Scrapy 2.19 and to sharing.

    Stats are counted without the deprecated ``spider`` argument, and the pop is never a
    blocking one (a blocking pop would freeze the reactor, heartbeats included). And a worker
    takes only what it can start soon: Scrapy pulls up to ``CONCURRENT_REQUESTS`` requests and
    parks them in per-site slots, which would let the first worker hoard a small site's whole
    queue while the others sit idle. So a request for a site this worker already holds its
    per-site concurrency of is put back (keeping its place) and another one is tried.
    """

    skip_limit = 8  # requests looked at per call before leaving the rest to other workers

    def enqueue_request(self, request: Request) -> bool:
        try:
            if not request.dont_filter and self.df.request_seen(request):
                self.df.log(request, self.spider)
                return False
            self.queue.push(request)
        except redis.RedisError as exc:  # the URL stays queued in the corpus frontier
            fail_hard(self.spider.crawler, exc)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        if redis_error(self.spider.crawler) is not None:
            return None
        try:
            return self._next_request()
        except redis.RedisError as exc:
            fail_hard(self.spider.crawler, exc)
            return None

    def has_pending_requests(self) -> bool:
        try:
            return super().has_pending_requests()
        except redis.RedisError as exc:
            fail_hard(self.spider.crawler, exc)
            return False

    @cached_property
    def limits(self) -> SiteLimits:
        return SiteLimits.from_settings(self.spider.crawler.settings)

    def _next_request(self) -> Request | None:
        crawler = self.spider.crawler
        held = self._held_per_site()
        put_back: list[tuple[Request, bytes]] = []
        chosen = None
        for _ in range(self.skip_limit):
            popped = self.queue.pop_raw()
            if popped is None:
                break
            site = site_of(crawler, popped[0])
            if held is None or held[site] < self.limits.concurrency_of(site):
                chosen = popped[0]
                break
            put_back.append(popped)
        for request, data in put_back:
            self.queue.unpop(request, data)
        if chosen is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return chosen

    def _held_per_site(self) -> Counter[str] | None:
        """Requests per site this worker has taken and not finished (None: can't tell)."""
        crawler = self.spider.crawler
        inprogress = requests_in_progress(crawler)
        if inprogress is None:
            return None
        return Counter(site_of(crawler, request) for request in inprogress)


class SharedDupeFilter(RFPDupeFilter):
    """The shared fingerprint set of scrapy-redis, after the crawl's own redirect checks.

    The single-process crawl's ``FrontierDupeFilter`` drops redirect loops and redirects out of
    scope or to already-known pages, using the corpus frontier; those rules still hold here.
    Then Redis decides: a fingerprint one worker has queued is a duplicate for all of them.
    """

    frontier: Any = None

    @classmethod
    def from_spider(cls, spider: Any) -> SharedDupeFilter:
        df = super().from_spider(spider)
        df.frontier = FrontierDupeFilter.from_crawler(spider.crawler)
        return df

    def request_seen(self, request: Request) -> bool:
        if self.frontier is not None and self.frontier.request_seen(request):
            return True
        return super().request_seen(request)

    def close(self, reason: str = "") -> None:
        """Keep the shared set: other workers are still using it (the base class deletes it)."""


class SeedGate:
    """Spider middleware: only the seeding worker runs the spider's start requests (sitemaps,
    start URLs, the frontier of an interrupted crawl); every other worker takes its work from
    the shared queue alone."""

    def __init__(self, seed: bool):
        self.seed = seed

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeedGate:
        return cls(crawler.settings.getbool(S_SEED))

    async def process_start(self, start: Any) -> Any:
        if not self.seed:
            return
        async for item_or_request in start:
            yield item_or_request
