"""Refresh: revisit what we already know, cheaply, and say exactly what changed.

A refresh is a crawl that starts from the corpus instead of from nothing:

1. **Plan.** For every known source: its listing pages (start URLs), the RSS/Atom feeds its
   stored pages announce with ``<link rel="alternate">``, its sitemaps (sources file,
   robots.txt ``Sitemap:`` lines, else ``/sitemap.xml``) and every page already stored.
2. **Hints.** Feeds and sitemaps are small, so they are fetched here first (plain GETs,
   robots.txt obeyed). Their entries give new URLs to crawl, ``lastmod`` dates (a page whose
   stored copy was fetched after its sitemap ``lastmod`` is not requested at all) and, when a
   sitemap lists every live article of its site, a complete list of what still exists. Each
   robots.txt read here is handed to the crawl, so a site is asked for it once per refresh.
3. **Crawl.** ``crawler.run.crawl`` re-requests every known page with If-None-Match /
   If-Modified-Since; a 304 costs one small response and no parsing. Pages that did change
   go through ``on_page`` (the cleaner, wired by the CLI), whose answer — new, changed,
   unchanged — is measured on the cleaned text, so a new advert in a sidebar is no change.
4. **Deletions.** A page answering 404/410 on two consecutive refreshes is deleted (its
   document becomes a tombstone); so is one answering 404/410 that is no longer listed by a
   sitemap that lists everything of its site. One answer alone is reported as ``missing``.

This module knows HTTP but not the cleaner or the index: it never imports ``indexer``.
"""

from __future__ import annotations

import email.utils
import gzip
import io
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from lxml import etree, html

from corpus import Page, Store
from corpus.models import utcnow
from crawler.run import CrawlConfig, RobotsAnswer, crawl
from crawler.sources import Source
from crawler.urls import canonicalize, domain_allowed, netloc_of

GONE = (404, 410)
GONE_STRIKES = 2  # consecutive 404/410 answers before a page counts as deleted
FEED_TYPES = ("application/rss+xml", "application/atom+xml")
FEED_SCAN_PAGES = 20  # stored pages per site searched for a feed link
MAX_SITEMAPS = 50  # sitemap files followed per site (index files included)
HINT_TIMEOUT = 20.0  # seconds for one feed / sitemap / robots.txt request
HINT_MAX_BYTES = 10 * 1024 * 1024

# ---------------------------------------------------------------------------- records
@dataclass
class SitePlan:
    """What a refresh will request for one source."""

    name: str
    listings: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    known: int = 0  # pages of this site already stored


@dataclass
class Hints:
    """What the feeds and sitemaps said, fetched before the crawl."""

    listed: dict[str, str | None] = field(default_factory=dict)  # url -> lastmod (sitemaps)
    in_feeds: set[str] = field(default_factory=set)
    sitemap_sites: set[str] = field(default_factory=set)  # sites whose sitemaps were read
    robots: dict[str, RobotsAnswer] = field(default_factory=dict)  # netloc -> robots.txt read
    requests: int = 0
    errors: list[dict] = field(default_factory=list)


@dataclass
class RefreshPlan:
    """The requests a refresh makes; ``--dry-run`` prints this and stops."""

    sites: list[SitePlan]
    revisit: list[str]  # known pages re-requested with conditional headers
    validators: dict[str, dict] = field(default_factory=dict)  # url -> {etag, last_modified}
    skipped: list[str] = field(default_factory=list)  # not requested: sitemap lastmod is older
    new: list[str] = field(default_factory=list)  # unknown URLs from feeds / sitemaps

    def to_dict(self) -> dict:
        return {
            "sites": [asdict(s) for s in self.sites],
            "revisit": [{"url": u, **self.validators.get(u, {})} for u in self.revisit],
            "skipped": self.skipped,
            "new": self.new,
            "counts": {"sites": len(self.sites), "revisit": len(self.revisit),
                       "conditional": sum(1 for u in self.revisit if self.validators.get(u)),
                       "feeds": sum(len(s.feeds) for s in self.sites),
                       "sitemaps": sum(len(s.sitemaps) for s in self.sites),
                       "listings": sum(len(s.listings) for s in self.sites),
                       "skipped": len(self.skipped), "new": len(self.new)},
        }


