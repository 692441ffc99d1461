"""A sources file's include/exclude patterns and page caps, across two runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_aesthetics
from tests.crawl_support import N_ARTICLES, make_site


def test_sources_file_excludes_and_page_cap_then_continue(tmp_path: Path, site_server) -> None:
    root = tmp_path / "site"
    make_site(root, delay=0)
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


def test_two_sites_in_one_sources_file(tmp_path: Path, site_server) -> None:
    roots = {}
    for name in ("alpha", "beta"):
        root = tmp_path / name
        (root / "p").mkdir(parents=True)
        for i in range(3):
            (root / "p" / f"{i}.html").write_text(
                f"<html><head><title>{name} {i}</title></head><body><p>{name} page {i}</p>"
                "</body></html>", encoding="utf-8")
        (root / "index.html").write_text("<html><body>nothing linked here</body></html>")
        (root / "map.xml").write_text(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>/p/{i}.html</loc></url>" for i in range(3)) + "</urlset>")
        roots[name] = site_server(root, name=name)
    alpha, beta = roots["alpha"], roots["beta"]
    # alpha links to beta: a link to another configured site is still not followed from alpha
    (tmp_path / "alpha" / "index.html").write_text(
        f'<html><body><a href="{beta.url("/p/0.html")}">beta</a></body></html>')
    sources = tmp_path / "sources.toml"
    sources.write_text(f"""
[defaults]
max_depth = 1

[[site]]
name = "alpha"
start_urls = ["{alpha.url('/')}"]
sitemap_urls = ["{alpha.url('/map.xml')}"]

[[site]]
name = "beta"
start_urls = ["{beta.url('/')}"]
sitemap_urls = ["{beta.url('/map.xml')}"]
""", encoding="utf-8")
    data_dir = tmp_path / "data"
    done = run_aesthetics("crawl", "--sources", str(sources), "--delay", "0", "--no-index",
                          "--format", "json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert {k: v["stored"] for k, v in summary["per_site"].items()} == {"alpha": 4, "beta": 4}
    from corpus.store import Store

    with Store.open(data_dir, create=False) as store:
        sites = {p.url: p.site for p in store.iter_pages()}
    assert sites[beta.url("/p/0.html")] == "beta"
    assert all(site == ("alpha" if url.startswith(alpha.base) else "beta")
               for url, site in sites.items())
    beta_pages = [r["path"] for r in beta.requests() if r["path"].startswith("/p/")]
    assert sorted(beta_pages) == ["/p/0.html", "/p/1.html", "/p/2.html"]
