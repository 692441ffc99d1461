"""The worker's heartbeat: liveness, acknowledgements, recovery of dead workers' requests,
idle exit and the per-worker page count.

A request popped from the shared queue waits in the worker's in-flight hash
(``acked_queue.py``) until Scrapy has fully handled it (page stored, links queued); the
heartbeat then acknowledges it. Every worker keeps a heartbeat key alive; when one stops
beating, any other worker puts its in-flight requests back in the queue.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.defer import deferred_from_coro

from crawler.distributed.acked_queue import FP_META
from crawler.distributed.connection import fail_hard, redis_error
from crawler.distributed.engine import requests_in_progress, wake_engine
from crawler.distributed.keys import Keys
from crawler.distributed.worker_settings import S_RUN, client_of, idle_exit_of, worker_id_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

HEARTBEAT_SECONDS = 1.0  # how often a worker beats, sweeps acks and checks for dead peers
WORKER_TTL_SECONDS = 8  # a worker silent this long is dead; its in-flight requests go back

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

# A heartbeat that fails with these means Redis is gone (a dropped socket can surface as OSError).
_REDIS_GONE = (redis.RedisError, OSError)


class WorkerExtension:
    """The worker's heartbeat: liveness, acknowledgements, reaping, idle exit, counting.

    Every ``HEARTBEAT_SECONDS`` it renews the worker's alive key and politeness leases,
    acknowledges the requests Scrapy has finished with (those in the in-flight hash that are no
    longer in the engine), gives back the in-flight requests of dead workers, wakes the engine
    when the shared queue has work (Scrapy itself only looks every five seconds), and closes
    the spider once the crawl has been quiet for ``idle_exit`` seconds.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.keys = Keys()
        self.wid = worker_id_of(settings)
        self.server = client_of(settings)
        self._reap = self.server.register_script(_REAP)
        self.idle_exit = idle_exit_of(settings)
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
            lambda failure: fail_hard(self.crawler, failure.value))

    def spider_idle(self, spider: Any) -> None:
        """Scrapy wants to close as soon as the queue looks empty; the tick decides instead."""
        if not self.closing:
            raise DontCloseSpider

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if redis_error(self.crawler) is not None:
            return
        try:  # the engine is drained: nothing of ours is in flight any more
            self.server.hset(self.keys.counts, self.wid, self.pages_fetched())
            self.server.delete(self.keys.inflight(self.wid), self.keys.alive(self.wid))
            self.server.srem(self.keys.workers, self.wid)
        except _REDIS_GONE:
            pass

    # ------------------------------------------------------------------ heartbeat
    def tick(self) -> None:
        if redis_error(self.crawler) is not None or self.closing:
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
                wake_engine(self.crawler)
            quiet = not busy_here and not queued and not self._anyone_in_flight()
        except _REDIS_GONE as exc:
            fail_hard(self.crawler, exc)
            return
        self._idle_check(quiet)

    def _beat(self) -> None:
        self.server.set(self.keys.alive(self.wid), "1", ex=WORKER_TTL_SECONDS)

    def _superseded(self) -> bool:
        """A new crawl (another run) was published: this worker's config is stale, stop."""
        current = self.server.hget(self.keys.meta, "run")
        if current is None or not self.run_id or current.decode() == self.run_id:
            return False
        print(f"worker {self.wid}: a new crawl (run {current.decode()}) was published; "
              "stopping (start the worker again to join it)", file=sys.stderr)
        self._close("superseded")
        return True

    def pages_fetched(self) -> int:
        ctx = getattr(self.crawler.spider, "ctx", None)
        return ctx.report.pages_fetched if ctx is not None else 0

    def _acknowledge(self) -> bool:
        """Drop from our in-flight hash what the engine no longer holds; True if it holds any."""
        engine = self.crawler.engine
        inprogress = requests_in_progress(self.crawler)
        if inprogress is None:  # an engine without the attribute: acknowledge at idle only
            if engine.spider_is_idle():
                self.server.delete(self.keys.inflight(self.wid))
                return False
            return True
        mine = {r.meta.get(FP_META) for r in inprogress}
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

    def _idle_check(self, quiet: bool) -> None:
        if not quiet:
            self.quiet_since = None
            return
        now = time.monotonic()
        if self.quiet_since is None:
            self.quiet_since = now
        if self.idle_exit is not None and now - self.quiet_since >= self.idle_exit:
            self._close("idle")

    def _close(self, reason: str) -> None:
        self.closing = True
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))
