"""Per-site politeness shared by all workers.

A site gets the same budget from N workers as from one: at most
``CONCURRENT_REQUESTS_PER_DOMAIN`` requests in flight and one request start per
``DOWNLOAD_DELAY`` *across all workers*, kept in Redis (server clock, one Lua script).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.distributed.connection import fail_hard, redis_error, requeue_later
from crawler.distributed.engine import site_of
from crawler.distributed.keys import Keys
from crawler.distributed.worker_settings import client_of, worker_id_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from scrapy.settings import BaseSettings

LEASE_MS = 8000  # a politeness slot not renewed for this long is free again (dead holder)
FULL_RETRY_MS = 50  # how long to wait before asking again for a site whose slots are all taken

# Take a politeness slot of one site: 0 = go, else milliseconds to wait before asking again.
_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return tonumber(ARGV[4]) end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return nxt - now end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[5])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
local delay = tonumber(ARGV[2])
if delay > 0 then redis.call('SET', KEYS[2], now + delay, 'PX', delay + 1000) end
return 0
"""

# Renew this worker's leases (those still held) so a long download keeps its slot.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
end
return #KEYS
"""


@dataclass(frozen=True)
class SiteLimits:
    """Each site's budget: the crawl's per-domain concurrency and delay, with the per-site
    overrides in ``DOWNLOAD_SLOTS`` (from the sources file). The scheduler and the politeness
    middleware both read it, so they agree on what a site allows."""

    concurrency: int
    delay: float
    per_site: dict[str, dict[str, Any]]

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> SiteLimits:
        return cls(concurrency=max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") or 1),
                   delay=settings.getfloat("DOWNLOAD_DELAY"),
                   per_site=settings.getdict("DOWNLOAD_SLOTS"))

    def concurrency_of(self, site: str) -> int:
        spec = self.per_site.get(site) or {}
        return max(1, int(spec.get("concurrency") or self.concurrency))

    def delay_ms_of(self, site: str) -> int:
        spec = self.per_site.get(site) or {}
        delay = float(spec["delay"]) if spec.get("delay") is not None else self.delay
        return int(delay * 1000)


class SharedPolitenessMiddleware:
    """Downloader middleware: a request leaves only with one of its site's shared slots.

    Placed last before the download handler, it waits (without blocking the reactor) until the
    site has fewer than ``CONCURRENT_REQUESTS_PER_DOMAIN`` requests in flight across all
    workers and ``DOWNLOAD_DELAY`` (or the site's robots.txt Crawl-delay, if longer) has
    passed since the last start by any worker; the slot is
    given back when the response or the error comes back. Per-site overrides in
    ``DOWNLOAD_SLOTS`` (from the sources file) are honoured. A killed worker's slots expire
    after ``LEASE_MS`` because only live workers renew theirs.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.keys = Keys()
        self.wid = worker_id_of(crawler.settings)
        self.server = client_of(crawler.settings)
        self._slot = self.server.register_script(_SLOT)
        self._renew = self.server.register_script(_RENEW)
        self.limits = SiteLimits.from_settings(crawler.settings)
        self.held: dict[str, str] = {}  # lease token -> site
        self._n = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedPolitenessMiddleware:
        mw = cls(crawler)
        crawler.politeness = mw  # the worker extension renews leases on its heartbeat
        return mw

    async def process_request(self, request: Request) -> None:
        from twisted.internet import reactor  # imported late: Scrapy installs the reactor
        from twisted.internet.task import deferLater

        site = site_of(self.crawler, request)
        concurrency, delay_ms = self.limits.concurrency_of(site), self.limits.delay_ms_of(site)
        # robots.txt Crawl-delay (crawler.middlewares.CrawlDelayMiddleware, which has read it
        # before the request gets here) is a floor on the shared gap too, not only this
        # worker's: N workers must not send N requests per Crawl-delay.
        floor = getattr(self.crawler, "crawl_delay_floors", {}).get(site, 0.0)
        delay_ms = max(delay_ms, int(floor * 1000))
        self._n += 1
        token = f"{self.wid}:{self._n}"
        while True:
            if redis_error(self.crawler) is not None:
                raise requeue_later()
            try:
                wait_ms = self._slot(keys=[self.keys.slots(site), self.keys.next_start(site)],
                                     args=[concurrency, delay_ms, LEASE_MS, FULL_RETRY_MS, token])
            except redis.RedisError as exc:
                # Not a failed page: the process stops and the URL stays queued.
                fail_hard(self.crawler, exc)
                raise requeue_later() from exc
            if not wait_ms:
                break
            await maybe_deferred_to_future(deferLater(reactor, int(wait_ms) / 1000.0))
        self.held[token] = site
        request.meta["politeness_token"] = token
        return None

    def _release(self, request: Request) -> None:
        token = request.meta.pop("politeness_token", None)
        site = self.held.pop(token, None) if token else None
        if site is not None:
            try:
                self.server.zrem(self.keys.slots(site), token)
            except redis.RedisError as exc:
                fail_hard(self.crawler, exc)

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: BaseException) -> None:
        self._release(request)
        return None

    def renew(self) -> None:
        """Keep this worker's leases (called on every heartbeat): a slow download keeps its
        slot, while a dead worker's slots run out after ``LEASE_MS``."""
        if self.held:
            tokens = list(self.held)
            self._renew(keys=[self.keys.slots(self.held[t]) for t in tokens],
                        args=[LEASE_MS, *tokens])
