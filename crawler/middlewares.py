"""Downloader-side policy: scope, HTML-only downloads, conditional GET, frontier dedupe,
robots.txt Crawl-delay.

Each class is one concern with Scrapy's small hook protocol. They share the crawl's state
through ``spider.ctx`` (a ``crawler.run.CrawlContext``): the corpus store, the sources, the
report being filled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request

from crawler.urls import canonicalize

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)


class SkipRequest(IgnoreRequest):
    """A request we decided not to make; ``reason`` goes to the frontier and the report."""

    def __init__(self, reason: str, state: str = "skipped"):
        super().__init__(reason)
        self.reason = reason
        self.state = state


def _ctx(crawler: Crawler):
    return getattr(crawler.spider, "ctx", None)


class ScopeMiddleware:
    """Last line of defence before the network: no request leaves for a host outside its
    source, an excluded pattern or an obviously non-HTML extension — including redirect
    targets, which never went through the spider's link filter. Also stops non-HTML bodies
    as soon as their headers arrive, so a PDF or a video is never downloaded in full."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.html_types = tuple(crawler.settings.getlist("HTML_TYPES"))
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        ctx = _ctx(self.crawler)
        if ctx is None or request.meta.get("kind") != "page":
            return None
        reason = ctx.out_of_scope(canonicalize(request.url), request.meta.get("source"))
        if reason:
            raise SkipRequest(reason)
        return None

    def headers_received(self, headers, body_length: int, request: Request, spider) -> None:
        if request.meta.get("kind") != "page":
            return
        raw = headers.get(b"Content-Type") or b""
        ctype = raw.decode("latin-1").split(";", 1)[0].strip().lower()
        if ctype and not ctype.startswith(self.html_types):
            raise StopDownload(fail=True)


class RetryBackoffMiddleware:
    """Waits before a retried request: ``RETRY_BACKOFF_BASE`` seconds, doubling with each
    further retry up to ``RETRY_BACKOFF_MAX``. Scrapy's RetryMiddleware re-queues a failed
    request at once; a struggling server deserves a pause instead."""

    def __init__(self, base: float, cap: float):
        self.base = base
        self.cap = cap

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoffMiddleware:
        settings = crawler.settings
        return cls(settings.getfloat("RETRY_BACKOFF_BASE"), settings.getfloat("RETRY_BACKOFF_MAX"))

    async def process_request(self, request: Request) -> None:
        retries = int(request.meta.get("retry_times", 0))
        if retries and self.base > 0:
            await asyncio.sleep(min(self.base * 2 ** (retries - 1), self.cap))
        return None


