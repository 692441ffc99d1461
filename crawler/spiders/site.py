"""The generic article spider: start URLs, sitemaps (also from robots.txt), links.

robots.txt is fetched once per site and crawl: the ``Sitemap:`` lines are read from the
parser Scrapy's RobotsTxtMiddleware already built to decide what may be fetched, so a site
never sees a second request for the same file (which would also come before its
Crawl-delay is known). Only a crawl that does not obey robots.txt fetches it here. A refresh,
which read robots.txt already while planning, hands those answers over
(``CrawlConfig.robots_txt``) and the middleware is given their parse instead of a download.

It decides what a response *is* (a page to store, a noindex page, a not-modified answer, an
error) and which links to follow; what may be requested at all (scope, caps, traps, the
frontier) is decided by the crawl context ``self.ctx`` so the rules live in one place.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import scrapy
from parsel import Selector
from scrapy import signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
    StopDownload,
)
from scrapy.http import Request, Response
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.sitemap import Sitemap
from twisted.internet.defer import DeferredList
from twisted.python.failure import Failure

from crawler.charset import decode_html, looks_binary
from crawler.items import PageItem
from crawler.middlewares import SkipRequest
from crawler.sources import Source
from crawler.urls import canonicalize, is_http, netloc_of

_SITEMAP_MAX_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for one uncompressed file


def robots_directives(values: list[str]) -> set[str]:
    """``noindex`` / ``nofollow`` / ``none`` from meta robots contents or X-Robots-Tag values
    (a header value may be prefixed by a user agent: ``googlebot: noindex``)."""
    found: set[str] = set()
    for value in values:
        for part in value.lower().split(","):
            token = part.strip().rsplit(":", 1)[-1].strip()
            if token == "none":
                found.update({"noindex", "nofollow"})
            elif token:
                found.add(token)
    return found


_NOT_WEB = ("mailto:", "tel:", "javascript:", "data:", "sms:", "ftp:", "#")


@dataclass
class PageLinks:
    """What the spider needs from a page's markup besides its text."""

    links: list[str] = field(default_factory=list)  # canonical http(s) URLs, in page order
    robots: list[str] = field(default_factory=list)  # <meta name=robots> contents
    canonical: str | None = None  # first <link rel=canonical> href, as written


def read_page(html: str, url: str) -> PageLinks:
    """One pass over the parsed page: followable links (``rel=nofollow`` and non-web schemes
    left out, ``<base href>`` honoured), meta robots and the canonical link."""
    found = PageLinks()
    try:
        root = Selector(text=html, type="html").root
    except (ValueError, TypeError):
        return found
    if root is None or not hasattr(root, "iter"):
        return found
    base = url
    hrefs: list[str] = []
    for element in root.iter("a", "area", "meta", "link", "base"):
        tag = element.tag
        if tag in ("a", "area"):
            href = (element.get("href") or "").strip()
            if not href or href[:11].lower().startswith(_NOT_WEB):
                continue
            if "nofollow" in (element.get("rel") or "").lower().split():
                continue
            hrefs.append(href)
        elif tag == "meta":
            if (element.get("name") or "").strip().lower() == "robots":
                found.robots.append(element.get("content") or "")
        elif tag == "link":
            if found.canonical is None and "canonical" in (element.get("rel") or "").lower().split():
                found.canonical = (element.get("href") or "").strip() or None
        elif tag == "base" and base == url and element.get("href"):
            base = urljoin(url, element.get("href").strip())
    seen: dict[str, None] = {}
    for href in hrefs:
        link = canonicalize(href, base=base)
        if is_http(link):
            seen[link] = None
    found.links = list(seen)
    return found


