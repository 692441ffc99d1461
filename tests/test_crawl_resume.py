"""kill -9 in the middle of a crawl, then the same command again: nothing lost, nothing twice.

The frontier lives in the corpus and each page row is written in the same transaction as its
frontier state, so the second run re-requests only what was queued or in flight.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from corpus.store import Store
from crawler.siteserver import SiteServer
from tests.conftest import run_aesthetics
from tests.crawl_support import N_ARTICLES, kill_crawl_when_stored, make_site, stored_urls


def _crawl_args(server: SiteServer) -> list[str]:
    return ["crawl", server.url("/"), "--delay", "0", "--no-index", "-q"]


def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    make_site(root)
    server = site_server(root)
    data_dir = tmp_path / "killed"
    kill_crawl_when_stored(data_dir, server, 8)
    killed_at = time.time()
    before = set(stored_urls(data_dir))
    assert 8 <= len(before) < N_ARTICLES + 1, "the crawl should have been cut in the middle"

    again = run_aesthetics(*_crawl_args(server), "--format", "json", data_dir=data_dir,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["outcome"] == "ok" and summary["resumed"] > 0

    # Pages stored before the kill were not fetched again by the second run.
    second_run = [r for r in server.requests() if killed_at <= r["time"]]
    refetched = {server.url(r["path"]) for r in second_run} & before
    assert refetched == set()

    clean_dir = tmp_path / "clean"
    clean = run_aesthetics(*_crawl_args(server), data_dir=clean_dir, timeout=120)
    assert clean.returncode == 0, clean.stderr

    resumed = stored_urls(data_dir)
    assert len(resumed) == len(set(resumed))
    assert set(resumed) == set(stored_urls(clean_dir))
    assert len(resumed) == N_ARTICLES + 1

    with Store.open(data_dir, create=False) as store:
        assert store.integrity_check() == "ok"
        runs = store.runs(kind="crawl")
        assert [r.outcome for r in runs] == ["ok", "interrupted"]
        assert store.frontier_counts().get("queued", 0) == 0
        docs = [d.url for d in store.iter_documents()]
    # every article became exactly one document (when the cleaner step is installed)
    assert len(docs) == len(set(docs))
    if docs:
        assert set(docs) == {u for u in resumed if "/articles/" in u}
