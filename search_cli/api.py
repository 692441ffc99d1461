"""A small Python API over the search index, for notebooks and scripts.

Researchers want hits as records they can put straight into pandas, not CLI text to
parse back. This module turns friendly keyword filters ("procedure='rhinoplasty'",
"since='2024-03'") into the index engine's ``SearchRequest`` and hands back its ``Hit``
dataclasses unchanged. The CLI builds its requests here too, so both validate filters
and dates the same way.

The index engine (``indexer.search``, Whoosh) is imported only when a search runs, which
keeps ``aesthetics search --help`` and ``aesthetics show`` fast.

Example::

    import pandas as pd
    from search_cli.api import open_index

    with open_index("~/aesthetics-data") as index:
        hits = index.search("filler necrosis", procedure="hyaluronic-acid-filler", since="2023")
    pd.DataFrame(hits)
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.errors import BadInputError
from corpus.models import Document
from corpus.paths import resolve_data_dir

if TYPE_CHECKING:
    from indexer.search import Hit, SearchRequest, SearchResult

SORTS = ("relevance", "date")
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}")  # ISO 639 codes, as the cleaner stores them
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")

# Singular spellings people type in notebooks -> SearchRequest's list fields.
_LIST_ALIASES = {"procedure": "procedures", "procedures": "procedures",
                 "risk": "risks", "risks": "risks"}
_SCALAR_FILTERS = ("site", "since", "until", "lang", "limit", "page", "sort", "explain",
                   "all_copies", "feedback")


def parse_date_bound(value: str, *, end: bool, option: str = "date") -> str:
    """Turn YYYY, YYYY-MM or YYYY-MM-DD into an inclusive ISO day.

    A partial date names a whole period, so as a lower bound it means the period's first
    day and as an upper bound its last: ``--until 2024-02`` keeps 29 February 2024.
    """
    text = (value or "").strip()
    match = _DATE_RE.match(text)
    if not match:
        raise BadInputError(
            f"{option}: {value!r} is not a date; use YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = int(match[1]), match[2], match[3]
    try:
        if month is None:
            result = date(year, 12, 31) if end else date(year, 1, 1)
        elif day is None:
            m = int(month)
            last = calendar.monthrange(year, m)[1] if 1 <= m <= 12 else 0
            result = date(year, m, last if end else 1)
        else:
            result = date(year, int(month), int(day))
    except ValueError as exc:
        raise BadInputError(f"{option}: {value!r} is not a valid date ({exc})") from None
    return result.isoformat()


def _as_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        items = list(value)
        if all(isinstance(v, str) for v in items):
            return items
    raise BadInputError(f"{name}: expected a string or a list of strings, got {value!r}")


def build_request(query: str, **filters: Any) -> SearchRequest:
    """Validate ``filters`` and build the engine's request.

    Accepts ``procedure``/``procedures`` and ``risk``/``risks`` (a string or a list),
    ``site``, ``since``, ``until`` (YYYY[-MM[-DD]], inclusive), ``lang`` (a language code:
    en, zh, fr, ...), ``limit``, ``page``, ``sort`` (relevance|date), ``explain``,
    ``all_copies``, ``feedback``. Anything else is a BadInputError naming the filter, rather
    than a filter silently ignored.
    """
    from indexer.search import SearchRequest

    if not isinstance(query, str):
        raise BadInputError(f"query must be a string, got {type(query).__name__}")
    fields: dict[str, Any] = {"procedures": [], "risks": []}
    for key, value in filters.items():
        if key in _LIST_ALIASES:
            fields[_LIST_ALIASES[key]] += _as_list(value, f"--{key}")
        elif key in _SCALAR_FILTERS:
            if value is not None:
                fields[key] = value
        else:
            known = sorted({*_LIST_ALIASES, *_SCALAR_FILTERS})
            raise BadInputError(f"unknown search filter {key!r}; known: {', '.join(known)}")
    if "since" in fields:
        fields["since"] = parse_date_bound(str(fields["since"]), end=False, option="--since")
    if "until" in fields:
        fields["until"] = parse_date_bound(str(fields["until"]), end=True, option="--until")
    if fields.get("since") and fields.get("until") and fields["since"] > fields["until"]:
        raise BadInputError(
            f"--since {fields['since']} is after --until {fields['until']}: no date can match")
    if fields.get("lang") is not None:
        fields["lang"] = str(fields["lang"]).strip().lower()
    if fields.get("lang") is not None and not _LANGUAGE_RE.fullmatch(fields["lang"]):
        raise BadInputError(f"--lang: {fields['lang']!r} is not a language code such as en, zh "
                            "or fr")
    if fields.get("sort") is not None and fields["sort"] not in SORTS:
        raise BadInputError(f"--sort: {fields['sort']!r} is not one of {', '.join(SORTS)}")
    for key in ("limit", "page"):
        if key in fields and (not isinstance(fields[key], int) or isinstance(fields[key], bool)
                              or fields[key] < 1):
            raise BadInputError(f"--{key}: must be a whole number of at least 1, "
                                f"got {fields[key]!r}")
    return SearchRequest(query=query, **fields)


def needs_one_by_one(request: SearchRequest) -> bool:
    """True when a request asks for more than batch mode offers (filters, date sort,
    all copies, explanations): batch mode then runs the queries one request at a time."""
    from indexer.search import SearchRequest

    return request != SearchRequest(query=request.query, limit=request.limit,
                                    feedback=request.feedback)


class Index:
    """An open search index plus the corpus behind it; use as a context manager.

    One object answers many queries without reopening Whoosh each time, which matters in a
    notebook loop. ``search`` returns ``indexer.search.Hit`` dataclasses (``pd.DataFrame``
    accepts a list of them as is); ``result`` also gives the total and "did you mean".
    """

    def __init__(self, data_dir: str | os.PathLike[str] | None = None):
        from indexer.search import Searcher

        self.data_dir: Path = resolve_data_dir(data_dir)
        self._searcher = Searcher(self.data_dir)

    def result(self, query: str, **filters: Any) -> SearchResult:
        """The full result: ``hits``, ``total`` matching documents and ``suggestion``."""
        return self._searcher.search(build_request(query, **filters))

    def execute(self, request: SearchRequest) -> SearchResult:
        """Run a request built by ``build_request`` (the CLI's path)."""
        return self._searcher.search(request)

    def search(self, query: str, **filters: Any) -> list[Hit]:
        """Hits for ``query`` narrowed by ``filters`` (see ``build_request``)."""
        return self.result(query, **filters).hits

    def batch(self, queries: Iterable[tuple[str, str]] | dict[str, str], *,
              limit: int = 1000) -> Iterator[tuple[str, list[Hit]]]:
        """(query id, hits) for many queries, in the order given — for evaluation runs."""
        pairs = list(queries.items()) if isinstance(queries, dict) else list(queries)
        return self._searcher.batch(pairs, limit=limit)

    def document(self, id_or_url: str) -> Document:
        """The full stored document behind a hit (text, annotations, evidence)."""
        from corpus.store import Store

        with Store.open(self.data_dir, create=False) as store:
            doc = store.get_document(id_or_url)
        if doc is None:
            raise BadInputError(f"no document with id or URL {id_or_url!r} in {self.data_dir}")
        return doc

    def close(self) -> None:
        self._searcher.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_index(data_dir: str | os.PathLike[str] | None = None) -> Index:
    """Open the index in ``data_dir`` (default: $AESTHETICS_DATA_DIR, else the XDG dir).

    Raises NothingYetError when no index exists yet (build it with `aesthetics index`).
    """
    return Index(data_dir)


def search(query: str, data_dir: str | os.PathLike[str] | None = None,
           **filters: Any) -> list[Hit]:
    """One-shot search: open, query, close. For loops, ``open_index`` once instead."""
    with open_index(data_dir) as index:
        return index.search(query, **filters)
