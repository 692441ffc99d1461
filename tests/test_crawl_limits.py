"""A sources file's include/exclude patterns and page caps, across two runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_aesthetics
from tests.test_crawl_resume import N_ARTICLES, _make_site


def test_sources_file_excludes_and_page_cap_then_continue(tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    _make_site(root, delay=0)
    server = site_server(root)
    sources = tmp_path / "sources.toml"
    sources.write_text(f"""
[[site]]
name = "notes"
start_urls = ["{server.url('/')}"]
exclude = ['/note-0[0-4][.]html']
max_pages = 10
""", encoding="utf-8")
    data_dir = tmp_path / "data"

    def pages_requested() -> list[str]:
        return [r["path"] for r in server.requests()
                if r["path"] not in ("/robots.txt", "/sitemap.xml")]

    first = run_aesthetics("crawl", "--sources", str(sources), "--delay", "0", "--no-index",
                           "--format", "json", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert len(pages_requested()) == 10 == summary["pages_fetched"]
    assert summary["queued_left"] > 0 and summary["per_site"]["notes"]["stored"] == 10

    second = run_aesthetics("crawl", "--sources", str(sources), "--delay", "0", "--no-index",
                            "--format", "json", data_dir=data_dir)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["resumed"] == 10
    paths = pages_requested()
    assert len(paths) == len(set(paths)) == 20  # the second run continued, refetched nothing
    excluded = {f"/articles/note-0{i}.html" for i in range(5)}
    assert not excluded & {p.split("?")[0] for p in paths}
    assert N_ARTICLES > 20