class SiteSpider(scrapy.Spider):
    """Crawls every source of a ``CrawlConfig``; state and policy live in ``self.ctx``."""

    name = "site"

    def __init__(self, ctx: Any = None, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ctx = ctx
        # robots.txt URL as first asked -> status of its last answer (after retries, redirects)
        self.robots_status: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._response_received, signal=signals.response_received)
        return spider

    def _response_received(self, response: Response, request: Request, spider: Any = None) -> None:
        """Remember the status of robots.txt answers: the parser Scrapy hands over does not
        say whether it came from a 200 or from the body of an error page."""
        if not request.meta.get("dont_obey_robotstxt"):
            return
        first = (request.meta.get("redirect_urls") or [request.url])[0]
        if first.endswith("/robots.txt"):
            self.robots_status[first] = response.status

    # ------------------------------------------------------------------ requests
    def page_request(self, url: str, source: str, depth: int, *, revisit: bool = False) -> Request:
        return Request(
            url, callback=self.parse, errback=self.on_error, priority=-depth,
            dont_filter=revisit,
            meta={"kind": "page", "source": source, "depth": depth, "frontier_url": url,
                  "revisit": revisit},
        )

    def _aux_request(self, url: str, source: str, kind: str) -> Request:
        callback = self.parse_robots if kind == "robots" else self.parse_sitemap
        return Request(url, callback=callback, errback=self.on_aux_error, priority=10,
                       dont_filter=True,
                       meta={"kind": kind, "source": source, "dont_obey_robotstxt": kind == "robots",
                             "download_maxsize": _SITEMAP_MAX_BYTES})

    async def start(self) -> AsyncIterator[Request]:
        """Revisits and resumed URLs, then per source: the sitemaps its robots.txt names,
        its configured sitemaps and its start URLs.

        Each site's robots.txt is awaited here through Scrapy's own RobotsTxtMiddleware (its
        one fetch for the crawl, shared with every later request to the site), not left to
        the first page request: a site whose start URLs are all done already (a second
        crawl) still gets its robots.txt sitemaps read.
        """
        ctx = self.ctx
        robots = self._robots_middleware()
        if robots is not None:
            await self._seed_robots(robots)  # before any request can reach the middleware
            await self._fetch_robots(robots)
        for url, source in ctx.revisit_entries():
            yield self.page_request(url, source, 0, revisit=True)
        for url, source, depth in ctx.resume_entries():
            yield self.page_request(url, source, depth)
        for source in ctx.config.sources:
            for base in _bases(source):
                if robots is None:  # not obeyed: fetched for its Sitemap: lines only
                    answer = self._reusable_robots(netloc_of(base))
                    if answer is None:
                        yield self._aux_request(base + "/robots.txt", source.name, "robots")
                    else:
                        for request in self._robots_body_sitemaps(
                                answer.status, answer.body, answer.url, source.name):
                            yield request
                    continue
                for request in await self._sitemaps_from_robots(robots, base, source.name):
                    yield request
            for url in source.sitemap_urls:
                if ctx.sitemap_new(canonicalize(url)):
                    yield self._aux_request(url, source.name, "sitemap")
            for url, depth in ctx.register([(u, 0) for u in source.start_urls], source.name):
                yield self.page_request(url, source.name, depth)

    def _robots_middleware(self) -> RobotsTxtMiddleware | None:
        """Scrapy's robots.txt middleware of this crawl; None when ROBOTSTXT_OBEY is off (it
        is then not built) or it was left out of DOWNLOADER_MIDDLEWARES."""
        engine = getattr(self.crawler, "engine", None)
        manager = getattr(getattr(engine, "downloader", None), "middleware", None)
        for middleware in getattr(manager, "middlewares", ()):
            if isinstance(middleware, RobotsTxtMiddleware):
                return middleware
        return None

    def _reusable_robots(self, netloc: str) -> Any:
        """The robots.txt answer fetched before this crawl for ``netloc`` (a
        ``crawler.run.RobotsAnswer``) when it is final: one Scrapy would have retried (a 5xx,
        408 or 429 while retries are on) is not, so Scrapy asks again, with its retries."""
        answer = (getattr(self.ctx.config, "robots_txt", None) or {}).get(netloc)
        if answer is None:
            return None
        settings = self.crawler.settings
        retried = settings.getbool("RETRY_ENABLED") and settings.getint("RETRY_TIMES") > 0 \
            and answer.status in {int(c) for c in settings.getlist("RETRY_HTTP_CODES")}
        return None if retried else answer

    async def _seed_robots(self, robots: RobotsTxtMiddleware) -> None:
        """Give Scrapy's robots.txt middleware the answers fetched before the crawl.

        The middleware keeps one parser per netloc (``_parsers``) and downloads robots.txt
        only for a netloc it has none for; a parser built here from the same body, with the
        same ROBOTSTXT_PARSER, decides exactly as a downloaded one would. The
        ``robots_parsed`` signal the middleware sends after its own download is sent here
        too, so the Crawl-delay floor (``CrawlDelayMiddleware``) is set before the first
        request to the site.
        """
        parsers = getattr(robots, "_parsers", None)
        if not isinstance(parsers, dict):  # another Scrapy: leave robots.txt to it
            return
        parser_class = load_object(self.crawler.settings.get("ROBOTSTXT_PARSER"))
        for netloc in getattr(self.ctx.config, "robots_txt", None) or {}:
            answer = self._reusable_robots(netloc)
            if answer is None or netloc in parsers:
                continue
            parser = build_from_crawler(parser_class, self.crawler, answer.body)
            parsers[netloc] = parser
            probe = Request(urljoin(answer.url, "/"), meta={"kind": "robots"})
            self.robots_status[answer.url] = answer.status
            self.ctx.log_event("robots", answer.url,
                               f"HTTP {answer.status}, read before the crawl")
            await self.crawler.signals.send_catch_log_async(
                signal=signals.robots_parsed, robotparser=parser, request=probe)

    async def _fetch_robots(self, robots: RobotsTxtMiddleware) -> None:
        """Ask every site for its robots.txt at once, so one slow or dead site does not hold
        back the others' start (each is awaited again, already answered, per source below)."""
        probes = [Request(base + "/", meta={"kind": "robots", "source": source.name})
                  for source in self.ctx.config.sources for base in _bases(source)]
        if probes:
            await maybe_deferred_to_future(DeferredList(
                [deferred_from_coro(robots.robot_parser(probe)) for probe in probes],
                consumeErrors=True))

    async def _sitemaps_from_robots(self, robots: RobotsTxtMiddleware, base: str,
                                    source: str) -> list[Request]:
        """Sitemap requests for the ``Sitemap:`` lines of ``base``'s robots.txt, read from the
        parser the middleware keeps for the site (fetching it now if no request has yet)."""
        robots_url = base + "/robots.txt"
        probe = Request(base + "/", meta={"kind": "robots", "source": source})
        try:
            parser = await robots.robot_parser(probe)
        except Exception as exc:  # noqa: BLE001 - the middleware reports fetch errors itself
            self.ctx.log_event("robots", robots_url, type(exc).__name__)
            return []
        if parser is None:  # unreachable: Scrapy allows everything, nothing to read
            self.ctx.log_event("robots", robots_url, "unreachable")
            return []
        status = self.robots_status.get(robots_url, 200)
        if status != 200:
            return []
        return list(self._sitemap_requests(_sitemaps_of(parser), robots_url, source))

    # ------------------------------------------------------------------ pages
    def parse(self, response: Response) -> Iterator[Any]:
        ctx = self.ctx
        meta = response.meta
        source, depth = meta["source"], int(meta.get("depth", 0))
        ctx.response_seen(response, source)
        common = {"site": source, "status": response.status, "final_url": response.url,
                  "depth": depth, "aliases": self._aliases(response)}
        if response.status == 304:
            yield PageItem(url=meta["frontier_url"], not_modified=True, **common)
            return
        if response.status >= 300:
            yield PageItem(url=meta["frontier_url"], **common)
            return
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1")
        if looks_binary(response.body):
            ctx.request_done(response.request, "failed", f"binary content served as {ctype or 'HTML'}")
            return
        html, charset = decode_html(response.body, ctype)
        found = read_page(html, response.url)
        directives = robots_directives(
            [v.decode("latin-1") for v in response.headers.getlist(b"X-Robots-Tag")]
            + found.robots)
        if "noindex" in directives:
            ctx.request_done(response.request, "skipped", "noindex")
        else:
            url = self._identity(response, found.canonical, source)
            yield PageItem(
                url=url, html=html, charset=charset, content_type=ctype or None,
                etag=_header(response, b"ETag"), last_modified=_header(response, b"Last-Modified"),
                **{**common, "aliases": tuple(a for a in common["aliases"] + (meta["frontier_url"],)
                                              if a != url)})
        if "nofollow" in directives:
            return
        for url, link_depth in ctx.register([(u, depth + 1) for u in found.links], source,
                                            found_on=canonicalize(response.url)):
            yield self.page_request(url, source, link_depth)

    def _aliases(self, response: Response) -> tuple[str, ...]:
        urls = [canonicalize(u) for u in response.meta.get("redirect_urls", [])]
        urls.append(canonicalize(response.url))
        return tuple(dict.fromkeys(urls))

    def _identity(self, response: Response, canonical: str | None, source: str) -> str:
        """The stored URL: the page's ``rel=canonical`` when it stays on the same site."""
        if canonical:
            candidate = canonicalize(canonical, base=response.url)
            if is_http(candidate) and not self.ctx.out_of_scope(candidate, source):
                return candidate
        return canonicalize(response.url)

    def on_error(self, failure: Failure) -> None:
        request = failure.request
        exc = failure.value
        if isinstance(exc, SkipRequest):
            self.ctx.request_done(request, exc.state, exc.reason)
        elif isinstance(exc, StopDownload):
            ctype = exc.response.headers.get(b"Content-Type", b"").decode("latin-1")
            self.ctx.request_done(request, "skipped", f"not HTML ({ctype.split(';')[0]})")
        elif isinstance(exc, IgnoreRequest):
            reason = str(exc) or type(exc).__name__
            if "robots.txt" in reason:
                self.ctx.request_done(request, "skipped", "disallowed by robots.txt")
            elif "DOWNLOAD_MAXSIZE" in reason:  # a compressed body that inflates too far
                self.ctx.request_done(request, "failed", "too big (after decompression)")
            else:
                self.ctx.request_done(request, "failed", reason)
        elif isinstance(exc, DownloadCancelledError):
            limit = request.meta.get("download_maxsize") or \
                self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
            self.ctx.request_done(request, "failed", f"too big (over {limit} bytes)")
        elif isinstance(exc, DownloadTimeoutError):
            self.ctx.request_done(request, "failed", "timeout")
        else:
            self.ctx.request_done(request, "failed", f"{type(exc).__name__}: {exc}".strip())

    # ------------------------------------------------------------------ robots & sitemaps
    def parse_robots(self, response: Response) -> Iterator[Request]:
        """robots.txt fetched by the spider itself: only when robots.txt is not obeyed."""
        yield from self._robots_body_sitemaps(response.status, response.body, response.url,
                                              response.meta["source"])

    def _robots_body_sitemaps(self, status: int, body: bytes, robots_url: str,
                              source: str) -> Iterator[Request]:
        """Sitemap requests for the ``Sitemap:`` lines of a robots.txt answer (a 200 only:
        an error page's text is not the site's robots.txt)."""
        if status == 200:
            yield from self._sitemap_requests(_protego_sitemaps(body), robots_url, source)

    def _sitemap_requests(self, urls: list[str], robots_url: str,
                          source: str) -> Iterator[Request]:
        for url in urls:
            url = canonicalize(url, base=robots_url)
            if is_http(url) and not self.ctx.out_of_scope(url, source):
                if self.ctx.sitemap_new(url):
                    yield self._aux_request(url, source, "sitemap")

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        source = response.meta["source"]
        if response.status != 200:
            self.ctx.log_event("sitemap", response.url, f"HTTP {response.status}")
            return
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
                    body = fh.read(_SITEMAP_MAX_BYTES)
            except (OSError, EOFError):
                self.ctx.log_event("sitemap", response.url, "bad gzip")
                return
        try:
            sitemap = Sitemap(body)
        except Exception:  # noqa: BLE001 - lxml raises several types for garbage
            self.ctx.log_event("sitemap", response.url, "not a sitemap")
            return
        locs = [canonicalize(entry["loc"].strip(), base=response.url)
                for entry in sitemap if entry.get("loc")]
        if sitemap.type == "sitemapindex":
            for url in locs:
                if is_http(url) and not self.ctx.out_of_scope(url, source) \
                        and self.ctx.sitemap_new(url):
                    yield self._aux_request(url, source, "sitemap")
            return
        for url, depth in self.ctx.register([(u, 0) for u in locs if is_http(u)], source,
                                            from_sitemap=True):
            yield self.page_request(url, source, depth)

    def on_aux_error(self, failure: Failure) -> None:
        self.ctx.log_event(failure.request.meta.get("kind", "aux"), failure.request.url,
                           type(failure.value).__name__)


def _protego_sitemaps(body: bytes) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt body; a broken file names none."""
    from protego import Protego

    try:
        return list(Protego.parse(body.decode("utf-8", errors="replace")).sitemaps)
    except Exception:  # noqa: BLE001 - a broken robots.txt just has no sitemaps for us
        return []


def _sitemaps_of(parser: Any) -> list[str]:
    """The ``Sitemap:`` URLs of a Scrapy robots parser: Protego's (our ROBOTSTXT_PARSER) are
    on ``parser.rp.sitemaps``; other parsers don't read them, so they give none."""
    try:
        return [str(url) for url in getattr(getattr(parser, "rp", None), "sitemaps", None) or ()]
    except Exception:  # noqa: BLE001 - a broken robots.txt just has no sitemaps for us
        return []


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _bases(source: Source) -> list[str]:
    """``scheme://host[:port]`` of each site a source starts from, in order, once each."""
    bases: list[str] = []
    for url in source.start_urls + source.sitemap_urls:
        base = url.split("://", 1)[0] + "://" + netloc_of(url)
        if base not in bases:
            bases.append(base)
    return bases
