"""The crawl's ``CrawlContext`` fitted to N workers: page caps counted across all of them
(``has_room`` / ``count_scheduled`` overridden), and a joining seeder's resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from crawler.distributed.keys import Keys
from crawler.run import CrawlConfig, CrawlContext

if TYPE_CHECKING:
    from corpus.store import Store
    from crawler.sources import Source


class SharedCapsContext(CrawlContext):
    """A ``CrawlContext`` whose page caps count the requests of all workers, in Redis.

    The check and the count are two steps, so N workers racing on the last free places can
    overshoot a cap by at most N - 1 pages: a cap, not an exact quota.
    """

    def __init__(self, config: CrawlConfig, store: Store, data_dir: Path,
                 client: redis.Redis, **kwargs: Any):
        super().__init__(config, store, data_dir, **kwargs)
        self.redis_client = client
        self.redis_keys = Keys()

    def has_room(self, source: Source) -> bool:
        if self.config.max_pages is None and source.max_pages is None:
            return True
        try:
            total, here = self.redis_client.hmget(self.redis_keys.scheduled, "", source.name)
        except redis.RedisError:
            return False  # Redis is gone: the link stays queued in the frontier
        if self.config.max_pages is not None and int(total or 0) >= self.config.max_pages:
            return False
        return source.max_pages is None or int(here or 0) < source.max_pages

    def count_scheduled(self, source_name: str) -> None:
        super().count_scheduled(source_name)
        try:
            with self.redis_client.pipeline() as pipe:
                pipe.hincrby(self.redis_keys.scheduled, "", 1)
                pipe.hincrby(self.redis_keys.scheduled, source_name, 1)
                pipe.execute()
        except redis.RedisError:
            pass  # the worker's heartbeat notices and stops the process


def resume_queued(ctx: CrawlContext, store: Store) -> None:
    """Offer the frontier's queued URLs of this crawl's sources again, leaving the frontier
    as it is (a seeder joining live workers must never clear it under their feet)."""
    ctx.resume_from(store.frontier_queued(sites=ctx.sources))
