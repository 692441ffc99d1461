"""demo: the whole pipeline on the bundled sample site, offline, in one command.

A new user (and CI) should see crawl -> clean -> index -> search work without network or a
sources file. The sample site ships as package data (``search_cli/demo_site``); it is copied
to a scratch directory and served by the same real HTTP server the tests use, on 127.0.0.1
(port DEMO_PORT when free, else any free port). Its absolute URLs (canonical links, sitemap, robots.txt) carry the
placeholder host ``http://SITE_HOST`` because the port is only known once the server runs;
the copy is rewritten with the real address right after the server starts (the server reads
files on every request, so no restart is needed).

Each step calls the code the ``crawl`` and ``search`` commands use, so the demo shows what
those commands do, not a parallel imitation of them.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from corpus.errors import EXIT_CODES_HELP
from search_cli.options import app, format_option
from search_cli.output import info

if TYPE_CHECKING:
    from crawler.sources import Source

DEMO_SITE = Path(__file__).resolve().parent.parent / "demo_site"
PLACEHOLDER_HOST = "http://SITE_HOST"
DEFAULT_QUERY = "filler risks blindness"
SITE_NAME = "demo-site"
MAX_PAGES = 200  # the site has ~45 pages; the caps only matter if a trap is followed
MAX_DEPTH = 4  # every article is in the sitemap and at most 3 links from the home page
DEMO_PORT = 8765
_TEXT_SUFFIXES = {".html", ".xml", ".txt"}


def copy_demo_site(dest: Path) -> Path:
    """Copy the bundled site to ``dest`` (a fresh directory) so it can be rewritten freely."""
    shutil.copytree(DEMO_SITE, dest, ignore=shutil.ignore_patterns("_README.md"))
    return dest


def bind_host(root: Path, base_url: str) -> int:
    """Replace the placeholder host by ``base_url`` in every text file; returns files changed."""
    base_url = base_url.rstrip("/")
    changed = 0
    for path in sorted(root.rglob("*")):
        if path.suffix not in _TEXT_SUFFIXES or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if PLACEHOLDER_HOST in text:
            path.write_text(text.replace(PLACEHOLDER_HOST, base_url), encoding="utf-8")
            changed += 1
    return changed


@contextmanager
def serve_demo_site(workdir: Path, log_path: Path | None = None) -> Iterator:
    """Serve a bound copy of the demo site from ``workdir/site``; yields the SiteServer."""
    from crawler.siteserver import SiteServer

    root = copy_demo_site(Path(workdir) / "site")
    server = SiteServer(root, log_path=log_path, port=_preferred_port())
    try:
        server.start()
    except RuntimeError:  # lost a race for the preferred port: any free one will do
        server = SiteServer(root, log_path=log_path).start()
    try:
        bind_host(root, server.base)
        yield server
    finally:
        server.stop()


def _preferred_port() -> int:
    """DEMO_PORT when it is free, else 0 (any free port).

    A stable port gives stable URLs, so running the demo twice into one --data-dir
    refreshes the same documents instead of adding a second copy under another port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", DEMO_PORT))
        except OSError:
            return 0
    return DEMO_PORT


DEMO_EPILOG = EXIT_CODES_HELP + """

Without --data-dir everything happens in a temporary directory that is removed afterwards
(--keep keeps it and prints where). With --data-dir the corpus and index stay there, so
`aesthetics --data-dir DIR search ...` works on the demo corpus later.

\b
Example:
  aesthetics demo
  aesthetics demo "nose job swelling"
  aesthetics demo "双眼皮 恢复" --data-dir ./demo-data
"""


@click.command(epilog=DEMO_EPILOG)
@click.argument("query", required=False, default=DEFAULT_QUERY)
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo corpus and index in DIR (default: a temporary directory).")
@click.option("--keep", is_flag=True, help="Keep the temporary data dir and print its path.")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True, metavar="N",
              help="Hits to show.")
@format_option("table", "json", "jsonl", "csv", "urls")
def demo(query: str, data_dir: Path | None, keep: bool, limit: int, fmt: str) -> None:
    """Crawl, index and search the bundled sample site, offline.

    Serves the sample site (26 articles on aesthetic procedures and their risks, with
    menus, sidebars, comments, a sitemap, robots.txt and a few crawler traps) on
    127.0.0.1 (port 8765 when free, else any free port), crawls it with the real crawler, cleans and indexes the articles and
    runs QUERY (default: "filler risks blindness"). Results go to stdout, progress to stderr.
    """
    ctx = click.get_current_context()
    data_dir = data_dir or _explicit_group_data_dir(ctx)
    work = Path(tempfile.mkdtemp(prefix="aesthetics-demo-"))
    try:
        target = data_dir or work / "data"
        app(ctx).data_dir_arg = str(target)
        _run(ctx, work, target, query, limit, fmt)
    finally:
        if keep and data_dir is None:
            info(f"demo: kept the data dir {work / 'data'}")
            shutil.rmtree(work / "site", ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _explicit_group_data_dir(ctx: click.Context) -> Path | None:
    """`aesthetics --data-dir DIR demo` counts; $AESTHETICS_DATA_DIR does not (a demo must
    not mix sample pages into the user's real corpus)."""
    parent = ctx.parent
    if parent is None or not parent.params.get("data_dir"):
        return None
    source = parent.get_parameter_source("data_dir")
    if source is not None and source.name == "COMMANDLINE":
        return Path(parent.params["data_dir"])
    return None


def _run(ctx: click.Context, work: Path, data_dir: Path, query: str, limit: int,
         fmt: str) -> None:
    """Serve and crawl (the crawl command cleans and indexes as it goes), then search."""
    from search_cli.commands.search import search

    with serve_demo_site(work, log_path=work / "requests.jsonl") as server:
        info(f"demo: serving the sample site at {server.base}/ (data dir: {data_dir})")
        _crawl_step(server.base, data_dir)
    info(f"demo: searching for {query!r}")
    ctx.invoke(search, query=query, limit=limit, fmt=fmt)


def demo_source(base_url: str) -> Source:
    """The crawl source for the served site: home page and sitemap, bounded so that the
    calendar trap cannot keep the demo busy even if the crawler's trap guard missed it."""
    from crawler.sources import Source

    base_url = base_url.rstrip("/")
    return Source(name=SITE_NAME, start_urls=[base_url + "/"],
                  sitemap_urls=[base_url + "/sitemap.xml"], max_pages=MAX_PAGES,
                  max_depth=MAX_DEPTH, delay=0.0, language="en")


def _crawl_step(base_url: str, data_dir: Path) -> None:
    """Crawl, clean and index through the crawl command's own runner."""
    from corpus.lock import DataDirLock
    from crawler.run import CrawlConfig
    from search_cli.commands.crawl import crawl_and_index

    info("demo: crawling with the real crawler (robots.txt obeyed, sitemap read, "
         "traps bounded), cleaning and indexing as pages arrive…")
    config = CrawlConfig(sources=[demo_source(base_url)], max_pages=MAX_PAGES, depth=MAX_DEPTH,
                         concurrency=4, delay=0.0, resume=False, log_level="ERROR")
    with DataDirLock(data_dir, "crawl", command="aesthetics demo"):
        summary = crawl_and_index(config, data_dir, fresh=True, no_index=False,
                                    verbose=False, quiet=False)
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(summary.get("skip_reasons", {}).items()))
    if reasons:
        info(f"demo: skipped URLs: {reasons}")
