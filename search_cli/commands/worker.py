"""``aesthetics worker``: one more fetcher for a distributed crawl published in Redis.

Scrapy and Redis are imported only inside the command; the work is in
``crawler.distributed.work``.
"""

from __future__ import annotations

import sys

import click

from search_cli.options import app, data_dir_option, format_option
from search_cli.output import emit_object, progress
from search_cli.steps import DocumentStep


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
    documents = DocumentStep(data_dir)
    report = work(data_dir, redis_url, idle_exit=idle_exit, on_page=documents.process,
                  progress=lambda line: progress(line, quiet=quiet),
                  log_level="INFO" if verbose else ("ERROR" if quiet else None))
    documents.finish()
    if sys.stderr.isatty() and not quiet:
        click.echo("", err=True)
    emit_object({"run": report.run_id, "outcome": report.outcome,
                 "pages_fetched": report.pages_fetched, "pages_stored": report.pages_stored,
                 "articles": report.articles, "errors": len(report.errors)}, fmt)
