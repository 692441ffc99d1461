"""Records that cross module boundaries: what the crawler hands the store, what the
indexer reads back. Plain dataclasses so no caller needs to know there is SQL behind them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone


def utcnow() -> str:
    """Timestamps are ISO-8601 UTC strings with seconds: sortable as text, readable in exports."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def text_hash(text: str) -> str:
    """Content hash of text (sha1 hex) — used for change detection, not security."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def doc_id_for_url(url: str) -> str:
    """Stable short document id for a crawled URL (BEIR imports keep their own ``_id``)."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


@dataclass
class Page:
    """One fetched URL, keyed by its canonical URL. ``html`` is the decoded page text
    (the crawler decodes with the right charset); the store compresses it."""

    url: str
    site: str
    status: int
    final_url: str | None = None
    fetched_at: str | None = None  # last time a body was downloaded
    checked_at: str | None = None  # last visit, including 304 answers
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    charset: str | None = None
    content_hash: str | None = None  # hash of html
    html: str | None = None
    error: str | None = None
    depth: int = 0
    gone_count: int = 0  # consecutive 404/410 answers
    processed_at: str | None = None  # when the cleaner last turned it into a document (or not)


@dataclass
class Evidence:
    """Where a risk is tied to a procedure: the sentence, or the list item of a run-on list,
    that shows it (the field keeps its name; stored corpora already use it)."""

    procedure: str
    risk: str
    sentence: str


@dataclass
class Document:
    """The cleaned, annotated article. ``id`` is stable: a hash of the canonical URL for
    crawled pages, the collection's own id for imported test collections."""

    id: str
    url: str
    text: str
    site: str = ""
    title: str = ""
    author: str | None = None
    published: str | None = None  # ISO date YYYY-MM-DD
    modified: str | None = None
    language: str | None = None
    category: str | None = None
    description: str | None = None
    procedures: list[str] = field(default_factory=list)  # canonical ids, most mentioned first
    risks: list[str] = field(default_factory=list)
    mentions: dict[str, int] = field(default_factory=dict)  # canonical id -> mention count
    evidence: list[Evidence] = field(default_factory=list)
    content_hash: str = ""  # hash of the cleaned text: a sidebar change is not a change
    fetched_at: str | None = None
    updated_at: str | None = None  # last time text or metadata changed in the corpus
    indexed_at: str | None = None
    deleted: bool = False  # tombstone: kept, flagged, never silently dropped
    deleted_at: str | None = None
    dup_group: str | None = None  # near-duplicate group id (the group's first document id)

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = text_hash(self.text)


@dataclass
class HistoryEntry:
    """A previous version of a document's text, kept whenever the text changes."""

    doc_id: str
    content_hash: str
    changed_at: str
    title: str
    text: str


@dataclass
class Run:
    """One crawl / refresh / index run, with its counts and outcome."""

    kind: str
    started: str
    finished: str | None = None
    outcome: str = "running"  # running | ok | failed | interrupted
    counts: dict[str, int] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    id: int | None = None
