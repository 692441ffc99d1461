"""What the spider hands the pipeline: one fetched page, already decoded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PageItem:
    """One response worth recording.

    ``url`` is the stored identity (canonical URL, or the page's ``rel=canonical`` on the same
    site); ``aliases`` are the other canonical URLs that led to it (the requested URL before
    redirects, the redirect chain), so the frontier can mark them all done. ``html`` is None
    for error statuses and for 304 answers (``not_modified``).
    """

    url: str
    site: str
    status: int
    final_url: str
    depth: int = 0
    html: str | None = None
    charset: str | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    aliases: tuple[str, ...] = ()
