"""Distributed crawl on Redis: N Scrapy workers share one queue, one politeness budget per site
and one corpus.

The engine is scrapy-redis (its Scheduler, request queue and RFPDupeFilter, checked against
Scrapy 2.19); this package only adds what a crawl that must lose nothing needs on top of it:

* **Acknowledged pops** (``acked_queue``, ``heartbeat``). A popped request waits in the
  worker's in-flight hash until Scrapy has fully handled it; a worker whose heartbeat stops
  has its in-flight requests put back by the others, so ``kill -9`` loses nothing.
* **Shared politeness** (``politeness``). A site gets the same budget from N workers as from
  one: its per-domain concurrency and delay count across all workers, kept in Redis.
* **One corpus** (``worker``, ``coordinator``). Workers run on the machine that holds the data
  dir and write through the normal crawl pipeline into the same SQLite file; the corpus
  frontier stays the crawl's memory, so a crawl whose Redis vanished is resumed from it.
* **Idle exit and summary** (``heartbeat``, ``run_report``). A worker stops once the shared
  queue has been empty (and nothing is in flight anywhere) for ``idle_exit`` seconds, prints
  ``worker <id>: <N> pages fetched`` and records its count in the run's ``details["workers"]``.

Modules: ``connection`` (connect, worker ids, Redis going away), ``keys`` (Redis key names),
``worker_settings`` (the Scrapy settings overlay), ``acked_queue``, ``scheduler`` (scheduler,
dupefilter, seed gate), ``politeness``, ``heartbeat``, ``engine`` (the Scrapy engine internals
we read), ``crawl_context`` (page caps shared by all workers, through ``crawler.run``'s
public hooks), ``coordinator`` (start, join or wait for a crawl), ``run_report``, ``worker``
(entry points). docs/scaling.md explains the design, its limits and the plan past them.
"""

from crawler.distributed.acked_queue import FP_META, AckedQueue
from crawler.distributed.connection import RedisUnavailableError, connect, redacted, worker_id
from crawler.distributed.crawl_context import SharedCapsContext
from crawler.distributed.heartbeat import HEARTBEAT_SECONDS, WORKER_TTL_SECONDS, WorkerExtension
from crawler.distributed.keys import PREFIX, Keys
from crawler.distributed.politeness import (
    FULL_RETRY_MS,
    LEASE_MS,
    SharedPolitenessMiddleware,
    SiteLimits,
)
from crawler.distributed.scheduler import RedisScheduler, SeedGate, SharedDupeFilter
from crawler.distributed.worker import seed_and_work, work
from crawler.distributed.worker_settings import (
    S_IDLE,
    S_RUN,
    S_SEED,
    S_URL,
    S_WORKER,
    redis_settings,
)

__all__ = [
    "FP_META", "FULL_RETRY_MS", "HEARTBEAT_SECONDS", "LEASE_MS", "PREFIX", "S_IDLE", "S_RUN",
    "S_SEED", "S_URL", "S_WORKER", "WORKER_TTL_SECONDS", "AckedQueue", "Keys", "RedisScheduler",
    "RedisUnavailableError", "SeedGate", "SharedCapsContext", "SharedDupeFilter",
    "SharedPolitenessMiddleware", "SiteLimits", "WorkerExtension", "connect", "redacted",
    "redis_settings", "seed_and_work", "work", "worker_id",
]
