"""Distributed crawl on Redis: N Scrapy workers share one queue, one politeness budget per site
and one corpus.

The engine is scrapy-redis (its Scheduler, request queue and RFPDupeFilter, checked against
Scrapy 2.19); this module only adds what a crawl that must lose nothing needs on top of it:

* **Acknowledged pops.** scrapy-redis removes a request from the queue when a worker pops it, so
  a worker killed with ``kill -9`` would take its in-flight requests with it. Our queue pops
  atomically (one Lua script) into a per-worker *in-flight* hash; a request leaves that hash only
  once Scrapy has fully handled it (page stored, links queued). Every worker keeps a heartbeat
  key alive; when one stops beating, any other worker puts its in-flight requests back.
* **Shared politeness.** A site gets the same budget from N workers as from one: at most
  ``CONCURRENT_REQUESTS_PER_DOMAIN`` requests in flight and one request start per
  ``DOWNLOAD_DELAY`` *across all workers*, kept in Redis (server clock, one Lua script).
* **One corpus.** Workers run on the machine that holds the data dir and write through the
  normal crawl pipeline into the same SQLite file (WAL, busy timeout); the frontier in the corpus
  stays the crawl's memory, so a crawl whose Redis vanished is resumed from it.
* **Idle exit and summary.** A worker stops once the shared queue has been empty (and nothing is
  in flight anywhere) for ``idle_exit`` seconds, prints ``worker <id>: <N> pages fetched`` and
  records its count in the run's ``details["workers"]``.

docs/scaling.md explains the design, its limits and the plan past them.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from corpus.errors import EXIT_UNEXPECTED, AestheticsError, BadInputError

if TYPE_CHECKING:
    import redis
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

    from crawler.run import CrawlConfig, CrawlContext, RunReport

PREFIX = "aesthetics"  # one distributed crawl per Redis database: pick another /DB for a second
HEARTBEAT_SECONDS = 1.0  # how often a worker beats, sweeps acks and checks for dead peers
WORKER_TTL_SECONDS = 8  # a worker silent this long is dead; its in-flight requests go back
LEASE_MS = 8000  # a politeness slot not renewed for this long is free again (dead holder)
FULL_RETRY_MS = 50  # how long to wait before asking again for a site whose slots are all taken
FP_META = "redis_fp"  # request.meta key: the in-flight id of a request popped from Redis

# Scrapy settings this module reads (set by ``redis_settings``).
S_URL, S_WORKER, S_SEED, S_IDLE, S_RUN = (
    "AESTHETICS_REDIS_URL", "AESTHETICS_WORKER_ID", "AESTHETICS_SEED", "AESTHETICS_IDLE_EXIT",
    "AESTHETICS_RUN_ID")


class RedisUnavailableError(AestheticsError):
    """Redis could not be reached, or went away mid-crawl. Nothing stored is lost: the corpus
    keeps every page written so far and the frontier, so the same command completes the crawl
    once Redis is back."""

    exit_code = EXIT_UNEXPECTED


def worker_id() -> str:
    """``host-pid``: unique among live workers, and says where to look for a stuck one."""
    return f"{socket.gethostname()}-{os.getpid()}"


def redacted(url: str) -> str:
    """The Redis URL without its password, for messages and the run record."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
            f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def connect(url: str, *, timeout: float = 5.0) -> redis.Redis:
    """A client for ``url`` that has answered PING; bad URLs and dead servers get clear errors."""
    import redis as redis_lib

    try:
        client = redis_lib.Redis.from_url(url, socket_timeout=timeout,
                                          socket_connect_timeout=timeout)
    except ValueError as exc:
        raise BadInputError(f"bad --redis URL {redacted(url)!r}: {exc} "
                            "(expected redis://HOST:PORT/DB)") from exc
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        raise RedisUnavailableError(
            f"cannot reach Redis at {redacted(url)}: {exc}; start it (Debian package "
            "redis-server) or fix --redis") from exc
    return client


