"""From stored page to stored document: clean, join multi-page articles, annotate, save.

This is the step between the crawler (which stores raw pages) and the index. It runs per page
while a crawl goes on (the CLI hands ``PageProcessor.process`` to the crawler as a callback)
and once more at the end over anything left (``process_pending``), so a crawl killed between
storing a page and cleaning it loses nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from corpus import Document, Store
from corpus.models import doc_id_for_url

MAX_PARTS = 20  # a multi-page article longer than this is a trap, not an article

# Outcomes of PageProcessor.process besides the store's new/changed/unchanged/revived
NOT_ARTICLE = "not_article"
CONTINUATION = "continuation"
SKIPPED = "skipped"
WAITING = "waiting"  # a multi-page article whose next part is not fetched yet


class PageProcessor:
    """Turns pages into documents. ``rules`` maps a site name to ``indexer.clean.SiteRules``."""

    def __init__(self, store: Store, data_dir: Path | None = None, rules: dict | None = None):
        from indexer.annotate import Annotator

        self.store = store
        self.rules = rules or {}
        self.annotator = Annotator.load(data_dir)

    def process(self, url: str, *, final: bool = False) -> str:
        """Clean and annotate one stored page; returns what happened to its document.

        While a crawl runs (``final=False``) the first part of a multi-page article waits until
        its following parts are stored; ``final=True`` saves whatever parts exist.
        """
        from indexer.clean import clean

        page = self.store.find_page(url)
        if page is None or page.html is None or page.error:
            return SKIPPED
        cleaned = clean(page.html, page.final_url or page.url, self.rules.get(page.site))
        if cleaned.prev_page:
            # A later part of a multi-page article: the first part's document holds its text.
            self.store.mark_processed(page.url)
            first = self._first_part(cleaned.prev_page)
            if first is not None and first != page.url:
                self.process(first, final=final)
            return CONTINUATION
        if not cleaned.is_article or not cleaned.text.strip():
            self.store.mark_processed(page.url)
            existing = self.store.get_document(page.url)
            if existing is not None and not existing.deleted:
                self.store.tombstone(page.url)  # it was an article and is no longer one
            return NOT_ARTICLE
        cleaned, complete = self._join_following_parts(cleaned)
        if not complete and not final:
            # Saving now would record the partial text and, moments later, a "change" with a
            # bogus history version; the next part's arrival (or process_pending) finishes it.
            return WAITING
        note = self.annotator.annotate(cleaned.text, cleaned.title)
        doc = Document(
            id=doc_id_for_url(page.url), url=page.url, site=page.site, title=cleaned.title,
            author=cleaned.author, published=cleaned.published, modified=cleaned.modified,
            language=cleaned.language, category=cleaned.category,
            description=cleaned.description, text=cleaned.text,
            procedures=note.procedures, risks=note.risks, mentions=note.mentions,
            evidence=note.evidence, fetched_at=page.fetched_at,
        )
        with self.store.transaction():
            kind = self.store.save_document(doc)
            self.store.mark_processed(page.url)
        return kind

    def process_pending(self) -> dict[str, int]:
        """Process every page fetched since it was last processed; returns counts per outcome."""
        counts: Counter[str] = Counter()
        for url in self.store.pages_to_process():
            counts[self.process(url, final=True)] += 1
        return dict(counts)

    def _join_following_parts(self, first):
        """The article with all its stored following parts, and whether none was missing."""
        from indexer.clean import clean, join_pages

        parts, seen = [first], {first.url}
        next_url = first.next_page
        while next_url and next_url not in seen and len(parts) < MAX_PARTS:
            seen.add(next_url)
            page = self.store.find_page(next_url)
            if page is None or page.html is None or page.error:
                return (join_pages(parts) if len(parts) > 1 else first), False
            part = clean(page.html, page.final_url or page.url, self.rules.get(page.site))
            parts.append(part)
            next_url = part.next_page
        return (join_pages(parts) if len(parts) > 1 else first), True

    def _first_part(self, prev_url: str) -> str | None:
        from indexer.clean import clean

        url, seen = prev_url, set()
        while url and url not in seen and len(seen) < MAX_PARTS:
            seen.add(url)
            page = self.store.find_page(url)
            if page is None or page.html is None:
                return None
            prev = clean(page.html, page.final_url or page.url).prev_page
            if not prev:
                return page.url
            url = prev
        return None
