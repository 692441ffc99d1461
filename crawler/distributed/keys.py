"""Every Redis key of one distributed crawl, in one place (docs/scaling.md lists them)."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "aesthetics"  # one distributed crawl per Redis database: pick another /DB for a second


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