@dataclass(frozen=True)
class Keys:
    """Every Redis key of one distributed crawl, in one place."""

    prefix: str = PREFIX

    @property
    def requests(self) -> str:  # scrapy-redis request queue (sorted set by priority)
        return f"{self.prefix}:requests"

    @property
    def dupefilter(self) -> str:  # scrapy-redis fingerprint set
        return f"{self.prefix}:dupefilter"

    @property
    def meta(self) -> str:  # hash: the crawl's config (pickled), corpus, run id, seeded time
        return f"{self.prefix}:meta"

    @property
    def workers(self) -> str:  # set of worker ids that may still hold in-flight requests
        return f"{self.prefix}:workers"

    @property
    def counts(self) -> str:  # hash: worker id -> pages fetched
        return f"{self.prefix}:counts"

    def alive(self, wid: str) -> str:  # heartbeat key with a TTL
        return f"{self.prefix}:alive:{wid}"

    def inflight(self, wid: str) -> str:  # hash: in-flight id -> encoded request
        return f"{self.prefix}:inflight:{wid}"

    def slots(self, site: str) -> str:  # sorted set: politeness leases of one site
        return f"{self.prefix}:slots:{site}"

    def next_start(self, site: str) -> str:  # earliest time (ms) the next request may start
        return f"{self.prefix}:next:{site}"

    @property
    def scheduled(self) -> str:  # hash: site -> page requests scheduled, "" -> all sites
        return f"{self.prefix}:scheduled"

    def crawl_keys(self) -> list[str]:
        """What a fresh crawl resets (leases and heartbeats expire by themselves)."""
        return [self.requests, self.dupefilter, self.meta, self.counts, self.workers,
                self.scheduled]


# --------------------------------------------------------------------------- Lua scripts
# Pop the best request and park it in the worker's in-flight hash, atomically.
_POP = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0)
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
redis.call('HSET', KEYS[2], string.sub(r[1], 1, 40), r[1])
return r[1]
"""

# Put back a popped request this worker has no room for (keeps its place: same score).
_UNPOP = """
redis.call('HDEL', KEYS[2], string.sub(ARGV[2], 1, 40))
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), ARGV[2])
return 1
"""

# Give the in-flight requests of workers without a heartbeat back to the queue.
_REAP = """
local moved = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. id) == 0 then
    local h = redis.call('HGETALL', ARGV[1] .. ':inflight:' .. id)
    for i = 2, #h, 2 do
      redis.call('ZADD', KEYS[2], 0, h[i])
      moved = moved + 1
    end
    redis.call('DEL', ARGV[1] .. ':inflight:' .. id)
    redis.call('SREM', KEYS[1], id)
  end