@dataclass
class ChangeReport:
    """What a refresh found. URL lists are canonical URLs, sorted; ``unchanged`` is a count
    of live documents that were confirmed (304, same cleaned text, or an older lastmod)."""

    started: str
    finished: str | None = None
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)  # {url, error}
    missing: list[str] = field(default_factory=list)  # gone once; deleted if gone next time
    not_modified: int = 0  # 304 answers
    skipped: int = 0  # not requested thanks to sitemap lastmod
    requests: int = 0  # every request made: pages, feeds, sitemaps, robots.txt

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "changed": len(self.changed),
                "deleted": len(self.deleted), "unchanged": self.unchanged,
                "errors": len(self.errors), "missing": len(self.missing),
                "not_modified": self.not_modified, "skipped": self.skipped,
                "requests": self.requests}

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- parsing
def _parser() -> etree.XMLParser:
    # No entities, no network, no DTD: a hostile feed cannot read files or expand bombs.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, recover=True)


def _local(tag: object) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _xml_root(body: bytes):
    try:
        return etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError):
        return None


def _child_text(node, name: str) -> str | None:
    for child in node:
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def parse_feed(body: bytes, base_url: str) -> list[tuple[str, str | None]]:
    """(absolute URL, date text) for every item of an RSS 2.0 / RSS 1.0 / Atom feed."""
    root = _xml_root(body)
    if root is None:
        return []
    out: list[tuple[str, str | None]] = []
    for node in root.iter():
        name = _local(node.tag)
        if name == "item":  # RSS 2.0 and RDF/RSS 1.0
            link = _child_text(node, "link") or node.get(
                "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
            date = _child_text(node, "pubdate") or _child_text(node, "date")
        elif name == "entry":  # Atom
            link = None
            for child in node:
                if _local(child.tag) == "link" and child.get("href") and \
                        child.get("rel", "alternate") == "alternate":
                    link = child.get("href")
                    break
            date = _child_text(node, "updated") or _child_text(node, "published")
        else:
            continue
        if link:
            out.append((urljoin(base_url, link.strip()), date))
    return out


def parse_sitemap(body: bytes, base_url: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(entries as (URL, lastmod), child sitemap URLs) of a urlset or a sitemap index."""
    root = _xml_root(body)
    if root is None:
        return [], []
    entries: list[tuple[str, str | None]] = []
    children: list[str] = []
    index = _local(root.tag) == "sitemapindex"
    for node in root:
        if _local(node.tag) not in ("url", "sitemap"):
            continue
        loc = _child_text(node, "loc")
        if not loc:
            continue
        url = urljoin(base_url, loc)
        if index or _local(node.tag) == "sitemap":
            children.append(url)
        else:
            entries.append((url, _child_text(node, "lastmod")))
    return entries, children


def feed_links(page_html: str, base_url: str) -> list[str]:
    """Feeds a page announces with ``<link rel="alternate" type="application/rss+xml">``."""
    try:
        doc = html.fromstring(page_html)
    except (etree.ParserError, ValueError):
        return []
    found = []
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = link.get("href")
        if "alternate" in rel and kind in FEED_TYPES and href:
            url = urljoin(base_url, href.strip())
            if url not in found:
                found.append(url)
    return found


def parse_lastmod(value: str | None) -> datetime | None:
    """A sitemap/feed date as an aware UTC datetime; a bare date means the end of that day,
    so a page fetched the same day is still revisited."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            when = datetime.fromisoformat(text).replace(hour=23, minute=59, second=59)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)  # RSS pubDate
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def _parse_stored(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------------------- fetching
class HintFetcher:
    """Plain GETs for robots.txt, feeds and sitemaps, obeying robots.txt, counting requests.

    These few documents are read before the crawl starts (the Scrapy reactor runs once per
    process), so they use the standard library with the crawler's user agent.
    """

    def __init__(self, user_agent: str, timeout: float = HINT_TIMEOUT):
        self.user_agent = user_agent
        self.timeout = timeout
        self.requests = 0
        self.errors: list[dict] = []
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        # netloc -> what its robots.txt answered, handed to the crawl so it is not asked again
        self.robots_answers: dict[str, RobotsAnswer] = {}
        self._sitemaps_in_robots: dict[str, list[str]] = {}

    def get(self, url: str) -> bytes | None:
        """The body (gunzipped when it is a ``.gz`` sitemap), or None; failures other than a
        missing feed or sitemap (404/410) are kept as errors for the report."""
        if not self.allowed(url):
            return None
        self.requests += 1
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent,
                                                       "Accept-Encoding": "identity"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(HINT_MAX_BYTES)
            if body[:2] == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
                    body = fh.read(HINT_MAX_BYTES)  # capped: a gzip bomb stops here
            return body
        except urllib.error.HTTPError as exc:
            if exc.code not in GONE:
                self.errors.append({"url": url, "error": f"HTTP {exc.code}"})
        except (OSError, EOFError, ValueError) as exc:  # URLError, timeouts, bad gzip
            reason = getattr(exc, "reason", None) or exc
            self.errors.append({"url": url, "error": f"{type(exc).__name__}: {reason}"})
        return None

    def _robots_for(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
            self._robots[origin] = parser
            self.requests += 1
            request = urllib.request.Request(origin + "/robots.txt",
                                             headers={"User-Agent": self.user_agent})
            lines: list[str] = []
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    body = response.read(HINT_MAX_BYTES)
                self._keep_answer(origin, response.status, body)
                lines = body.decode("utf-8", "replace").splitlines()
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    parser.disallow_all = True
                self._keep_answer(origin, exc.code, _error_body(exc))
            except (urllib.error.URLError, OSError, ValueError):
                pass  # unreachable robots.txt: the crawl asks again and reports the site
            parser.parse(lines)
            self._sitemaps_in_robots[origin] = [
                urljoin(origin + "/", line.split(":", 1)[1].strip()) for line in lines
                if line.lower().startswith("sitemap:") and line.split(":", 1)[1].strip()]
        return self._robots[origin]

    def _keep_answer(self, origin: str, status: int, body: bytes) -> None:
        """Keep a robots.txt answer for the crawl, under the canonical netloc its requests
        use (Scrapy keeps one robots.txt parser per netloc)."""
        robots_url = canonicalize(origin + "/robots.txt")
        self.robots_answers.setdefault(netloc_of(robots_url),
                                       RobotsAnswer(robots_url, status, body))

    def allowed(self, url: str) -> bool:
        return self._robots_for(url).can_fetch(self.user_agent, url)

    def robots_sitemaps(self, origin_url: str) -> list[str]:
        parts = urlsplit(origin_url)
        self._robots_for(origin_url)
        return self._sitemaps_in_robots.get(f"{parts.scheme}://{parts.netloc}", [])


def _error_body(exc: urllib.error.HTTPError) -> bytes:
    """The body of an error answer: Scrapy parses it as robots.txt like any other body."""
    try:
        return exc.read(HINT_MAX_BYTES) or b""
    except (OSError, ValueError):
        return b""


# ---------------------------------------------------------------------------- planning
def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _site_of(source: Source, url: str) -> bool:
    return domain_allowed(url, source.allowed_domains)


def plan_refresh(store: Store, sources: list[Source]) -> RefreshPlan:
    """What a refresh of ``sources`` requests, from the corpus alone (no network).

    Sitemaps not named by the sources file are found later from robots.txt; here a site
    without one shows its default ``/sitemap.xml``.
    """
    sites: list[SitePlan] = []
    revisit: list[str] = []
    validators: dict[str, dict] = {}
    listing_urls = {canonicalize(u) for s in sources for u in s.start_urls}
    for source in sources:
        plan = SitePlan(name=source.name, listings=list(source.start_urls),
                        sitemaps=list(source.sitemap_urls))
        pages = [p for p in store.iter_pages(site=source.name)]
        plan.known = len(pages)
        plan.feeds = _discover_feeds(store, source, pages)
        if not plan.sitemaps and source.start_urls:
            plan.sitemaps = [urljoin(_origin(source.start_urls[0]), "sitemap.xml")]
        hint_urls = set(plan.feeds) | set(plan.sitemaps)
        for page in pages:
            if page.url in hint_urls or page.url in listing_urls:
                continue
            if not _worth_revisiting(store, page):
                continue
            revisit.append(page.url)
            cond = {k: v for k, v in (("etag", page.etag), ("last_modified", page.last_modified))
                    if v}
            if cond:
                validators[page.url] = cond
        sites.append(plan)
    # Pages stored under a site name no source claims any more are left alone on purpose:
    # refreshing them would re-crawl a site the editor removed from the sources file.
    return RefreshPlan(sites=sites, revisit=revisit, validators=validators)


def _worth_revisiting(store: Store, page: Page) -> bool:
    """Known pages that can still change the corpus: live ones, failed ones, recently gone.

    A page whose document is already a tombstone and that has answered 404/410 again and
    again is not asked every time; it comes back through a listing, feed or sitemap link.
    """
    if page.status in GONE and page.gone_count >= GONE_STRIKES:
        doc = store.get_document(page.url)
        return doc is not None and not doc.deleted
    return True


def _discover_feeds(store: Store, source: Source, pages: list[Page]) -> list[str]:
    """Feed links from the site's stored listing pages first, then a few other pages."""
    by_url = {p.url: p for p in pages}
    order = [canonicalize(u) for u in source.start_urls if canonicalize(u) in by_url]
    order += [p.url for p in pages if p.url not in order and p.status == 200][:FEED_SCAN_PAGES]
    feeds: list[str] = []
    for url in order[:FEED_SCAN_PAGES]:
        page = store.get_page(url)
        if page is None or not page.html or page.status != 200:
            continue
        for feed in feed_links(page.html, page.final_url or page.url):
            if _site_of(source, feed) and feed not in feeds:
                feeds.append(feed)
        if feeds:
            break  # every page of a site announces the same feeds
    return feeds


def gather_hints(plan: RefreshPlan, sources: list[Source], fetcher: HintFetcher) -> Hints:
    """Fetch every feed and sitemap of the plan; records listed URLs and their lastmod."""
    hints = Hints()
    by_name = {s.name: s for s in sources}
    for site in plan.sites:
        source = by_name[site.name]
        for feed in site.feeds:
            body = fetcher.get(feed)
            if body is None:
                continue
            for url, _date in parse_feed(body, feed):
                if _site_of(source, url):
                    hints.in_feeds.add(canonicalize(url))
        queue = list(site.sitemaps)
        if source.start_urls and not source.sitemap_urls:
            from_robots = fetcher.robots_sitemaps(source.start_urls[0])
            if from_robots:
                queue = from_robots
        seen: set[str] = set()
        read_any = False
        while queue and len(seen) < MAX_SITEMAPS:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            body = fetcher.get(url)
            if body is None:
                continue
            entries, children = parse_sitemap(body, url)
            read_any = read_any or bool(entries)
            queue.extend(c for c in children if c not in seen)
            for entry, lastmod in entries:
                if _site_of(source, entry):
                    hints.listed[canonicalize(entry)] = lastmod
        if read_any:
            hints.sitemap_sites.add(site.name)
        site.sitemaps = sorted(seen)
    hints.requests = fetcher.requests
    hints.errors = list(fetcher.errors)
    hints.robots = dict(fetcher.robots_answers)
    return hints


def apply_hints(store: Store, plan: RefreshPlan, hints: Hints) -> None:
    """Drop revisits the sitemap says are older than our copy; add unknown listed URLs."""
    keep: list[str] = []
    for url in plan.revisit:
        lastmod = parse_lastmod(hints.listed.get(url))
        page = store.get_page(url, with_html=False) if lastmod else None
        fetched = _parse_stored(page.fetched_at) if page else None
        if lastmod and fetched and page.status == 200 and lastmod < fetched:
            plan.skipped.append(url)
        else:
            keep.append(url)
    plan.revisit = keep
    known = set(keep) | set(plan.skipped)
    candidates = sorted(set(hints.listed) | hints.in_feeds)
    plan.new = [u for u in candidates if u not in known and store.get_page(u, with_html=False)
                is None]


def complete_sitemap_sites(store: Store, sources: list[Source], hints: Hints,
                           gone_now: set[str]) -> set[str]:
    """Sites whose sitemaps list every live article we hold (apart from pages gone now).

    Only for those is "not in the sitemap any more" evidence of a deletion.
    """
    complete: set[str] = set()
    for source in sources:
        if source.name not in hints.sitemap_sites:
            continue
        live = [d.url for d in store.iter_documents(site=source.name)]
        if live and all(u in hints.listed or u in gone_now for u in live):
            complete.add(source.name)
    return complete


# ---------------------------------------------------------------------------- known sources
def known_sources(store: Store) -> list[Source]:
    """The sources of earlier crawls, for a refresh without a sources file.

    A crawl run records its source names and start URLs (and, when present, the whole source
    definitions under ``source_defs``). Sites are taken from the stored pages, so the names
    pages were stored under stay the same; each gets the start URLs of its hosts and those
    hosts as its allowed domains.
    """
    defined: dict[str, Source] = {}
    start_urls: list[str] = []
    for run in store.runs(kind="crawl"):  # newest first: the latest definition wins
        for raw in run.details.get("source_defs") or []:
            if isinstance(raw, dict) and raw.get("name") and raw["name"] not in defined:
                known = {k: v for k, v in raw.items() if k in Source.__dataclass_fields__}
                defined[raw["name"]] = Source(**known)
        for url in run.details.get("start_urls") or []:
            if isinstance(url, str) and url not in start_urls:
                start_urls.append(url)
    hosts: dict[str, list[str]] = {}
    shallow: dict[str, list[tuple[int, str]]] = {}
    for page in store.iter_pages():
        seen = hosts.setdefault(page.site, [])
        netloc = netloc_of(page.url)
        if netloc not in seen:
            seen.append(netloc)
        shallow.setdefault(page.site, []).append((page.depth, page.url))
    sources = list(defined.values())
    for site, netlocs in sorted(hosts.items()):
        if site in defined or not site:
            continue
        starts = [u for u in start_urls if netloc_of(u) in netlocs]
        if not starts:  # no recorded start URL: the shallowest stored pages stand in
            starts = [u for d, u in sorted(shallow[site])[:3]]
        sources.append(Source(name=site, start_urls=starts, allowed_domains=sorted(netlocs)))
    return sources


# ---------------------------------------------------------------------------- running
OnPage = Callable[[str], "str | None"]


def user_agent(config: CrawlConfig) -> str:
    return config.user_agent or f"aesthetics-search/0.1 (+{config.contact_url})"


def prepare(store: Store, sources: list[Source], config: CrawlConfig) -> tuple[RefreshPlan, Hints]:
    """Plan, then fetch feeds and sitemaps and fold their hints into the plan."""
    plan = plan_refresh(store, sources)
    hints = gather_hints(plan, sources, HintFetcher(user_agent(config), timeout=config.timeout))
    apply_hints(store, plan, hints)
    return plan, hints


def _seed_frontier(store: Store, sources: list[Source], plan: RefreshPlan) -> None:
    """Start URLs go in as queued (the crawl resumes them, conditionally) and pages the
    sitemap vouches for as done, so neither the listings nor the spider's own reading of the
    sitemap request them again. Queued URLs of an interrupted crawl of these sources are kept
    and resumed; other sites' rows are not touched (their own queue waits for their crawl)."""
    names = [s.name for s in sources]
    if not store.frontier_counts(sites=names).get("queued"):
        store.frontier_clear(names)
    entries = [(canonicalize(u), s.name, 0) for s in sources for u in s.start_urls]
    sites = {p.url: p.site for p in (store.get_page(u, with_html=False) for u in plan.skipped)
             if p is not None}
    with store.transaction():
        store.frontier_add(entries)
        store.frontier_add([(u, sites.get(u, ""), 0) for u in plan.skipped])
        for url in plan.skipped:
            store.frontier_mark(url, "done", "sitemap lastmod older than the stored copy",
                                site=sites.get(url, ""))


def refresh(store: Store, data_dir: Path, sources: list[Source], config: CrawlConfig, *,
            on_page: OnPage | None = None, on_finish: Callable[[], object] | None = None,
            progress: Callable[[str], None] | None = None) -> ChangeReport:
    """Revisit ``sources`` and return what changed. The caller holds the crawl lock.

    ``on_page(url)`` turns a stored page into a document (the CLI passes
    ``PageProcessor.process``); it is called for every page fetched with a body. ``on_finish()``
    then handles pages stored but not yet processed (a crawl killed in between, a multi-page
    article whose part never came). What changed is read from the corpus itself, compared
    with its state before the crawl.
    """
    report = ChangeReport(started=utcnow())
    names = {s.name for s in sources}
    before = {d.url: d.content_hash for d in store.iter_documents() if d.site in names}
    plan, hints = prepare(store, sources, config)
    report.errors.extend(hints.errors)
    _seed_frontier(store, sources, plan)
    listings = [canonicalize(u) for s in sources for u in s.start_urls]
    checked_before = {u: p.checked_at for u in plan.revisit + plan.skipped + listings
                      if (p := store.get_page(u, with_html=False)) is not None}

    # The robots.txt answers read for the hints go to the crawl, which parses them instead
    # of asking each site for the same file again.
    crawl_report = crawl(replace(config, sources=sources, resume=True,
                                 robots_txt={**hints.robots, **config.robots_txt}),
                         data_dir,
                         on_page=on_page, progress=progress, conditional=True,
                         revisit=plan.revisit + plan.new)
    if on_finish is not None:
        on_finish()
    gone_now = {canonicalize(u) for u in crawl_report.gone}
    report.errors.extend(e for e in crawl_report.errors if e.get("status") not in GONE)
    report.not_modified = crawl_report.not_modified
    report.requests = crawl_report.pages_fetched + hints.requests
    _deletions(store, sources, hints, gone_now, set(before), report)
    _classify(store, names, plan, before, checked_before, report)
    report.finished = utcnow()
    return report


def _deletions(store: Store, sources: list[Source], hints: Hints, gone_now: set[str],
               live_before: set[str], report: ChangeReport) -> None:
    """Tombstone documents gone twice, or gone and dropped from a complete sitemap."""
    complete = complete_sitemap_sites(store, sources, hints, gone_now)
    for url in sorted(gone_now):
        page = store.get_page(url, with_html=False)
        if page is None:
            continue
        unlisted = page.site in complete and url not in hints.listed
        if page.gone_count >= GONE_STRIKES or unlisted:
            store.tombstone(url)
        elif url in live_before:
            report.missing.append(url)


def _classify(store: Store, names: set[str], plan: RefreshPlan, before: dict[str, str],
              checked_before: dict[str, str | None], report: ChangeReport) -> None:
    """Compare the corpus with its state before the crawl (``before``: live URL -> hash of
    the cleaned text). Reading the outcome from the store rather than from the callback's
    answers also catches documents re-made indirectly (the first part of a multi-page
    article whose second page changed) and those processed after the crawl.

    A live document counts as unchanged when its page was visited this run (its
    ``checked_at`` moved: a 304 or the same cleaned text) or the sitemap vouched for it.
    """
    for row in store.changes_since(report.started):
        doc = store.get_document(row["id"])
        if doc is None or doc.site not in names:
            continue
        if doc.url in before:
            if doc.deleted:
                report.deleted.append(doc.url)
            elif doc.content_hash != before[doc.url]:
                report.changed.append(doc.url)
        elif not doc.deleted:
            report.new.append(doc.url)  # never seen, or a tombstone that came back
    for kind in (report.new, report.changed, report.deleted):
        kind.sort()

    def visited(url: str, page: Page) -> bool:
        return url in checked_before and page.checked_at != checked_before[url]

    skipped = set(plan.skipped)
    settled = set(report.changed) | set(report.deleted) | set(report.missing) | {
        e.get("url") for e in report.errors}
    for url in sorted(before):
        if url in settled:
            continue
        page = store.get_page(url, with_html=False)
        if page is not None and not page.error and (visited(url, page) or url in skipped):
            report.unchanged += 1
    report.skipped = sum(1 for u in skipped
                         if (p := store.get_page(u, with_html=False)) is not None
                         and not visited(u, p))
