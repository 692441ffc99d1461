"""``aesthetics crawl``: crawl sites into the corpus, then clean pages and update the index.

Scrapy (and the rest of the crawler) is imported only inside the command, so other commands
start fast. The document step (``indexer.process``) and the index step (``indexer.build``)
are imported lazily too: the crawl itself works without them.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, is_dataclass
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
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log and every error.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line and no summary on stderr.")
@format_option("table", "json")
@data_dir_option
def crawl(urls: tuple[str, ...], sources_file: str | None, max_pages: int | None,
          depth: int | None, concurrency: int | None, delay: float | None, resume: bool,
          no_index: bool, contact_url: str | None, verbose: bool, quiet: bool, fmt: str) -> None:
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
        summary = _run(config, data_dir, fresh=not resume, no_index=no_index,
                       verbose=verbose, quiet=quiet)
    emit_object(summary, fmt)


def _run(config, data_dir: Path, *, fresh: bool, no_index: bool, verbose: bool,
         quiet: bool) -> dict:
    from corpus.store import Store
    from crawler.run import crawl as run_crawl

    with Store.open(data_dir) as store:
        for stale in store.runs(kind="crawl"):
            if stale.outcome == "running":  # we hold the lock: its process is gone
                store.finish_run(stale, "interrupted")
        if fresh:
            store.frontier_clear()
    with Store.open(data_dir) as doc_store:
        processor = _processor(doc_store, data_dir, quiet)
        on_page = processor.process if processor is not None else None
        report = run_crawl(config, data_dir, on_page=on_page,
                           progress=lambda line: progress(line, quiet=quiet))
        if sys.stderr.isatty() and not quiet:
            click.echo("", err=True)
        pending: dict[str, int] = {}
        if processor is not None:
            pending = processor.process_pending()  # pages stored but not cleaned (e.g. a kill)
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
        summary["index"] = _update_index(data_dir, quiet)
    info(f"crawl {report.outcome}: {report.pages_stored} pages stored, {articles} articles, "
         f"{report.skipped} skipped, {len(report.errors)} errors "
         f"(log: {data_dir / 'crawl.log'})", quiet=quiet)
    return summary


def _processor(store, data_dir: Path, quiet: bool):
    """The cleaner/annotator step, when the indexer package is installed and complete."""
    try:
        from indexer.process import PageProcessor

        return PageProcessor(store, data_dir)
    except ImportError as exc:
        info(f"note: pages are stored but not cleaned into documents ({exc})", quiet=quiet)
        return None


def _update_index(data_dir: Path, quiet: bool) -> dict | str:
    """Index the documents this crawl added or changed (the index has its own lock)."""
    try:
        from indexer.build import update_index
    except ImportError as exc:
        info(f"note: index not updated ({exc}); run `aesthetics index` later", quiet=quiet)
        return "skipped"
    result = update_index(data_dir, progress=lambda line: progress(line, quiet=quiet))
    return asdict(result) if is_dataclass(result) else str(result)
