"""What the distributed crawl reads from Scrapy's engine beyond its public API.

Scrapy 2.19 keeps the requests this process has taken and not finished in
``engine._slot.inprogress`` and its "look for work now" call in ``engine._slot.nextcall``;
neither is public. They are read here only, and defensively (an engine without them degrades
the worker, never breaks it), so a Scrapy upgrade is checked in this one file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request


def requests_in_progress(crawler: Crawler) -> list[Request] | None:
    """The requests this process has taken and not finished (None: this engine can't tell)."""
    slot = getattr(crawler.engine, "_slot", None)
    inprogress = getattr(slot, "inprogress", None)
    return None if inprogress is None else list(inprogress)


def wake_engine(crawler: Crawler) -> None:
    """Make the engine look for requests now (by itself it only looks every five seconds)."""
    slot = getattr(crawler.engine, "_slot", None)
    nextcall = getattr(slot, "nextcall", None)
    if nextcall is not None:
        nextcall.schedule()


def site_of(crawler: Crawler, request: Request) -> str:
    """The downloader slot (the site) a request counts against, as Scrapy itself decides."""
    downloader = getattr(crawler.engine, "downloader", None)
    if downloader is not None and hasattr(downloader, "get_slot_key"):
        return downloader.get_slot_key(request)
    return urlsplit(request.url).hostname or ""
