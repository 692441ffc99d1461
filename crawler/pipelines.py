"""The item pipeline: every fetched page becomes a row in the corpus, then the callback
turns it into a document.

The page row and the frontier update are written in one transaction, so a crawl killed at
any instant leaves each URL either fetched-and-stored or still queued — never stored but
forgotten, which is what makes ``kill -9`` + resume lose and duplicate nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from scrapy.exceptions import DropItem

from corpus.errors import StorageError
from corpus.models import Page, text_hash, utcnow
from crawler.items import PageItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class StorePipeline:
    """Writes ``PageItem``s with ``Store.upsert_page`` and calls ``ctx.on_page(url)``."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: PageItem) -> PageItem:
        ctx = self.crawler.spider.ctx
        try:
            if item.not_modified:
                self._not_modified(ctx, item)
            elif item.html is None:
                self._error_status(ctx, item)
            else:
                self._store(ctx, item)
        except StorageError as exc:
            # A full disk or a read-only corpus fails every later page the same way: stop the
            # crawl at once (what was stored stays; the frontier keeps the rest for a rerun).
            if ctx.fatal is None:
                ctx.fatal = exc
                self.crawler.engine.close_spider(self.crawler.spider, "storage_error")
            raise DropItem(str(exc)) from None
        ctx.tick()
        return item

    def _store(self, ctx, item: PageItem) -> None:
        if item.url in ctx.stored_urls:
            # Reached again through another alias (a redirect or a canonical link) this run.
            ctx.mark_done(item, "done", f"duplicate of {item.url}")
            ctx.report_skip(item.site, "duplicate")
            return
        now = utcnow()
        page = Page(
            url=item.url, site=item.site, status=item.status, final_url=item.final_url,
            fetched_at=now, checked_at=now, etag=item.etag, last_modified=item.last_modified,
            content_type=item.content_type, charset=item.charset,
            content_hash=text_hash(item.html), html=item.html, error=None, depth=item.depth,
        )
        with ctx.store.transaction():
            ctx.store.upsert_page(page)
            ctx.mark_done(item, "done", None)
        ctx.page_stored(item)
        outcome = None
        if ctx.on_page is not None:
            try:
                outcome = ctx.on_page(item.url)
            except StorageError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad page must not stop the crawl
                ctx.record_error(item.url, item.site, f"processing failed: "
                                 f"{type(exc).__name__}: {exc}")
        ctx.page_processed(item, outcome)

    def _not_modified(self, ctx, item: PageItem) -> None:
        """A 304: the stored body stands; only the visit time (and validators) move on."""
        old = ctx.store.get_page(item.url, with_html=False)
        now = utcnow()
        if old is None:  # nothing stored to keep: treat like an empty error answer
            self._error_status(ctx, item)
            return
        page = replace(old, checked_at=now, etag=item.etag or old.etag,
                       last_modified=item.last_modified or old.last_modified,
                       error=None, gone_count=0, html=None)
        with ctx.store.transaction():
            ctx.store.upsert_page(page)
            ctx.mark_done(item, "done", "not modified")
        ctx.page_not_modified(item)

    def _error_status(self, ctx, item: PageItem) -> None:
        """404/410, a 5xx that outlived its retries, a redirect without target: recorded on
        the page row (keeping any earlier body) and in the report."""
        old = ctx.store.get_page(item.url, with_html=False)
        now = utcnow()
        error = f"HTTP {item.status}"
        gone = item.status in (404, 410)
        if old is None:
            page = Page(url=item.url, site=item.site, status=item.status,
                        final_url=item.final_url, checked_at=now, error=error, depth=item.depth,
                        gone_count=1 if gone else 0)
        else:
            page = replace(old, status=item.status, final_url=item.final_url, checked_at=now,
                           error=error, html=None,
                           gone_count=(old.gone_count + 1) if gone else old.gone_count)
        with ctx.store.transaction():
            ctx.store.upsert_page(page)
            ctx.mark_done(item, "failed", error)
        ctx.record_error(item.url, item.site, error, status=item.status)
