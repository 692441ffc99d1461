"""Downloader-side policy: scope, HTML-only downloads, conditional GET, frontier dedupe.

Each class is one concern with Scrapy's small hook protocol. They share the crawl's state
through ``spider.ctx`` (a ``crawler.run.CrawlContext``): the corpus store, the sources, the
report being filled.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request

from crawler.urls import canonicalize

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


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
