"""``crawl(config, data_dir)``: one crawl, run by Scrapy's CrawlerProcess in this process.

The CLI (``aesthetics crawl``), refresh and the demo all call this. Twisted's reactor cannot
restart, so a process crawls once; tests run crawls in subprocesses.

What is decided here, in ``CrawlContext``, is shared policy the Scrapy components consult:
scope (allowed domains, include/exclude, extensions), caps (depth, per-site and total pages,
URL-variation traps), the frontier in the corpus (what is queued, what is done), the report
and the crawl log. Scrapy components stay thin and call into it through ``spider.ctx``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import StorageError
from corpus.models import Run, utcnow
from corpus.paths import LOG_NAME
from corpus.store import Store
from crawler import settings as defaults
from crawler.sources import Source
from crawler.urls import TrapGuard, canonicalize, domain_allowed, is_http, skipped_extension

ARTICLE_OUTCOMES = ("new", "changed", "revived")
KNOWN_CACHE_SIZE = 100_000  # frontier URLs kept in memory; the table holds them all


@dataclass
class RobotsAnswer:
    """A site's robots.txt answer already fetched before the crawl (by ``aesthetics refresh``).

    Handed to the crawl in ``CrawlConfig.robots_txt`` so Scrapy's robots.txt middleware parses
    this body instead of asking the site for the same file a second time. ``status`` is the
    HTTP status of the final answer (after redirects); ``url`` the robots.txt URL asked.
    """

    url: str
    status: int
    body: bytes


@dataclass
class CrawlConfig:
    """Everything one crawl needs; built from CLI arguments or a sources file.

    ``max_pages``/``depth``/``delay``/``concurrency`` given here override each source's own
    values (they come from command-line options, which beat the file).
    """

    sources: list[Source]
    max_pages: int | None = None  # total page requests this run, over all sources
    depth: int | None = None
    concurrency: int = defaults.CONCURRENT_REQUESTS_PER_DOMAIN
    delay: float | None = None  # None: the settings' polite default with AutoThrottle
    resume: bool = True
    contact_url: str = defaults.CONTACT_URL
    user_agent: str | None = None  # None: "aesthetics-search/0.1 (+contact_url)"
    download_maxsize: int = defaults.DOWNLOAD_MAXSIZE
    timeout: float = defaults.DOWNLOAD_TIMEOUT
    retries: int = defaults.RETRY_TIMES
    retry_backoff: float = defaults.RETRY_BACKOFF_BASE  # seconds before the first retry
    autothrottle: bool | None = None  # None: on unless delay == 0
    max_query_variants: int = defaults.MAX_QUERY_VARIANTS
    max_template_variants: int = defaults.MAX_TEMPLATE_VARIANTS
    log_level: str = "WARNING"  # Scrapy's own log on stderr (-v: INFO, -q: ERROR)
    settings: dict[str, Any] = field(default_factory=dict)  # extra Scrapy settings, last word
    # netloc -> robots.txt answer fetched earlier this run; the crawl reuses it (see the spider)
    robots_txt: dict[str, RobotsAnswer] = field(default_factory=dict)


@dataclass
class RunReport:
    """What a crawl did. ``articles`` counts on_page results new/changed/revived."""

    run_id: int | None = None
    pages_fetched: int = 0
    pages_stored: int = 0
    not_modified: int = 0
    articles: int = 0
    skipped: int = 0
    errors: list[dict] = field(default_factory=list)  # {"url", "error"[, "status"]}
    per_site: dict[str, dict[str, int]] = field(default_factory=dict)
    outcome: str = "running"
    started: str = ""
    finished: str | None = None
    queued_left: int = 0  # frontier entries still queued (a cap or an interruption)
    resumed: int = 0  # queued URLs taken over from an interrupted crawl
    skip_reasons: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)  # on_page results by kind
    gone: list[str] = field(default_factory=list)  # URLs answered 404/410

    def counts(self) -> dict[str, int]:
        return {"pages_fetched": self.pages_fetched, "pages_stored": self.pages_stored,
                "not_modified": self.not_modified, "articles": self.articles,
                "skipped": self.skipped, "errors": len(self.errors),
                "queued_left": self.queued_left}

    def to_dict(self) -> dict:
        return asdict(self)


_SITE_COUNTERS = ("fetched", "stored", "articles", "not_modified", "skipped", "errors")


class CrawlContext:
    """Shared state of one crawl; Scrapy components reach it as ``spider.ctx``."""

    def __init__(self, config: CrawlConfig, store: Store, data_dir: Path, *,
                 on_page: Callable[[str], str | None] | None = None,
                 progress: Callable[[str], None] | None = None,
                 conditional: bool = False, revisit: list[str] | None = None):
        self.config = config
        self.store = store
        self.on_page = on_page
        self.fatal: Exception | None = None  # a storage error that stopped the crawl
        self.progress = progress
        self.conditional = conditional
        self.revisit = [canonicalize(u) for u in (revisit or [])]
        self.sources = {s.name: s for s in config.sources}
        self.report = RunReport(per_site={s.name: dict.fromkeys(_SITE_COUNTERS, 0)
                                          for s in config.sources})
        self.trap = TrapGuard(config.max_query_variants, config.max_template_variants)
        self.stored_urls: set[str] = set()
        self.scheduled: dict[str, int] = dict.fromkeys(self.sources, 0)
        self.total_scheduled = 0
        self.in_flight = 0
        self.sitemaps_seen: set[str] = set()
        self._known: dict[str, None] = {}  # frontier URLs recently seen (bounded cache)
        self._scope: dict[tuple[str, str], bool] = {}  # (source, host:port) -> allowed
        self._last_progress = 0.0
        self._started = time.monotonic()
        self._log = open(Path(data_dir) / LOG_NAME, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        self._log.close()

    # ------------------------------------------------------------------ policy
    def source_for(self, name: str | None) -> Source | None:
        return self.sources.get(name or "")

    def max_depth(self, source: Source) -> int:
        if self.config.depth is not None:
            return self.config.depth
        if source.max_depth is not None:
            return source.max_depth
        return defaults.DEFAULT_MAX_DEPTH

    def out_of_scope(self, url: str, source_name: str | None) -> str | None:
        """Why ``url`` (canonical) must not be requested for this source, else None."""
        if not is_http(url):
            return "not an http(s) URL"
        source = self.source_for(source_name)
        if source is not None:
            key = (source.name, url.split("/", 3)[2])  # host[:port] of a canonical URL
            allowed = self._scope.get(key)
            if allowed is None:
                allowed = self._scope[key] = domain_allowed(url, source.allowed_domains)
            if not allowed:
                return "outside the allowed domains"
        ext = skipped_extension(url)
        if ext:
            return f"not HTML (.{ext})"
        if source is not None:
            return source.url_excluded(url)
        return None

    def has_room(self, source: Source) -> bool:
        """May one more page of ``source`` be requested under the crawl's and the source's
        page caps? (The distributed crawl overrides this to count every worker's pages.)"""
        if self.config.max_pages is not None and self.total_scheduled >= self.config.max_pages:
            return False
        cap = source.max_pages
        return cap is None or self.scheduled[source.name] < cap

    def register(self, candidates: list[tuple[str, int]], source_name: str, *,
                 found_on: str | None = None, from_sitemap: bool = False
                 ) -> list[tuple[str, int]]:
        """Put new links in the frontier; return those to request now (caps permitting).

        A link already in the frontier (queued or done, this run or an earlier one) is not
        returned: that is the crawl's duplicate filter. Links beyond a cap stay queued in the
        frontier, so a later ``crawl`` resumes with them.
        """
        source = self.sources[source_name]
        limit = self.max_depth(source)
        fresh: list[tuple[str, str, int]] = []
        seen_here: set[str] = set()
        for url, depth in candidates:
            if url in seen_here:
                continue
            seen_here.add(url)
            reason = self.out_of_scope(url, source_name)
            if reason:
                if reason != "outside the allowed domains" and reason != "not an http(s) URL" \
                        and not self.seen(url):
                    self.store.frontier_mark(url, "skipped", reason, site=source_name)
                    self.remember(url)
                    self.report_skip(source_name, reason)
                    self.log_event("skipped", url, reason)
                continue
            if depth > limit:  # counted per link seen, not per URL: a reason, not a skip
                self.report.skip_reasons["depth limit"] = \
                    self.report.skip_reasons.get("depth limit", 0) + 1
                continue
            if self.seen(url):
                continue
            # Sitemap entries are the site's own list of real pages: no trap check for them.
            trap = None if from_sitemap else self.trap.admit(url, found_on)
            if trap:
                self.store.frontier_mark(url, "skipped", trap, site=source_name)
                self.remember(url)
                self.report_skip(source_name, "trap")
                self.log_event("skipped", url, trap)
                continue
            fresh.append((url, source_name, depth))
        if fresh:
            self.store.frontier_add(fresh)
            for url, _site, _depth in fresh:
                self.remember(url)
        out: list[tuple[str, int]] = []
        for url, _site, depth in fresh:
            if not self.has_room(source):
                break
            self.count_scheduled(source_name)
            out.append((url, depth))
        return out

    def seen(self, url: str) -> bool:
        """Is ``url`` in the frontier? Recent answers come from a bounded in-memory cache
        (navigation links repeat on every page); the frontier table stays the authority."""
        if url in self._known:
            return True
        if self.store.frontier_seen(url):
            self.remember(url)
            return True
        return False

    def remember(self, url: str) -> None:
        known = self._known
        known[url] = None
        if len(known) > KNOWN_CACHE_SIZE:
            del known[next(iter(known))]  # oldest first: dicts keep insertion order

    def count_scheduled(self, source_name: str) -> None:
        """Count one request of ``source_name`` against the caps (see :meth:`has_room`)."""
        self.scheduled[source_name] += 1
        self.total_scheduled += 1
        self.in_flight += 1

    def resume_entries(self) -> Iterator[tuple[str, str, int]]:
        """Queued frontier URLs of our sources, left by an interrupted or capped crawl."""
        revisiting = set(self.revisit)
        for url, site, depth in self._resumable:
            if url in revisiting:
                continue  # already requested (conditionally) as a revisit
            source = self.sources[site]
            if not self.has_room(source):
                continue
            self.count_scheduled(site)
            self.report.resumed += 1
            yield url, site, depth

    def revisit_entries(self) -> Iterator[tuple[str, str]]:
        """Known pages to re-request (refresh), each under the source owning its host."""
        for url in self.revisit:
            page = self.store.get_page(url, with_html=False)
            site = page.site if page is not None and page.site in self.sources else None
            if site is None:
                site = next((s.name for s in self.config.sources
                             if domain_allowed(url, s.allowed_domains)), None)
            if site is None:
                continue
            self.store.frontier_add([(url, site, 0)])
            self.remember(url)
            self.count_scheduled(site)
            yield url, site

    def prepare_frontier(self) -> None:
        """Resume an interrupted crawl of these sources, or start over after a finished one.

        Only these sources' rows are looked at and cleared: another site's queue, left by a
        killed crawl of it, waits untouched until that site is crawled again.
        """
        queued = self.store.frontier_queued(sites=self.sources)
        if not self.config.resume or not queued:
            self.store.frontier_clear(self.sources)
            queued = []
        self.resume_from(queued)

    def resume_from(self, entries: list[tuple[str, str, int]]) -> None:
        """Offer these queued (url, site, depth) frontier entries again, leaving the frontier
        as it is: a seeder joining live distributed workers must never clear it."""
        self._resumable = entries

    def sitemap_new(self, url: str) -> bool:
        if url in self.sitemaps_seen or len(self.sitemaps_seen) >= 1000:
            return False
        self.sitemaps_seen.add(url)
        return True

    # ------------------------------------------------------------------ recording
    def log_event(self, event: str, url: str, detail: str | None = None) -> None:
        """One line per URL event in crawl.log: time, event, URL, detail. No personal data."""
        self._log.write(f"{utcnow()}\t{event}\t{url}\t{detail or ''}\n")

    def _site(self, site: str) -> dict[str, int]:
        return self.report.per_site.setdefault(site, dict.fromkeys(_SITE_COUNTERS, 0))

    def report_skip(self, site: str, reason: str) -> None:
        self.report.skipped += 1
        key = reason.split(" (")[0].split(":")[0]
        self.report.skip_reasons[key] = self.report.skip_reasons.get(key, 0) + 1
        self._site(site)["skipped"] += 1

    def record_error(self, url: str, site: str, error: str, status: int | None = None) -> None:
        entry: dict[str, Any] = {"url": url, "error": error}
        if status is not None:
            entry["status"] = status
            if status in (404, 410):
                self.report.gone.append(url)
        self.report.errors.append(entry)
        self._site(site)["errors"] += 1
        self.log_event("error", url, error)

    def request_done(self, request: Any, state: str, reason: str) -> None:
        """A page request ended without a stored page (skipped or failed)."""
        meta = request.meta
        url = meta.get("frontier_url") or canonicalize(request.url)
        site = meta.get("source", "")
        self.in_flight = max(0, self.in_flight - 1)
        with self.store.transaction():
            chain = [canonicalize(u) for u in meta.get("redirect_urls", [])]
            for each in dict.fromkeys((url, canonicalize(request.url), *chain)):
                self.store.frontier_mark(each, state, reason, site=site)
        if state == "failed":
            self.record_error(url, site, reason)
        else:
            self.report_skip(site, reason)
            self.log_event("skipped", url, reason)
        self.tick()

    def mark_done(self, item: Any, state: str, reason: str | None) -> None:
        for url in (item.url, *item.aliases):
            if not self.seen(url):
                self.store.frontier_add([(url, item.site, item.depth)])
                self.remember(url)
            self.store.frontier_mark(url, state, reason, site=item.site)

    def response_seen(self, response: Any, site: str) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.report.pages_fetched += 1
        self._site(site)["fetched"] += 1

    def page_stored(self, item: Any) -> None:
        self.stored_urls.add(item.url)
        self.report.pages_stored += 1
        self._site(item.site)["stored"] += 1
        self.log_event("stored", item.url, f"HTTP {item.status}")

    def page_processed(self, item: Any, outcome: str | None) -> None:
        if outcome is None:
            return
        self.report.outcomes[outcome] = self.report.outcomes.get(outcome, 0) + 1
        if outcome in ARTICLE_OUTCOMES:
            self.report.articles += 1
            self._site(item.site)["articles"] += 1

    def page_not_modified(self, item: Any) -> None:
        self.report.not_modified += 1
        self._site(item.site)["not_modified"] += 1
        self.log_event("not-modified", item.url, "HTTP 304")

    def tick(self, force: bool = False) -> None:
        """Send a progress line at most twice a second."""
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < 0.5:
            return
        self._last_progress = now
        self.progress(self.progress_line())

    def progress_line(self) -> str:
        r = self.report
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rates = " ".join(f"{name} {c['fetched'] / elapsed:.1f}/s"
                         for name, c in r.per_site.items() if c["fetched"])
        return (f"fetched {r.pages_fetched} · queued {self.in_flight} · stored {r.pages_stored}"
                f" · articles {r.articles} · errors {len(r.errors)}"
                + (f" · {rates}" if rates else ""))


def scrapy_settings(config: CrawlConfig) -> dict[str, Any]:
    """Our settings module plus the overrides this config asks for."""
    values = {k: getattr(defaults, k) for k in dir(defaults) if k.isupper()}
    values["USER_AGENT"] = config.user_agent or f"aesthetics-search/0.1 (+{config.contact_url})"
    values["CONCURRENT_REQUESTS_PER_DOMAIN"] = config.concurrency
    values["CONCURRENT_REQUESTS"] = max(defaults.CONCURRENT_REQUESTS,
                                        config.concurrency * max(1, len(config.sources)))
    delay = config.delay
    if delay is None and config.sources and all(s.delay is not None for s in config.sources):
        delay = max(s.delay for s in config.sources)  # type: ignore[type-var]
    if delay is not None:
        values["DOWNLOAD_DELAY"] = delay
        values["DOWNLOAD_DELAY_JITTER"] = defaults.DOWNLOAD_DELAY_JITTER if delay > 0 else 0
    autothrottle = config.autothrottle
    if autothrottle is None:
        autothrottle = values["DOWNLOAD_DELAY"] > 0
    values["AUTOTHROTTLE_ENABLED"] = autothrottle
    if autothrottle:
        values["AUTOTHROTTLE_START_DELAY"] = max(values["DOWNLOAD_DELAY"], 0.1)
    values["DOWNLOAD_MAXSIZE"] = config.download_maxsize
    values["DOWNLOAD_TIMEOUT"] = config.timeout
    values["RETRY_TIMES"] = config.retries
    values["RETRY_BACKOFF_BASE"] = config.retry_backoff
    values["LOG_LEVEL"] = config.log_level
    # Per-source politeness overrides (Scrapy slots are per host).
    slots: dict[str, dict[str, Any]] = {}
    for source in config.sources:
        slot: dict[str, Any] = {}
        if source.delay is not None and config.delay is None:
            slot["delay"] = source.delay
        if source.concurrency is not None:
            slot["concurrency"] = source.concurrency
        if slot:
            from urllib.parse import urlsplit

            for url in source.start_urls + source.sitemap_urls:
                host = urlsplit(url).hostname
                if host:
                    slots[host] = slot
    if slots:
        values["DOWNLOAD_SLOTS"] = slots
    values.update(config.settings)
    return values


def crawl(config: CrawlConfig, data_dir: Path, *,
          on_page: Callable[[str], str | None] | None = None,
          progress: Callable[[str], None] | None = None, conditional: bool = False,
          revisit: list[str] | None = None) -> RunReport:
    """Run one crawl to the end (or to Ctrl-C) and return its report.

    ``on_page(url)`` is called after each page row is stored (the document step);
    ``conditional``/``revisit`` re-request known pages with their validators (refresh).
    The caller holds the data dir's crawl lock. Only callable once per process.
    """
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.site import SiteSpider

    data_dir = Path(data_dir)
    store = Store.open(data_dir)
    ctx = CrawlContext(config, store, data_dir, on_page=on_page, progress=progress,
                       conditional=conditional, revisit=revisit)
    run = store.start_run("crawl", {
        "sources": [s.name for s in config.sources],
        "conditional": conditional,
        "start_urls": [u for s in config.sources for u in s.start_urls],
        "source_defs": [asdict(s) for s in config.sources],  # refresh re-crawls from these
    })
    report = ctx.report
    report.run_id, report.started = run.id, run.started
    ctx.prepare_frontier()
    ctx.log_event("run-start", "-", f"run {run.id}")
    close_reason: dict[str, str] = {}
    try:
        process = CrawlerProcess(scrapy_settings(config))
        crawler = process.create_crawler(SiteSpider)

        def closed(spider: Any, reason: str) -> None:
            close_reason["value"] = reason

        from scrapy import signals

        crawler.signals.connect(closed, signal=signals.spider_closed)
        process.crawl(crawler, ctx=ctx)
        process.start()
    except BaseException:
        _finish(store, run, ctx, "failed")
        raise
    if ctx.fatal is not None:
        try:
            _finish(store, run, ctx, "failed")
        except StorageError:
            ctx.close()  # the disk is still full: the run row stays "running" until the
            store.close()  # next crawl, which marks it interrupted
        raise ctx.fatal
    outcome = "ok" if close_reason.get("value", "finished") == "finished" else "interrupted"
    _finish(store, run, ctx, outcome)
    return report


def _finish(store: Store, run: Run, ctx: CrawlContext, outcome: str) -> None:
    report = ctx.report
    report.queued_left = store.frontier_counts(sites=ctx.sources).get("queued", 0)
    report.outcome = outcome
    run.counts = report.counts()
    run.details = {**run.details, "per_site": report.per_site,
                   "skip_reasons": report.skip_reasons,
                   "errors": report.errors[:50]}
    store.finish_run(run, outcome)
    report.finished = run.finished
    ctx.tick(force=True)
    ctx.log_event("run-end", "-", f"run {run.id} {outcome} {report.counts()}")
    ctx.close()
    store.close()