end
return moved
"""

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


# --------------------------------------------------------------------------- scheduler parts
class AckedQueue(PriorityQueue):
    """scrapy-redis' priority queue whose pops are parked in-flight until acknowledged.

    Each entry is ``<40 hex id><pickled request>``; the id (a hash of the pickled request)
    names the in-flight hash field, so the pop script needs no decoding.
    """

    def __init__(self, server: redis.Redis, spider: Any, key: str, serializer: Any = None):
        super().__init__(server, spider, key, serializer)
        settings = spider.crawler.settings
        self.keys = Keys()
        self.inflight_key = self.keys.inflight(settings.get(S_WORKER) or worker_id())
        self._pop = server.register_script(_POP)
        self._unpop = server.register_script(_UNPOP)

    def _encode_request(self, request: Request) -> bytes:
        blob = super()._encode_request(request)
        return hashlib.sha1(blob).hexdigest().encode("ascii") + blob

    def _decode_request(self, encoded_request: bytes) -> Request:
        request = super()._decode_request(encoded_request[40:])
        request.meta[FP_META] = encoded_request[:40].decode("ascii")
        return request

    def pop(self, timeout: int = 0) -> Request | None:
        popped = self.pop_raw()
        return popped[0] if popped else None

    def pop_raw(self) -> tuple[Request, bytes] | None:
        data = self._pop(keys=[self.key, self.inflight_key])
        return (self._decode_request(data), data) if data else None

    def unpop(self, request: Request, data: bytes) -> None:
        self._unpop(keys=[self.key, self.inflight_key], args=[-request.priority, data])


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
        import redis as redis_lib

        try:
            if not request.dont_filter and self.df.request_seen(request):
                self.df.log(request, self.spider)
                return False
            self.queue.push(request)
        except redis_lib.RedisError as exc:  # the URL stays queued in the corpus frontier
            _fail_hard(self.spider.crawler, exc)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        import redis as redis_lib

        if getattr(self.spider.crawler, "redis_error", None) is not None:
            return None
        try:
            return self._next_request()
        except redis_lib.RedisError as exc:
            _fail_hard(self.spider.crawler, exc)
            return None

    def has_pending_requests(self) -> bool:
        import redis as redis_lib

        try:
            return super().has_pending_requests()
        except redis_lib.RedisError as exc:
            _fail_hard(self.spider.crawler, exc)
            return False

    def _next_request(self) -> Request | None:
        held = self._held_per_site()
        put_back: list[tuple[Request, bytes]] = []
        chosen = None
        for _ in range(self.skip_limit):
            popped = self.queue.pop_raw()
            if popped is None:
                break
            site = self._site(popped[0])
            if held is None or held.get(site, 0) < self._room(site):
                chosen = popped[0]
                break
            put_back.append(popped)
        for request, data in put_back:
            self.queue.unpop(request, data)
        if chosen is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return chosen

    def _site(self, request: Request) -> str:
        return self.spider.crawler.engine.downloader.get_slot_key(request)

    def _room(self, site: str) -> int:
        settings = self.spider.crawler.settings
        spec = settings.getdict("DOWNLOAD_SLOTS").get(site) or {}
        return int(spec.get("concurrency") or settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
                   or 1)

    def _held_per_site(self) -> dict[str, int] | None:
        """Requests per site this worker has taken and not finished (None: can't tell)."""
        slot = getattr(self.spider.crawler.engine, "_slot", None)
        inprogress = getattr(slot, "inprogress", None)
        if inprogress is None:
            return None
        held: dict[str, int] = {}
        for request in list(inprogress):
            site = self._site(request)
            held[site] = held.get(site, 0) + 1
        return held


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
        df.frontier = _frontier_filter(spider.crawler)
        return df

    def request_seen(self, request: Request) -> bool:
        if self.frontier is not None and self.frontier.request_seen(request):
            return True
        return super().request_seen(request)

    def close(self, reason: str = "") -> None:
        """Keep the shared set: other workers are still using it (the base class deletes it)."""


def _frontier_filter(crawler: Crawler) -> Any:
    try:
        from crawler.middlewares import FrontierDupeFilter
    except ImportError:  # pragma: no cover - the crawler package always ships it
        return None
    return FrontierDupeFilter.from_crawler(crawler)


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


# --------------------------------------------------------------------------- politeness
class SharedPolitenessMiddleware:
    """Downloader middleware: a request leaves only with one of its site's shared slots.

    Placed last before the download handler, it waits (without blocking the reactor) until the
    site has fewer than ``CONCURRENT_REQUESTS_PER_DOMAIN`` requests in flight across all
    workers and ``DOWNLOAD_DELAY`` has passed since the last start by any worker; the slot is
    given back when the response or the error comes back. Per-site overrides in
    ``DOWNLOAD_SLOTS`` (from the sources file) are honoured. A killed worker's slots expire
    after ``LEASE_MS`` because only live workers renew theirs.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.keys = Keys()
        self.wid = settings.get(S_WORKER) or worker_id()
        self.server = connect(settings.get(S_URL))
        self._slot = self.server.register_script(_SLOT)
        self._renew = self.server.register_script(_RENEW)
        self.concurrency = max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") or 1)
        self.delay = settings.getfloat("DOWNLOAD_DELAY")
        self.per_slot = settings.getdict("DOWNLOAD_SLOTS")
        self.held: dict[str, str] = {}  # lease token -> site
        self._n = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedPolitenessMiddleware:
        mw = cls(crawler)
        crawler.politeness = mw  # the worker extension renews leases on its heartbeat
        return mw

    def _site(self, request: Request) -> str:
        downloader = getattr(self.crawler.engine, "downloader", None)
        if downloader is not None and hasattr(downloader, "get_slot_key"):
            return downloader.get_slot_key(request)
        return urlsplit(request.url).hostname or ""

    def _limits(self, site: str) -> tuple[int, int]:
        spec = self.per_slot.get(site) or {}
        concurrency = int(spec.get("concurrency") or self.concurrency)
        delay = float(spec["delay"]) if spec.get("delay") is not None else self.delay
        return max(1, concurrency), int(delay * 1000)

    async def process_request(self, request: Request) -> None:
        import redis as redis_lib
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        site = self._site(request)
        concurrency, delay_ms = self._limits(site)
        self._n += 1
        token = f"{self.wid}:{self._n}"
        while True:
            if getattr(self.crawler, "redis_error", None) is not None:
                raise _requeue_later()
            try:
                wait_ms = self._slot(keys=[self.keys.slots(site), self.keys.next_start(site)],
                                     args=[concurrency, delay_ms, LEASE_MS, FULL_RETRY_MS, token])
            except redis_lib.RedisError as exc:
                # Not a failed page: the process stops and the URL stays queued.
                _fail_hard(self.crawler, exc)
                raise _requeue_later() from exc
            if not wait_ms:
                break
            await maybe_deferred_to_future(deferLater(reactor, int(wait_ms) / 1000.0))
        self.held[token] = site
        request.meta["politeness_token"] = token
        return None

    def _release(self, request: Request) -> None:
        import redis as redis_lib

        token = request.meta.pop("politeness_token", None)
        site = self.held.pop(token, None) if token else None
        if site is not None:
            try:
                self.server.zrem(self.keys.slots(site), token)
            except redis_lib.RedisError as exc:
                _fail_hard(self.crawler, exc)

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: BaseException) -> None:
        self._release(request)
        return None

    def renew(self) -> None:
        if self.held:
            tokens = list(self.held)
            self._renew(keys=[self.keys.slots(self.held[t]) for t in tokens],
                        args=[LEASE_MS, *tokens])


# --------------------------------------------------------------------------- the worker
def _requeue_later() -> Exception:
    """The crawl's own "not now" for a request: its URL stays queued in the corpus frontier
    (state ``queued``), so the next run fetches it."""
    from crawler.middlewares import SkipRequest

    return SkipRequest("Redis unavailable", state="queued")


def _fail_hard(crawler: Crawler, exc: BaseException) -> None:
    """Redis is gone: stop this process now, like a crash the crawl is built to survive.

    A graceful close would let the requests in flight fail and be recorded as failed pages;
    stopping the reactor instead leaves them queued in the corpus frontier, so the same
    command, once Redis is back, fetches them.
    """
    from twisted.internet import reactor

    if getattr(crawler, "redis_error", None) is None:
        crawler.redis_error = exc
        if reactor.running:
            reactor.callLater(0, reactor.stop)


class WorkerExtension:
    """The worker's heartbeat: liveness, acknowledgements, reaping, idle exit, counting.

    Every ``HEARTBEAT_SECONDS`` it renews the worker's alive key and politeness leases,
    acknowledges the requests Scrapy has finished with (those in the in-flight hash that are no
    longer in the engine), gives back the in-flight requests of dead workers, wakes the engine
    when the shared queue has work (Scrapy itself only looks every five seconds), and closes
    the spider once the crawl has been quiet for ``idle_exit`` seconds.
    """

    def __init__(self, crawler: Crawler):
        import redis as redis_lib

        self.crawler = crawler
        settings = crawler.settings
        self.redis_errors = (redis_lib.RedisError, OSError)
        self.keys = Keys()
        self.wid = settings.get(S_WORKER) or worker_id()
        self.server = connect(settings.get(S_URL))
        self._reap = self.server.register_script(_REAP)
        idle = settings.get(S_IDLE)
        self.idle_exit = float(idle) if idle not in (None, "") else None
        self.quiet_since: float | None = None
        self.run_id = str(settings.get(S_RUN) or "")
        self.requeued = 0
        self.loop: Any = None
        self.closing = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.worker = self

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerExtension:
        return cls(crawler)

    # ------------------------------------------------------------------ signals
    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        self._beat()
        self.server.sadd(self.keys.workers, self.wid)
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(HEARTBEAT_SECONDS, now=False).addErrback(
            lambda failure: _fail_hard(self.crawler, failure.value))

    def spider_idle(self, spider: Any) -> None:
        """Scrapy wants to close as soon as the queue looks empty; the tick decides instead."""
        if not self.closing:
            raise DontCloseSpider

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if getattr(self.crawler, "redis_error", None) is not None:
            return
        try:  # the engine is drained: nothing of ours is in flight any more
            self.server.hset(self.keys.counts, self.wid, self.pages_fetched())
            self.server.delete(self.keys.inflight(self.wid), self.keys.alive(self.wid))
            self.server.srem(self.keys.workers, self.wid)
        except self.redis_errors:
            pass

    # ------------------------------------------------------------------ heartbeat
    def _beat(self) -> None:
        self.server.set(self.keys.alive(self.wid), "1", ex=WORKER_TTL_SECONDS)

    def tick(self) -> None:
        if getattr(self.crawler, "redis_error", None) is not None or self.closing:
            return
        try:
            self._beat()
            self.server.sadd(self.keys.workers, self.wid)
            if self._superseded():
                return
            self.server.hset(self.keys.counts, self.wid, self.pages_fetched())
            politeness = getattr(self.crawler, "politeness", None)
            if politeness is not None:
                politeness.renew()
            busy_here = self._acknowledge()
            self.requeued += int(self._reap(keys=[self.keys.workers, self.keys.requests],
                                            args=[self.keys.prefix]) or 0)
            queued = self.server.zcard(self.keys.requests)
            if queued:
                self._wake_engine()
            quiet = not busy_here and not queued and not self._anyone_in_flight()
        except self.redis_errors as exc:
            _fail_hard(self.crawler, exc)
            return
        self._idle_check(quiet)

    def _superseded(self) -> bool:
        """A new crawl (another run) was published: this worker's config is stale, stop."""
        current = self.server.hget(self.keys.meta, "run")
        if current is None or not self.run_id or current.decode() == self.run_id:
            return False
        print(f"worker {self.wid}: a new crawl (run {current.decode()}) was published; "
              "stopping (start the worker again to join it)", file=sys.stderr)
        self._close("superseded")
        return True

    def _close(self, reason: str) -> None:
        from scrapy.utils.defer import deferred_from_coro

        self.closing = True
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    def pages_fetched(self) -> int:
        ctx = getattr(self.crawler.spider, "ctx", None)
        return ctx.report.pages_fetched if ctx is not None else 0

    def _acknowledge(self) -> bool:
        """Drop from our in-flight hash what the engine no longer holds; True if it holds any."""
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        inprogress = getattr(slot, "inprogress", None)
        if inprogress is None:  # an engine without the attribute: acknowledge at idle only
            if engine.spider_is_idle():
                self.server.delete(self.keys.inflight(self.wid))
                return False
            return True
        mine = {r.meta.get(FP_META) for r in list(inprogress)}
        held = {f.decode("ascii") for f in self.server.hkeys(self.keys.inflight(self.wid))}
        done = held - mine
        if done:
            self.server.hdel(self.keys.inflight(self.wid), *done)
        return bool(inprogress) or not engine.spider_is_idle()

    def _anyone_in_flight(self) -> bool:
        for wid in self.server.smembers(self.keys.workers):
            if self.server.hlen(self.keys.inflight(wid.decode())):
                return True
        return False

    def _wake_engine(self) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def _idle_check(self, quiet: bool) -> None:
        if not quiet:
            self.quiet_since = None
            return
        now = time.monotonic()
        if self.quiet_since is None:
            self.quiet_since = now
        if self.idle_exit is not None and now - self.quiet_since >= self.idle_exit:
            self._close("idle")


# --------------------------------------------------------------------------- shared caps
def shared_caps_context(config: CrawlConfig, store: Any, data_dir: Path, client: redis.Redis,
                        **kwargs: Any) -> CrawlContext:
    """A ``CrawlContext`` whose page caps (``--max-pages``, a source's ``max_pages``) count
    the requests of all workers, in Redis, instead of this process' alone.

    The check and the count are two steps, so N workers racing on the last free places can
    overshoot a cap by at most N - 1 pages: a cap, not an exact quota.
    """
    from crawler.run import CrawlContext

    class SharedCapsContext(CrawlContext):
        def _room(self, source: Any) -> bool:
            if self.config.max_pages is None and source.max_pages is None:
                return True
            try:
                total, here = client.hmget(Keys().scheduled, "", source.name)
            except _redis_errors():
                return False  # Redis is gone: the link stays queued in the frontier
            if self.config.max_pages is not None and int(total or 0) >= self.config.max_pages:
                return False
            return source.max_pages is None or int(here or 0) < source.max_pages

        def _count_scheduled(self, source_name: str) -> None:
            super()._count_scheduled(source_name)
            try:
                with client.pipeline() as pipe:
                    pipe.hincrby(Keys().scheduled, "", 1)
                    pipe.hincrby(Keys().scheduled, source_name, 1)
                    pipe.execute()
            except _redis_errors():
                pass  # the worker's heartbeat notices and stops the process

    return SharedCapsContext(config, store, data_dir, **kwargs)


# --------------------------------------------------------------------------- entry points
def redis_settings(redis_url: str, *, wid: str, seed: bool, idle_exit: float | None,
                   base: dict[str, Any], run_id: int | None = None) -> dict[str, Any]:
    """The overlay that turns the single-process crawl settings ``base`` into a worker's.

    ``SCHEDULER_PERSIST`` is the one setting scrapy-redis must not be left at its default:
    with it off, the first worker to finish would delete the queue and the fingerprint set
    that the others are still using.
    """
    keys = Keys()
    downloader_mws = dict(base.get("DOWNLOADER_MIDDLEWARES") or {})
    downloader_mws["crawler.distributed.SharedPolitenessMiddleware"] = 950
    spider_mws = dict(base.get("SPIDER_MIDDLEWARES") or {})
    spider_mws["crawler.distributed.SeedGate"] = 10
    extensions = dict(base.get("EXTENSIONS") or {})
    extensions["crawler.distributed.WorkerExtension"] = 100
    return {
        "SCHEDULER": "crawler.distributed.RedisScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.distributed.AckedQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": "crawler.distributed.SharedDupeFilter",
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


def _corpus_id(data_dir: Path) -> str:
    """Where the crawl's corpus is: workers must run on that host, on that file."""
    from corpus.paths import db_path

    return f"{socket.gethostname()}:{db_path(Path(data_dir)).resolve()}"


def _same_crawl(client: redis.Redis, keys: Keys, config: CrawlConfig) -> bool:
    """Is the crawl published in Redis this one (same sources and limits)? Then a seeder
    joins its live workers; otherwise it starts a new crawl."""
    from dataclasses import asdict

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


def _live_workers(client: redis.Redis, keys: Keys) -> list[str]:
    ids = [w.decode() for w in client.smembers(keys.workers)]
    return [w for w in ids if client.exists(keys.alive(w))]


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


def _wait_for_crawl(client: redis.Redis, keys: Keys, idle_exit: float | None) -> dict | None:
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


def _work(data_dir: Path, redis_url: str, *, config: CrawlConfig | None,
          idle_exit: float | None, on_page: Callable[[str], str | None] | None,
          progress: Callable[[str], None] | None, log_level: str | None = None) -> RunReport:
    from corpus.store import Store
    from crawler.run import RunReport

    keys = Keys()
    wid = worker_id()
    client = connect(redis_url)
    seed = config is not None
    try:
        if seed:
            live = _live_workers(client, keys)
            published = client.hget(keys.meta, "corpus")
            if live and published and published.decode() != _corpus_id(data_dir):
                raise BadInputError(
                    f"{redacted(redis_url)} is busy with a live crawl of another corpus "
                    f"({published.decode()}); use another Redis database (/DB in the URL)")
            if not _same_crawl(client, keys, config):
                live = []
            if not live:  # a new crawl: workers of an older one see the new run and stop
                client.delete(*keys.crawl_keys())
        else:
            meta = _wait_for_crawl(client, keys, idle_exit)
            if meta is None:
                _summary(wid, 0)
                return RunReport(outcome="idle")
            config = pickle.loads(meta["config"])
            corpus = meta["corpus"].decode()
            if corpus != _corpus_id(data_dir):
                raise BadInputError(
                    f"this worker's corpus {_corpus_id(data_dir)} is not the crawl's corpus "
                    f"{corpus}: run `aesthetics worker` on that host with that --data-dir")
    except _redis_errors() as exc:
        raise _unavailable(redis_url, exc, 0) from exc
    if log_level:
        config.log_level = log_level
    store = Store.open(data_dir, create=seed)
    ctx = shared_caps_context(config, store, data_dir, client, on_page=on_page,
                              progress=progress)
    run = None
    try:
        if seed and live:
            # Join the running crawl (e.g. its seeder died): keep its run, and never clear the
            # frontier under its workers' feet; its queued URLs are offered again (the shared
            # fingerprint set drops those still in Redis).
            run_id = int(client.hget(keys.meta, "run") or 0) or None
            run = next((r for r in store.runs(kind="crawl", limit=200) if r.id == run_id), None)
            ctx._resumable = [e for e in store.frontier_queued() if e[1] in ctx.sources]
            if run is None:
                raise BadInputError(f"the crawl published in {redacted(redis_url)} names run "
                                    f"{run_id}, which is not in this corpus")
        elif seed:
            run = store.start_run("crawl", {
                "sources": [s.name for s in config.sources], "conditional": False,
                "start_urls": [u for s in config.sources for u in s.start_urls][:20],
                "redis": redacted(redis_url), "workers": {}})
            run_id = run.id
            ctx.prepare_frontier()
            client.hset(keys.meta, mapping={
                "config": pickle.dumps(config), "corpus": _corpus_id(data_dir),
                "run": str(run.id)})
        else:
            run_id = int(meta["run"])
        ctx.report.run_id = run_id
        ctx.report.started = run.started if run is not None else ""
        crawler, reason = _run_scrapy(ctx, redis_url, wid=wid, seed=seed, idle_exit=idle_exit,
                                      run_id=run_id)
    except _redis_errors() as exc:
        if run is not None:
            _finish_seed(store, run, ctx, {wid: ctx.report.pages_fetched}, "failed")
        ctx.close()
        store.close()
        raise _unavailable(redis_url, exc, ctx.report.pages_fetched) from exc
    except BaseException:
        if run is not None:
            _finish_seed(store, run, ctx, {wid: ctx.report.pages_fetched}, "failed")
        ctx.close()
        store.close()
        raise
    error = getattr(crawler, "redis_error", None)
    fetched = ctx.report.pages_fetched
    counts = _final_counts(client, keys, wid, fetched, error)
    _record_worker(store, run_id, counts)
    if run is not None:
        outcome = "failed" if error else ("ok" if reason in ("idle", "finished") else "interrupted")
        _finish_seed(store, run, ctx, counts, outcome)
    else:
        ctx.report.outcome = "failed" if error else "ok"
    ctx.close()
    store.close()
    _summary(wid, fetched)
    if error is not None:
        raise _unavailable(redis_url, error, fetched)
    return ctx.report


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis as redis_lib

    return (redis_lib.RedisError,)


def _unavailable(redis_url: str, exc: BaseException, fetched: int) -> RedisUnavailableError:
    return RedisUnavailableError(
        f"Redis at {redacted(redis_url)} went away ({exc}); this worker stopped after "
        f"{fetched} pages. Pages stored so far are kept and the rest is still queued in the "
        "corpus frontier: once Redis is back, run `aesthetics crawl --redis ...` again to "
        "finish the crawl")


def _run_scrapy(ctx: CrawlContext, redis_url: str, *, wid: str, seed: bool,
                idle_exit: float | None, run_id: int | None) -> tuple[Any, str]:
    from scrapy.crawler import CrawlerProcess

    from crawler.run import scrapy_settings
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
        if getattr(crawler, "redis_error", None) is None:
            crawler.redis_error = failure.value

    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler, ctx=ctx).addErrback(failed)
    process.start()
    error = getattr(crawler, "redis_error", None)
    if error is not None and not isinstance(error, (RedisUnavailableError, *_redis_errors())):
        raise error  # not Redis: a real bug, shown as such
    return crawler, ended["reason"]


def _final_counts(client: redis.Redis, keys: Keys, wid: str, fetched: int,
                  error: BaseException | None) -> dict[str, int]:
    """Every worker's count as Redis knows it (just ours if Redis is gone)."""
    if error is None:
        try:
            client.hset(keys.counts, wid, fetched)
            return {k.decode(): int(v) for k, v in client.hgetall(keys.counts).items()}
        except _redis_errors():
            pass
    return {wid: fetched}


def _record_worker(store: Any, run_id: int | None, counts: dict[str, int]) -> None:
    """Merge worker counts into the run's ``details["workers"]`` (one transaction, so two
    workers finishing together don't overwrite each other)."""
    if run_id is None:
        return
    with store.transaction():
        run = next((r for r in store.runs(kind="crawl", limit=200) if r.id == run_id), None)
        if run is None:
            return
        workers = dict(run.details.get("workers") or {})
        workers.update(counts)
        run.details = {**run.details, "workers": workers}
        store.update_run(run)


def _finish_seed(store: Any, run: Any, ctx: CrawlContext, counts: dict[str, int],
                 outcome: str) -> None:
    report = ctx.report
    report.queued_left = store.frontier_counts().get("queued", 0)
    report.outcome = outcome
    fresh = next((r for r in store.runs(kind="crawl", limit=200) if r.id == run.id), run)
    workers = {**(fresh.details.get("workers") or {}), **counts}
    run.details = {**fresh.details, "per_site": report.per_site,
                   "skip_reasons": report.skip_reasons, "errors": report.errors[:50],
                   "workers": workers}
    run.counts = {**report.counts(), "pages_fetched_all_workers": sum(workers.values())}
    store.finish_run(run, outcome)
    report.finished = run.finished
    ctx.tick(force=True)


def _summary(wid: str, fetched: int) -> None:
    print(f"worker {wid}: {fetched} pages fetched", file=sys.stderr, flush=True)