class ConditionalGetMiddleware:
    """Refresh support: re-request a known page with ``If-None-Match`` / ``If-Modified-Since``
    from its stored row, so an unchanged page costs a 304 and no body. Only active when the
    crawl runs with ``conditional=True``; a 304 goes on to the spider as a not-modified item."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        ctx = _ctx(self.crawler)
        if ctx is None or not ctx.conditional or request.meta.get("kind") != "page":
            return None
        if "conditional_checked" in request.meta:
            return None
        request.meta["conditional_checked"] = True
        url = request.meta.get("frontier_url") or canonicalize(request.url)
        page = ctx.store.get_page(url, with_html=False)
        if page is None or page.error or not page.content_hash:
            return None
        if page.etag:
            request.headers[b"If-None-Match"] = page.etag
        if page.last_modified:
            request.headers[b"If-Modified-Since"] = page.last_modified
        return None


class FrontierDupeFilter:
    """Duplicate filter backed by the corpus frontier instead of an in-memory set.

    Links are registered in the frontier by the spider before their requests exist, so a
    first request is never a duplicate. What reaches this filter unregistered is a redirect
    target: it is dropped when it loops back into its own chain, leaves the source, or was
    already seen (queued or fetched) — otherwise it joins the frontier.
    """

    def __init__(self, crawler: Crawler | None = None):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierDupeFilter:
        return cls(crawler)

    def open(self) -> None:
        return None

    def close(self, reason: str) -> None:
        return None

    def log(self, request: Request, spider) -> None:
        return None

    def request_seen(self, request: Request) -> bool:
        chain = request.meta.get("redirect_urls")
        ctx = _ctx(self.crawler) if self.crawler else None
        if not chain or ctx is None or request.meta.get("kind") != "page":
            return False
        target = canonicalize(request.url)
        if target in {canonicalize(u) for u in chain}:
            ctx.request_done(request, "failed", f"redirect loop back to {target}")
            return True
        source = request.meta.get("source")
        reason = ctx.out_of_scope(target, source)
        if reason:
            ctx.request_done(request, "skipped", f"redirects to {target}: {reason}")
            return True
        if ctx.seen(target):
            if ctx.conditional and request.meta.get("revisit"):
                return False
            ctx.request_done(request, "skipped", f"redirects to already seen {target}")
            return True
        ctx.store.frontier_add([(target, source or "", int(request.meta.get("depth", 0)))])
        ctx.remember(target)
        return False


def crawl_delay_floor(asked: float | None, cap: float) -> tuple[float, bool]:
    """The gap a robots.txt ``Crawl-delay`` asks for, limited to ``cap`` seconds, and whether
    the cap cut it. None, zero, negative or non-numeric values (Protego gives floats) ask for
    nothing: 0.0. A huge value (``Crawl-delay: 86400``) would stall a crawl for days; we
    crawl that site at the cap instead and say so."""
    try:
        value = float(asked) if asked is not None else 0.0
    except (TypeError, ValueError):
        return 0.0, False
    if not value > 0:  # also rejects NaN
        return 0.0, False
    if value > cap:
        return cap, True
    return value, False


class CrawlDelayMiddleware:
    """Honours robots.txt ``Crawl-delay`` as a floor on the gap between requests to a site.

    Scrapy's RobotsTxtMiddleware parses robots.txt (Protego) once per netloc and announces
    each parser with the ``robots_parsed`` signal; we read ``crawl_delay(user agent)`` there
    and raise the delay of the site's downloader slot to it. Our own delay and AutoThrottle
    keep working above that floor: AutoThrottle sets ``slot.delay`` again after every
    response, so after it has (this middleware is built with the engine, after the
    extensions, so its handler runs after AutoThrottle's) the floor is put back. The slot's
    random jitter is narrowed and its delay set so that even the shortest jittered gap is
    not below the Crawl-delay. New slots (Scrapy drops idle ones) get the floor through the
    downloader's per-slot settings. Values above ``ROBOTSTXT_CRAWL_DELAY_MAX`` are capped,
    with an INFO log line naming the site.
    """

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.cap = settings.getfloat("ROBOTSTXT_CRAWL_DELAY_MAX")
        self.max_jitter = settings.getfloat("ROBOTSTXT_CRAWL_DELAY_JITTER")
        self.user_agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        self.jitter = settings.getfloat("DOWNLOAD_DELAY_JITTER")
        self.floors: dict[str, float] = {}  # downloader slot key -> seconds between requests
        crawler.crawl_delay_floors = self.floors  # the distributed crawl shares them in Redis
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayMiddleware:
        return cls(crawler)

    def _downloader(self):
        engine = getattr(self.crawler, "engine", None)
        return getattr(engine, "downloader", None)

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        downloader = self._downloader()
        if downloader is None:
            return
        agent = self.user_agent or request.headers.get(b"User-Agent") or ""
        asked = robotparser.crawl_delay(agent)
        floor, capped = crawl_delay_floor(asked, self.cap)
        if not floor:
            return
        netloc = request.url.split("/", 3)[2]
        if capped:
            logger.info("robots.txt of %s asks for Crawl-delay %s s; capped at %.0f s",
                        netloc, asked, self.cap)
        else:
            logger.info("robots.txt of %s asks for Crawl-delay %s s; honoured", netloc, floor)
        ctx = _ctx(self.crawler)
        if ctx is not None:
            ctx.log_event("crawl-delay", f"{request.url.split('/', 3)[0]}//{netloc}/robots.txt",
                          f"{floor:g} s" + (f" (asked {float(asked):g} s, capped)" if capped else ""))
        key = downloader.get_slot_key(request)
        floor = max(floor, self.floors.get(key, 0.0))  # two netlocs can share a slot
        self.floors[key] = floor
        jitter = min(self.jitter, self.max_jitter)
        slot_settings = dict(downloader.per_slot_settings.get(key, {}))
        slot_settings["jitter"] = min(float(slot_settings.get("jitter", jitter)), jitter)
        slot_settings["delay"] = max(float(slot_settings.get("delay", 0.0)),
                                     self._lowest_delay(floor, slot_settings["jitter"]))
        downloader.per_slot_settings[key] = slot_settings
        slot = downloader.slots.get(key)
        if slot is not None:
            self._apply(slot, floor)

    def response_downloaded(self, response, request: Request, spider=None) -> None:
        key = request.meta.get("download_slot")
        floor = self.floors.get(key) if key is not None else None
        if not floor:
            return
        downloader = self._downloader()
        slot = downloader.slots.get(key) if downloader is not None else None
        if slot is not None:
            self._apply(slot, floor)

    def _apply(self, slot, floor: float) -> None:
        slot.jitter = min(slot.jitter, self.max_jitter)
        slot.delay = max(slot.delay, self._lowest_delay(floor, slot.jitter))

    @staticmethod
    def _lowest_delay(floor: float, jitter: float) -> float:
        """The slot delay whose shortest jittered gap, delay * (1 - jitter), is ``floor``."""
        return floor / (1.0 - jitter) if 0 < jitter < 1 else floor
