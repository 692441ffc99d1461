"""``aesthetics crawl``: crawl sites into the corpus, then clean pages and update the index.

Scrapy (and the rest of the crawler) is imported only inside the command, so other commands
start fast. The document and index steps are wired in ``search_cli.steps``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from corpus.errors import BadInputError
from search_cli.options import app, data_dir_option, format_option
from search_cli.output import emit_object, info, progress


@click.command()
@click.argument("urls", nargs=-1)
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False),
              help="A sources.toml listing sites (see sources.example.toml).")
@click.option("--max-pages", type=click.IntRange(min=1),
              help="Stop after requesting this many pages in this run (all sites together).")
@click.option("--depth", type=click.IntRange(min=0),
              help="Follow links at most this many hops from a start URL or sitemap entry "
                   "(default: the source's max_depth, else 10).")
@click.option("--concurrency", type=click.IntRange(min=1),
              help="Parallel requests per site (default: the source's, else 2).")
@click.option("--delay", type=click.FloatRange(min=0),
              help="Seconds between requests to a site (default 1.0 with AutoThrottle; "
                   "0 turns AutoThrottle off).")
@click.option("--resume/--fresh", default=True, show_default=True,
              help="--resume continues an interrupted crawl from its frontier; "
                   "--fresh forgets it and starts over.")
@click.option("--no-index", is_flag=True, help="Do not update the search index afterwards.")
@click.option("--contact-url", help="URL put in the User-Agent so site owners can reach you.")
@click.option("--redis", "redis_url", metavar="URL",
              help="Distributed crawl: seed this Redis (redis://HOST:PORT/DB) and work on it; "
                   "start more with `aesthetics worker --redis URL`.")
@click.option("--idle-exit", type=click.FloatRange(min=0), default=30.0, show_default=True,
              metavar="SECONDS", help="With --redis: exit once the shared queue has been "
                                      "empty (nothing in flight) this long.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log and every error.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line and no summary on stderr.")
@format_option("table", "json")
@data_dir_option
def crawl(urls: tuple[str, ...], sources_file: str | None, max_pages: int | None,
          depth: int | None, concurrency: int | None, delay: float | None, resume: bool,
          no_index: bool, contact_url: str | None, redis_url: str | None, idle_exit: float,
          verbose: bool, quiet: bool, fmt: str) -> None:
    """Crawl the sites of the given start URLs (or of a sources file) into the corpus.

    Follows links and sitemaps (also those named in robots.txt) inside each site only,
    obeys robots.txt, noindex and nofollow, and skips non-HTML files. Each stored page is
    cleaned into a document when it is an article; at the end the search index is updated
    (unless --no-index). A killed crawl is resumed by running the same command again.
    The run's summary goes to stdout; progress to stderr; every URL event to crawl.log in
    the data dir.

    \b
    Example:
      aesthetics crawl https://clinic.example/articles/ --max-pages 200
      aesthetics crawl --sources sources.toml --delay 2
      aesthetics crawl https://clinic.example/ --fresh --no-index --format json
      aesthetics crawl --sources sources.toml --redis redis://127.0.0.1:6379/0
    """
    from corpus.lock import DataDirLock
    from crawler.run import CrawlConfig
    from crawler.sources import load_sources, sources_from_urls

    if not urls and not sources_file:
        raise BadInputError("give start URLs or --sources FILE (example: aesthetics crawl "
                            "https://clinic.example/)")
    sources = load_sources(sources_file) if sources_file else []
    if urls:
        names = {s.name for s in sources}
        sources += [s for s in sources_from_urls(list(urls)) if s.name not in names]
    if concurrency is not None:
        for source in sources:  # the command line beats the file
            source.concurrency = None
    config = CrawlConfig(sources=sources, max_pages=max_pages, depth=depth,
                         concurrency=concurrency or 2, delay=delay, resume=resume,
                         log_level="INFO" if verbose else ("ERROR" if quiet else "WARNING"))
    if contact_url:
        config.contact_url = contact_url
    data_dir = app().data_dir
    with DataDirLock(data_dir, "crawl"):
        summary = crawl_and_index(config, data_dir, fresh=not resume, no_index=no_index,
                       verbose=verbose, quiet=quiet, redis_url=redis_url, idle_exit=idle_exit)
    emit_object(summary, fmt)


def crawl_and_index(config, data_dir: Path, *, fresh: bool, no_index: bool, verbose: bool,
         quiet: bool, redis_url: str | None = None, idle_exit: float = 30.0) -> dict:
    from corpus.store import Store
    from search_cli.steps import DocumentStep, index_step

    with Store.open(data_dir) as store:
        store.mark_interrupted_runs()  # we hold the lock: their processes are gone
        if fresh and not redis_url:  # with --redis, seed_and_work decides (live workers)
            # only these sources: another site's queue (a killed crawl of it) stays resumable
            store.frontier_clear(s.name for s in config.sources)
        documents = DocumentStep(data_dir, config.sources, store=store)
        report = _fetch(config, data_dir, documents, quiet, redis_url, idle_exit)
        if sys.stderr.isatty() and not quiet:
            click.echo("", err=True)
        pending = documents.finish()  # pages stored but not cleaned (e.g. after a kill)
        articles = report.articles + sum(n for kind, n in pending.items()
                                         if kind in ("new", "changed", "revived"))
        if verbose:
            for error in report.errors:
                info(f"error: {error['url']}: {error['error']}")
        summary = {
            "run": report.run_id, "outcome": report.outcome,
            "pages_fetched": report.pages_fetched, "pages_stored": report.pages_stored,
            "articles": articles, "skipped": report.skipped, "errors": len(report.errors),
            "queued_left": report.queued_left, "resumed": report.resumed,
            "per_site": report.per_site, "skip_reasons": report.skip_reasons,
        }
        if not no_index:
            summary["index"] = index_step(store, data_dir, quiet=quiet)
    info(f"crawl {report.outcome}: {report.pages_stored} pages stored, {articles} articles, "
         f"{report.skipped} skipped, {len(report.errors)} errors "
         f"(log: {data_dir / 'crawl.log'})", quiet=quiet)
    return summary


def _fetch(config, data_dir: Path, documents, quiet: bool, redis_url: str | None,
           idle_exit: float):
    """One process, or the first worker of a distributed crawl on Redis."""
    show = lambda line: progress(line, quiet=quiet)  # noqa: E731
    if redis_url:
        from crawler.distributed import seed_and_work

        return seed_and_work(config, data_dir, redis_url, idle_exit=idle_exit,
                             on_page=documents.process, progress=show)
    from crawler.run import crawl as run_crawl

    return run_crawl(config, data_dir, on_page=documents.process, progress=show)
