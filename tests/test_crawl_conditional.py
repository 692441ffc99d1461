"""Refresh support: ``crawl(conditional=True, revisit=[...])`` re-requests known pages with
their stored validators; a 304 keeps the body and skips the document step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from corpus.store import Store
from tests.conftest import REPO, run_aesthetics

BODY = ("<p>After a brow lift the forehead feels tight and numb for some weeks; the numbness "
        "fades as the sensory nerves recover. Patients keep the head raised when resting.</p>")

SCRIPT = """
import json, sys
from pathlib import Path
from crawler.run import CrawlConfig, crawl
from crawler.sources import sources_from_urls

base, data_dir, revisit = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
calls, lines = [], []
config = CrawlConfig(sources=sources_from_urls([base]), delay=0)
report = crawl(config, data_dir, on_page=lambda url: calls.append(url) or "changed",
               progress=lines.append, conditional=True, revisit=revisit)
print(json.dumps({"report": report.to_dict(), "calls": calls, "progress": lines}))
"""


def _article(root: Path, name: str, extra: str = "") -> None:
    (root / f"{name}.html").write_text(
        f"<html><head><title>{name}</title></head><body><article><h1>{name}</h1>{BODY}{extra}"
        "</article></body></html>", encoding="utf-8")


def test_revisit_with_validators(tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    root.mkdir()
    names = ["same-a", "same-b", "edited", "removed"]
    for name in names:
        _article(root, name)
    (root / "index.html").write_text(
        "<html><body>" + "".join(f'<a href="/{n}.html">{n}</a>' for n in names)
        + "</body></html>", encoding="utf-8")
    server = site_server(root)
    data_dir = tmp_path / "data"
    first = run_aesthetics("crawl", server.url("/"), "--delay", "0", "--no-index",
                           data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    with Store.open(data_dir, create=False) as store:
        before = {p.url: p for p in store.iter_pages(with_html=True)}
    assert len(before) == 5 and all(p.etag for p in before.values())

    _article(root, "edited", "<p>Updated: bruising is also common around the eyes.</p>")
    (root / "removed.html").unlink()
    requests_before = len(server.requests())
    urls = [server.url(f"/{n}.html") for n in names]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", SCRIPT, server.url("/"), str(data_dir),
                           json.dumps(urls)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    report, calls = out["report"], out["calls"]

    assert calls == [server.url("/edited.html")]  # 304s and 404s never reach on_page
    assert report["not_modified"] == 3  # same-a, same-b and the start page
    assert report["gone"] == [server.url("/removed.html")]
    assert report["outcome"] == "ok"
    assert out["progress"][-1].startswith(
        "fetched 5 · queued 0 · stored 1 · articles 1 · errors 1")

    second = server.requests()[requests_before:]
    by_path = {r["path"]: r for r in second if r["path"] != "/robots.txt"}
    assert by_path["/same-a.html"]["status"] == 304
    assert by_path["/same-a.html"]["if_none_match"] == before[urls[0]].etag
    assert by_path["/edited.html"]["status"] == 200
    assert by_path["/removed.html"]["status"] == 404
    assert len([r for r in second if r["path"] == "/same-a.html"]) == 1

    with Store.open(data_dir, create=False) as store:
        same = store.get_page(urls[0])
        assert same.html == before[urls[0]].html and same.content_hash == before[urls[0]].content_hash
        assert same.checked_at >= before[urls[0]].checked_at and same.status == 200
        edited = store.get_page(urls[2])
        assert "Updated: bruising" in edited.html
        removed = store.get_page(urls[3])
        assert removed.status == 404 and removed.gone_count == 1
        assert removed.html == before[urls[3]].html  # the last good body is kept
