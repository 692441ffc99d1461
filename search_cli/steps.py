"""The steps that follow every fetch — page → document, then the index — wired once for
crawl, worker, refresh and demo, so the four cannot drift apart.

The crawler never imports the indexer (data flows one way); this module is where the CLI
hands the indexer's document step to the crawler as a callback.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from corpus.errors import BusyError, NothingYetError
from corpus.store import Store
from search_cli.output import info, progress


def site_rules(sources: Iterable) -> dict:
    """Per-site CSS pins from a sources file, as the cleaner's SiteRules."""
    from indexer.clean import SiteRules

    rules = {}
    for source in sources:
        pins = getattr(source, "rules", None) or {}
        if pins:
            rules[source.name] = SiteRules(body=pins.get("body"), title=pins.get("title"),
                                           date=pins.get("date"))
    return rules


class DocumentStep:
    """Cleans and annotates each stored page into a document.

    The corpus is opened on the first page, not before: a worker waiting for a crawl, or
    pointed at the wrong data dir, must not create an empty corpus.
    """

    def __init__(self, data_dir: Path, sources: Iterable = (), store: Store | None = None):
        self.data_dir = data_dir
        self.rules = site_rules(sources)
        self.store = store
        self._own_store = store is None
        self._processor = None

    def _ready(self):
        if self._processor is None:
            from indexer.process import PageProcessor

            if self.store is None:
                self.store = Store.open(self.data_dir, create=False)
            self._processor = PageProcessor(self.store, self.data_dir, self.rules)
        return self._processor

    def process(self, url: str) -> str:
        return self._ready().process(url)

    def finish(self) -> dict[str, int]:
        """Clean what was stored but not cleaned (a killed run, a part that never came)."""
        if self._processor is None and self.store is None:  # only when we open it
            try:
                self.store = Store.open(self.data_dir, create=False)
            except NothingYetError:  # nothing was ever stored: nothing to finish
                return {}
        pending = self._ready().process_pending()
        if self._own_store and self.store is not None:
            self.store.close()
            self.store = None
            self._processor = None
        return pending


def index_step(store: Store, data_dir: Path, *, quiet: bool) -> dict:
    """Index what changed. When nothing did, Whoosh is not even loaded; when another index
    writer holds the lock, the run still succeeds: its documents stay marked for indexing
    and the next `aesthetics index`, crawl or refresh catches up."""
    if next(store.documents_to_index(), None) is None:
        return {"added": 0, "updated": 0, "deleted": 0, "total": store.count_documents(),
                "rebuilt": False}
    from indexer.build import update_index

    try:
        done = update_index(data_dir, progress=lambda line: progress(line, quiet=quiet))
    except BusyError as exc:
        info(f"warning: index not updated: {exc}; run `aesthetics index` later")
        return {"error": str(exc)}
    return {"added": done.added, "updated": done.updated, "deleted": done.deleted,
            "total": done.total, "rebuilt": done.rebuilt}
