"""``aesthetics worker``: one more fetcher for a distributed crawl published in Redis.

Scrapy and Redis are imported only inside the command; the work is in
``crawler.distributed.work``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from search_cli.options import app, data_dir_option, format_option
from search_cli.output import emit_object, info, progress


@click.command()
@click.option("--redis", "redis_url", required=True, metavar="URL",
              help="The crawl's Redis, e.g. redis://127.0.0.1:6379/0.")
@click.option("--idle-exit", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Exit once the shared queue has been empty (and nothing in flight) this "
                   "long. Default: run until stopped (Ctrl-C).")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line on stderr.")
@format_option("table", "json")
@data_dir_option
def worker(redis_url: str, idle_exit: float | None, verbose: bool, quiet: bool,
           fmt: str) -> None:
    """Fetch pages for the distributed crawl published in Redis by `aesthetics crawl --redis`.

    Start as many as you like, on the machine that holds the corpus (same --data-dir): they
    share the queue, the duplicate filter and each site's politeness budget (its concurrency
    and delay count for all workers together), and write into the one corpus. A worker started
    before the crawl waits for it. Killing a worker loses nothing: its in-flight pages go back
    to the queue. If Redis goes away the worker stops with exit code 1; rerun the crawl
    command once Redis is back. Ends with `worker <id>: <N> pages fetched` on stderr.

    \b
    Example:
      aesthetics crawl --sources sources.toml --redis redis://127.0.0.1:6379/0 &
      aesthetics worker --redis redis://127.0.0.1:6379/0 --idle-exit 30
    """
    from crawler.distributed import work

    data_dir = app().data_dir
    documents = _Documents(data_dir, quiet)
    report = work(data_dir, redis_url, idle_exit=idle_exit, on_page=documents.process,
                  progress=lambda line: progress(line, quiet=quiet),
                  log_level="INFO" if verbose else ("ERROR" if quiet else None))
    documents.finish()
    if sys.stderr.isatty() and not quiet:
        click.echo("", err=True)
    emit_object({"run": report.run_id, "outcome": report.outcome,
                 "pages_fetched": report.pages_fetched, "pages_stored": report.pages_stored,
                 "articles": report.articles, "errors": len(report.errors)}, fmt)


class _Documents:
    """The cleaner/annotator step, opened on the first stored page: a worker waiting for a
    crawl, or pointed at the wrong data dir, must not create a corpus."""

    def __init__(self, data_dir: Path, quiet: bool):
        self.data_dir = data_dir
        self.quiet = quiet
        self.processor = None
        self.store = None
        self.missing = False

    def process(self, url: str) -> str | None:
        if self.processor is None and not self.missing:
            try:
                from corpus.store import Store
                from indexer.process import PageProcessor

                self.store = Store.open(self.data_dir, create=False)
                self.processor = PageProcessor(self.store, self.data_dir)
            except ImportError as exc:
                self.missing = True
                info(f"note: pages are stored but not cleaned into documents ({exc})",
                     quiet=self.quiet)
        return self.processor.process(url) if self.processor is not None else None

    def finish(self) -> None:
        """Clean what was stored but not cleaned (e.g. by a killed worker)."""
        if self.processor is not None:
            self.processor.process_pending()
        if self.store is not None:
            self.store.close()
