"""The crawl run record of a distributed crawl: each worker's page count merged into one run.

The seeder owns the run (it starts and finishes it); every worker adds its count to the run's
``details["workers"]``, and ends with ``worker <id>: <N> pages fetched`` on stderr.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import redis

from crawler.distributed.keys import Keys

if TYPE_CHECKING:
    from corpus.models import Run
    from corpus.store import Store
    from crawler.run import CrawlContext


def find_run(store: Store, run_id: int | None) -> Run | None:
    """The crawl run ``run_id`` as the corpus has it now (another worker may have updated it)."""
    return next((r for r in store.runs(kind="crawl", limit=200) if r.id == run_id), None)


def final_counts(client: redis.Redis, keys: Keys, wid: str, fetched: int,
                 error: BaseException | None) -> dict[str, int]:
    """Every worker's count as Redis knows it (just ours if Redis is gone)."""
    if error is None:
        try:
            client.hset(keys.counts, wid, fetched)
            return {k.decode(): int(v) for k, v in client.hgetall(keys.counts).items()}
        except redis.RedisError:
            pass
    return {wid: fetched}


def record_worker(store: Store, run_id: int | None, counts: dict[str, int]) -> None:
    """Merge worker counts into the run's ``details["workers"]`` (one transaction, so two
    workers finishing together don't overwrite each other)."""
    if run_id is None:
        return
    with store.transaction():
        run = find_run(store, run_id)
        if run is None:
            return
        workers = dict(run.details.get("workers") or {})
        workers.update(counts)
        run.details = {**run.details, "workers": workers}
        store.update_run(run)


def finish_seed_run(store: Store, run: Run, ctx: CrawlContext, counts: dict[str, int],
                    outcome: str) -> None:
    """Close the seeder's run: its report, plus the counts of all workers recorded so far."""
    report = ctx.report
    report.queued_left = store.frontier_counts(sites=ctx.sources).get("queued", 0)
    report.outcome = outcome
    fresh = find_run(store, run.id) or run
    workers = {**(fresh.details.get("workers") or {}), **counts}
    run.details = {**fresh.details, "per_site": report.per_site,
                   "skip_reasons": report.skip_reasons, "errors": report.errors[:50],
                   "workers": workers}
    run.counts = {**report.counts(), "pages_fetched_all_workers": sum(workers.values())}
    store.finish_run(run, outcome)
    report.finished = run.finished
    ctx.tick(force=True)


def print_summary(wid: str, fetched: int) -> None:
    """The worker's last line on stderr (scripts and tests read it)."""
    print(f"worker {wid}: {fetched} pages fetched", file=sys.stderr, flush=True)
