"""Query the index: parse, expand with synonyms, filter, rank, fold near-duplicates, snippet.

Free text is OR-grouped over title and text (AND grouping loses most of the recall on real
queries); quotes make phrases; ``title:``, ``procedure:``, ``risk:``, ``site:``, ``lang:``
restrict a word to one field; AND / OR / NOT and parentheses work as in Whoosh.
Filters (procedures, risks, site, language, dates) never change scores, only membership.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from whoosh import index as whoosh_index
from whoosh import qparser
from whoosh.query import And, DateRange, Every, Or, Phrase, Query, Term

from corpus.errors import NothingYetError, QuerySyntaxError
from indexer.analysis import STOP_WORDS, TOKEN_PATTERN, fold, is_cjk
from indexer.build import current_version
from indexer.rank import (
    DEFAULT,
    POSTING_CACHE_BYTES,
    RankParams,
    TermAtATime,
    feedback_shares,
    flat_leaves,
    prune_terms,
    tie_key,
    tie_sorted,
    weighting,
)
from indexer.schema import QUERY_FIELDS, TEXT_FIELDS

if TYPE_CHECKING:  # numpy is imported on first use: `aesthetics search` startup is measured
    import numpy as np

SNIPPET_CHARS = 200      # about two terminal lines
MAX_SUGGEST_CHARS = 30   # longer "words" are pasted junk; Whoosh's corrector is slow on them
OTHER_SCRIPT_EXPANSIONS = 3  # e.g. Chinese forms added to an English query, and vice versa
TIE_MARGIN = 20          # extra hits fetched so ties at the page edge are ordered by doc id
# Below this many documents Whoosh's matchers are fast enough and a one-shot search need not
# import numpy (about 50 ms); above it term-at-a-time array scoring wins by far.
ARRAY_SCORING_MIN_DOCS = 2000
_FIELD_REF = re.compile(r"(?<![\w.])([A-Za-z_]\w*):(?=[^\s:/])")
_QUESTION_MARK = re.compile(r"\?+(?=\s|$)")
_WORD = re.compile(r"[^\W\d_]{3,}")
_NO_DATE = 2**64 - 1    # Whoosh's raw column value for a missing DATETIME
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}


@dataclass
class SearchRequest:
    """One interactive search; filters are AND-combined with the query."""

    query: str
    procedures: list[str] = field(default_factory=list)  # canonical ids, AND-combined
    risks: list[str] = field(default_factory=list)
    site: str | None = None
    since: str | None = None  # ISO date, inclusive
    until: str | None = None  # ISO date, inclusive (whole day)
    lang: str | None = None
    limit: int = 10
    page: int = 1
    sort: str = "relevance"  # or "date" (newest first)
    explain: bool = False
    all_copies: bool = False  # default: one hit per near-duplicate group
    feedback: bool = False    # add pseudo-relevance feedback terms, as batch runs do


@dataclass
class Hit:
    """One result; ``snippet`` is the text as written with query words in [[ ]]."""

    id: str
    url: str
    title: str
    site: str
    published: str | None
    score: float
    procedures: list[str]
    risks: list[str]
    language: str | None
    category: str | None
    snippet: str
    also_at: list[str]
    explanation: str | None = None


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    suggestion: str | None  # "did you mean" query, or None


# ---------------------------------------------------------------------- query checks
def check_syntax(text: str) -> None:
    """Reject unbalanced quotes/parentheses and unknown fields with a pointer to the spot.

    Whoosh's parser is lenient and would silently search for the stray characters instead;
    a user who typed ``title:(nose`` deserves to hear which parenthesis is open.
    """
    depth, opened, quote_at = 0, [], None
    for i, ch in enumerate(text):
        if ch == '"':
            quote_at = None if quote_at is not None else i
        elif quote_at is None and ch == "(":
            depth += 1
            opened.append(i)
        elif quote_at is None and ch == ")":
            if depth == 0:
                raise QuerySyntaxError(_pointed(text, i, "unbalanced ')' with no '(' before it"))
            depth -= 1
            opened.pop()
    if quote_at is not None:
        raise QuerySyntaxError(_pointed(text, quote_at, 'unbalanced \'"\': the phrase is not closed'))
    if opened:
        raise QuerySyntaxError(_pointed(text, opened[-1], "unbalanced '(': missing ')'"))
    outside = _outside_quotes(text)
    for match in _FIELD_REF.finditer(outside):
        name = match.group(1)
        if name not in QUERY_FIELDS:
            known = ", ".join(f"{f}:" for f in QUERY_FIELDS)
            raise QuerySyntaxError(_pointed(text, match.start(1),
                                            f"unknown field {name!r}; known fields: {known}"))


def _outside_quotes(text: str) -> str:
    """``text`` with quoted parts blanked (same length, so positions still line up)."""
    return re.sub(r'"[^"]*"', lambda m: " " * len(m.group()), text)


def _pointed(text: str, at: int, message: str, window: int = 70) -> str:
    """The message, the query and a caret under the problem; a long query is shown as the
    part around the problem, so a 10,000-character query does not flood the terminal."""
    start = max(0, min(at - window // 2, len(text) - window))
    shown = text[start:start + window]
    left = "…" if start > 0 else ""
    right = "…" if start + window < len(text) else ""
    return (f"bad query: {message} (column {at + 1})\n  {left}{shown}{right}\n"
            f"  {' ' * (len(left) + at - start)}^")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def parse_date(value: str, what: str, end_of_day: bool = False) -> datetime:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise QuerySyntaxError(
            f"bad {what} date {value!r}: expected YYYY-MM-DD, e.g. 2024-03-31") from None
    return datetime.combine(day, time.max if end_of_day else time.min)


# ---------------------------------------------------------------------- synonyms
@dataclass
class _SynonymTerm:
    forms: list[str]  # folded surface forms, original order


def load_synonyms(data_dir: Path | None) -> list[_SynonymTerm]:
    """Surface forms of every vocabulary term; empty when the vocabulary is unavailable."""
    try:
        from indexer.vocabulary import load_vocabulary
    except ImportError:
        return []
    try:
        vocabulary = load_vocabulary(data_dir)
    except Exception:  # noqa: BLE001 - a broken user vocabulary must not break search
        return []
    terms = []
    for term in vocabulary.synonym_groups():
        forms = list(dict.fromkeys(fold(f).replace("-", " ").strip()
                                   for f in [*term.synonyms, term.name] if f.strip()))
        if len(forms) > 1:
            terms.append(_SynonymTerm(forms))
    return terms


# ---------------------------------------------------------------------- searcher
class Searcher:
    """Opens the live index once; thread-safe for reading; use as a context manager."""

    def __init__(self, data_dir: Path, params: RankParams = DEFAULT, *, synonyms: bool = True,
                 posting_cache_bytes: int = POSTING_CACHE_BYTES):
        self.data_dir = Path(data_dir)
        version = current_version(self.data_dir)
        if version is None:
            raise NothingYetError("no index yet: run `aesthetics index`")
        self.params = params
        self._ix = whoosh_index.open_dir(str(version))
        self._searcher = self._ix.searcher(weighting=weighting(params))
        self._lock = threading.Lock()
        self._schema = self._searcher.schema
        self._analyzer = self._schema["text"].analyzer
        self._synonyms = load_synonyms(self.data_dir) if synonyms else []
        self._spelling = None  # Whoosh corrector, built on first use
        self._taat = TermAtATime(self._searcher, params, posting_cache_bytes)
        self.array_scoring_min_docs = ARRAY_SCORING_MIN_DOCS
        self._group_codes: np.ndarray | None = None  # near-duplicate group per docnum
        self._columns: dict[str, object] = {}
        self._word_terms: dict[str, str | None] = {}  # snippet cache: surface word -> term
        self._parser = qparser.MultifieldParser(
            list(TEXT_FIELDS), self._ix.schema, group=qparser.OrGroup,
            fieldboosts={"title": params.title_weight, "text": params.text_weight})
        for plugin in (qparser.SingleQuotePlugin, qparser.RangePlugin):
            self._parser.remove_plugin_class(plugin)

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._searcher.close()

    @property
    def doc_count(self) -> int:
        return self._searcher.doc_count()

    # ------------------------------------------------------------------ queries
    def _terms(self, text: str) -> list[str]:
        return [t.text for t in self._analyzer(text)]

    def _field_query(self, terms: list[str], boost: float = 1.0) -> Query | None:
        """Terms (one word, or a phrase if several) searched in title and text."""
        if not terms:
            return None
        weights = {"title": self.params.title_weight, "text": self.params.text_weight}
        parts: list[Query] = []
        for name in TEXT_FIELDS:
            w = weights[name] * boost
            if len(terms) == 1:
                parts.append(Term(name, terms[0], boost=w))
            else:
                parts.append(Phrase(name, terms, boost=w))
        return Or(parts)

    def free_text_query(self, text: str) -> Query:
        """OR of the text's terms over title and text, long queries pruned to the rarest."""
        terms = list(dict.fromkeys(self._terms(text)))
        if self.params.max_query_terms:
            freqs = {t: self._searcher.doc_frequency("text", t) for t in terms}
            terms = prune_terms(terms, freqs, self.params.max_query_terms)
        parts = [self._field_query([t]) for t in terms]
        return Or([p for p in parts if p is not None], scale=self.params.coord or None)

    def feedback(self, text: str, query: Query | None = None) -> list[Query]:
        """Pseudo-relevance feedback (a relevance model): queries for the terms that dominate
        the top documents of ``text``'s free-text ``query`` (built here unless given), to be
        OR-ed with it; none when feedback is off (``prf_docs`` 0) or ``text`` has no terms.

        Used by ``batch`` (research runs, judged to depth 1000) and by interactive search
        only when asked (``SearchRequest.feedback``), as it costs a second query. Each of the
        ``prf_docs`` top documents votes for its terms with (tf / length) x its share
        ``exp(score / T)`` (see :func:`indexer.rank.feedback_shares`); the best ``prf_terms``
        new terms join the query with weights summing to ``weight`` x the number of query
        terms. Short queries (a topic, as in NFCorpus) take a flatter vote and a larger weight
        than sentence-length ones (a claim, as in SciFact), and rank candidate terms by votes x
        idf: a two-word topic needs words specific to its documents, not their general
        vocabulary. Common terms (in 10% of documents or more) are never added. Measured:
        indexer/rank.py.
        """
        p = self.params
        terms = list(dict.fromkeys(self._terms(text)))
        if not (p.prf_docs and terms):
            return []
        query = query if query is not None else self.free_text_query(text)
        short = len(terms) <= p.prf_short_terms
        weight = p.prf_short_weight if short else p.prf_weight
        temperature = p.prf_short_temperature if short else p.prf_temperature
        ranked = [(score, docnum) for score, docnum in self._batch_ranked(query, p.prf_docs)
                  if score > 0]
        if not ranked:
            return []
        ids = self._column("id")  # ties at the cut go by doc id, before any text is read
        top = sorted(ranked, key=lambda sd: tie_key(sd[0], ids[sd[1]]))[:p.prf_docs]
        votes: dict[str, float] = {}
        shares = feedback_shares([s for s, _ in top], temperature)
        for share, (_score, docnum) in zip(shares, top, strict=True):
            fields = self._searcher.stored_fields(docnum)
            tokens = [t.text for t in self._analyzer(
                (fields.get("title") or "") + " " + (fields.get("text") or ""))]
            for token in tokens:
                votes[token] = votes.get(token, 0.0) + share / len(tokens)
        original = set(terms)
        n = self._searcher.doc_count_all()
        candidates = []
        for term, vote in votes.items():
            if term in original or len(term) <= 2 or term.isdigit():
                continue
            df = self._searcher.doc_frequency("text", term)
            if df < max(2, 0.1 * n):
                if short and p.prf_short_idf:
                    vote *= math.log(n / (df + 1))  # <= 0 in a tiny index: such terms go
                if vote > 0:
                    candidates.append((vote, term))
        candidates.sort(key=lambda wt: (-wt[0], wt[1]))
        chosen = candidates[:p.prf_terms]
        if not chosen:
            return []
        norm = sum(w for w, _ in chosen)
        return [self._field_query([t], boost=weight * len(terms) * w / norm)
                for w, t in chosen]

    def expansions(self, text: str) -> list[Query]:
        """Synonym expansions of vocabulary forms found in ``text``, weighted below the original.

        Longest forms win (so "non-surgical nose job" is not also read as "nose job"); each
        matched term adds at most ``max_expansions`` other forms, in the user's script first.
        """
        if not self._synonyms or self.params.max_expansions <= 0:
            return []
        folded = " " + " ".join(fold(text).replace("-", " ").split()) + " "
        candidates = []
        for term in self._synonyms:
            for form in term.forms:
                needle = form if is_cjk(form) else f" {form} "
                at = folded.find(needle)
                if at >= 0:
                    candidates.append((-len(form), at, form, term))
        used: list[tuple[int, int]] = []
        queries: list[Query] = []
        for neg_len, at, form, term in sorted(candidates, key=lambda c: (c[0], c[1])):
            span = (at, at - neg_len)
            if any(s < span[1] and span[0] < e for s, e in used):
                continue
            used.append(span)
            same = [f for f in term.forms if is_cjk(f) == is_cjk(form)]
            other_script = [f for f in term.forms if is_cjk(f) != is_cjk(form)]
            for forms, cap in ((same, self.params.max_expansions),
                               (other_script, min(OTHER_SCRIPT_EXPANSIONS,
                                                  self.params.max_expansions))):
                added = 0
                for other in forms:
                    if added >= cap:
                        break
                    # forms containing the user's form ("open rhinoplasty") add nothing new
                    if other == form or form in other or other in folded:
                        continue
                    q = self._field_query(self._terms(other), boost=self.params.expansion_weight)
                    if q is not None:
                        queries.append(q)
                        added += 1
        return queries

    def build_query(self, text: str) -> Query:
        """The scoring query for ``text`` (user syntax when present, else plain free text)."""
        text = _QUESTION_MARK.sub(" ", text)  # "does it last?" is a question, not a wildcard
        if not text.strip():
            return Every()
        check_syntax(text)
        if self._has_syntax(text):
            try:
                query = self._parser.parse(text)
            except Exception as exc:  # noqa: BLE001 - Whoosh raises assorted parse errors
                raise QuerySyntaxError(f"bad query {_short(text)!r}: {_short(str(exc))}") from exc
        else:
            query = self.free_text_query(text)
        extra = self.expansions(text)
        return Or([query, *extra]) if extra else query

    @staticmethod
    def _has_syntax(text: str) -> bool:
        if any(ch in text for ch in '"()*?^') or _FIELD_REF.search(text):
            return True
        return any(word in _OPERATORS for word in text.split())

    def _filter(self, request: SearchRequest) -> Query | None:
        parts: list[Query] = [Term("procedure", p.lower()) for p in request.procedures]
        parts += [Term("risk", r.lower()) for r in request.risks]
        if request.site:
            parts.append(Term("site", request.site.lower()))
        if request.lang:
            parts.append(Term("lang", request.lang.lower()))
        if request.since or request.until:
            start = parse_date(request.since, "--since") if request.since else None
            end = parse_date(request.until, "--until", end_of_day=True) if request.until else None
            if start and end and start > end:
                raise QuerySyntaxError(f"--since {request.since} is after --until {request.until}")
            parts.append(DateRange("published", start, end))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(parts)

    # ------------------------------------------------------------------ search
    def search(self, request: SearchRequest) -> SearchResult:
        """Run one interactive search: a page of hits, the total and a spelling suggestion."""
        if request.limit < 1 or request.page < 1:
            raise QuerySyntaxError("--limit and --page must be at least 1")
        if request.sort not in ("relevance", "date"):
            raise QuerySyntaxError(f"unknown sort {request.sort!r}: use relevance or date")
        query = self.build_query(request.query)
        filt = self._filter(request)
        need = request.page * request.limit
        if self._searcher.doc_count_all() == 0:  # an index built from an empty corpus
            return SearchResult(hits=[], total=0, suggestion=None)
        with self._lock:
            marks = self._mark_terms(query)  # snippets mark the user's words, not feedback's
            query = self._with_feedback(query, request)
            rows, total = self._ranked(query, filt, request, need)
            rows = rows[(request.page - 1) * request.limit:need]
            hits = [self._hit(score, docnum, marks, query, request.explain)
                    for score, docnum in rows]
            suggestion = self._suggest(request.query)
        return SearchResult(hits=hits, total=total, suggestion=suggestion)

    def _with_feedback(self, query: Query, request: SearchRequest) -> Query:
        """``query`` plus feedback terms when asked for, the order is by relevance and the
        query is plain free text (feedback from a query with operators or fields would not mean
        what the user wrote).
        The feedback documents are the best matches over the whole index, before filters,
        exactly as in :meth:`batch`, so a filtered run ranks like a filtered batch run."""
        text = _QUESTION_MARK.sub(" ", request.query)
        if not request.feedback or request.sort != "relevance" or self._has_syntax(text):
            return query  # in date order, feedback would only add documents, not rank them
        extra = self.feedback(text)
        return Or([query, *extra]) if extra else query

    def _ranked(self, query: Query, filt: Query | None, request: SearchRequest,
                need: int) -> tuple[list[tuple[float, int]], int]:
        """(score, docnum) in final order, near-duplicates folded, at least ``need`` long when
        that many exist; plus the total number of (folded) matches.

        Relevance-ranked OR queries (every free-text query) are scored term-at-a-time with
        numpy (:class:`indexer.rank.TermAtATime`): same scores, 10-100x faster than Whoosh's
        document-at-a-time union, and the exact total comes free. Other queries (AND/NOT,
        wildcards, date order) go through Whoosh.
        """
        leaves = self._array_leaves(query) if request.sort == "relevance" else None
        if leaves is None:
            return self._ranked_whoosh(query, filt, request, need)
        import numpy as np

        scores, matched = self._taat.scores(leaves)
        if filt is not None:
            allowed = np.zeros(self._taat.size, dtype=bool)
            allowed[np.fromiter(self._searcher.docs_for_query(filt), dtype=np.int64)] = True
            matched &= allowed
        candidates = np.flatnonzero(matched)
        ids = self._column("id")
        codes = None if request.all_copies else self._groups()
        fetch = need + TIE_MARGIN
        while True:
            top = _top_docnums(scores, candidates, fetch)
            scored = sorted(((max(0.0, float(scores[d])), int(d)) for d in top),
                            key=lambda sd: tie_key(sd[0], ids[sd[1]]))
            if codes is not None:
                scored = _fold(scored, lambda d: int(codes[d]))
            exhausted = top.size == candidates.size
            if len(scored) >= need + min(TIE_MARGIN, need) or exhausted:
                break
            fetch *= 4
        total = candidates.size if codes is None else np.unique(codes[candidates]).size
        return scored, max(int(total), len(scored))

    def _array_leaves(self, query: Query):
        """The query's leaves when array scoring applies (flat OR, index big enough), else None."""
        if self._taat.size < self.array_scoring_min_docs:
            return None
        return flat_leaves(query)

    def _column(self, name: str):
        """A column reader, opened once per Searcher: opening the id column reads its whole
        offset table (5 ms at 30k documents, growing with the index)."""
        if name not in self._columns:
            self._columns[name] = self._searcher.reader().column_reader(name)
        return self._columns[name]

    def _groups(self) -> np.ndarray:
        """Near-duplicate group number of every docnum (a document alone is its own group);
        read once per Searcher, so folding and totals are array operations."""
        if self._group_codes is None:
            import numpy as np

            ids, groups = self._column("id"), self._column("group")
            numbers: dict[str, int] = {}
            self._group_codes = np.fromiter(
                (numbers.setdefault(groups[d] or ids[d], len(numbers))
                 for d in range(self._taat.size)), dtype=np.int64, count=self._taat.size)
        return self._group_codes

    def _ranked_whoosh(self, query: Query, filt: Query | None, request: SearchRequest,
                       need: int) -> tuple[list[tuple[float, int]], int]:
        """:meth:`_ranked` through Whoosh's matchers, for queries that are not a flat OR.

        Folding is done here rather than with Whoosh's collapse facet, which a filter bypasses;
        the representative of a group is its best-ranked copy, ties to the smallest id.
        """
        reader = self._searcher.reader()
        ids, groups = self._column("id"), self._column("group")
        fetch: int | None = None if request.sort == "date" else need + TIE_MARGIN
        while True:
            results = self._searcher.search(query, limit=fetch, filter=filt)
            scored = [(max(0.0, hit.score or 0.0), hit.docnum) for hit in results]
            if request.sort == "date":
                published = reader.column_reader("published", translate=False)
                scored.sort(key=lambda sd: (-_date_key(published[sd[1]]), ids[sd[1]]))
            else:
                scored.sort(key=lambda sd: tie_key(sd[0], ids[sd[1]]))
            if not request.all_copies:
                scored = _fold(scored, lambda d: groups[d] or ids[d])
            exhausted = fetch is None or results.scored_length() < fetch
            if len(scored) >= need + min(TIE_MARGIN, need) or exhausted:
                break
            fetch *= 4
        if exhausted:
            total = len(scored)  # every match was scored (and folded) above
        else:
            matched = set(self._searcher.docs_for_query(query))
            if filt is not None:
                matched &= set(self._searcher.docs_for_query(filt))
            total = (len(matched) if request.all_copies
                     else len({groups[d] or ids[d] for d in matched}))
        return scored, max(total, len(scored))

    def batch(self, queries: list[tuple[str, str]],
              limit: int = 1000) -> Iterator[tuple[str, list[Hit]]]:
        """(qid, text) -> ranked hits for TREC runs: free text, every copy, no snippets."""
        for qid, text in queries:
            base = self.free_text_query(text)
            with self._lock:
                # feedback reads the top documents of the user's own words only, so a
                # synonym's documents cannot vote for themselves
                parts = [base, *self.feedback(text, base)]
                parts += self.expansions(text)
                query = Or(parts) if len(parts) > 1 else base
                scored = self._batch_ranked(query, limit + TIE_MARGIN)
                ids = {docnum: self._searcher.stored_fields(docnum) for _, docnum in scored}
            order = tie_sorted((s, ids[d]["id"]) for s, d in scored)[:limit]
            by_id = {ids[d]["id"]: ids[d] for _, d in scored}
            yield qid, [self._light_hit(score, by_id[doc_id]) for score, doc_id in order]

    def _batch_ranked(self, query: Query, limit: int) -> list[tuple[float, int]]:
        """At least the ``limit`` best (score, docnum), plus every document tied with the last,
        so the caller's doc-id tie order is exact; term-at-a-time when the query allows."""
        leaves = self._array_leaves(query)
        if leaves is None:
            results = self._searcher.search(query, limit=limit)
            return [(max(0.0, h.score or 0.0), h.docnum) for h in results]
        import numpy as np

        scores, matched = self._taat.scores(leaves)
        top = _top_docnums(scores, np.flatnonzero(matched), limit)
        return [(max(0.0, float(scores[d])), int(d)) for d in top]

    # ------------------------------------------------------------------ hits
    @staticmethod
    def _light_hit(score: float, stored: dict) -> Hit:
        published = stored.get("published")
        return Hit(
            id=stored["id"], url=stored.get("url", ""), title=stored.get("title", ""),
            site=stored.get("site", ""),
            published=published.date().isoformat() if published else None,
            score=score, procedures=_split(stored.get("procedure")),
            risks=_split(stored.get("risk")), language=stored.get("lang"),
            category=stored.get("category"), snippet="", also_at=[])

    def _hit(self, score: float, docnum: int, marks: set[str], query: Query,
             explain: bool) -> Hit:
        stored = self._searcher.stored_fields(docnum)
        hit = self._light_hit(score, stored)
        hit.snippet = self.snippet(stored.get("text", "") or stored.get("title", ""), marks)
        group = stored.get("group")
        if group and self._searcher.doc_frequency("group", group) > 1:
            hit.also_at = sorted(d["url"] for d in self._searcher.documents(group=group)
                                 if d["id"] != hit.id)
        if explain:
            hit.explanation = self._explain(query, docnum, score)
        return hit

    def _mark_terms(self, query: Query) -> set[str]:
        return {text if isinstance(text, str) else text.decode("utf-8")
                for fieldname, text in query.iter_all_terms() if fieldname in TEXT_FIELDS}

    def snippet(self, text: str, marks: set[str], width: int = SNIPPET_CHARS) -> str:
        """About two lines of ``text`` as written, the densest window of matches in [[ ]]."""
        spans = _merge_spans(self._matching_spans(text, marks))
        flat = text
        if not spans:
            return _clip(flat, 0, width)
        best_start, best_score = spans[0][0], -1
        for i, (start, _end) in enumerate(spans):
            inside = [text[s:e].lower() for s, e in spans[i:] if e <= start + width]
            score = len(set(inside)) * 100 + len(inside)
            if score > best_score:
                best_start, best_score = start, score
        begin = max(0, best_start - width // 4)
        sentence = max(text.rfind(". ", 0, best_start), text.rfind("\n", 0, best_start))
        if sentence >= begin - width // 2 and sentence >= 0:
            begin = sentence + 2 if text[sentence] == "." else sentence + 1
        end = min(len(text), begin + width)
        out, pos = [], begin
        for s, e in spans:
            if s < begin or e > end:
                continue
            out.append(text[pos:s])
            out.append(f"[[{text[s:e]}]]")
            pos = e
        out.append(text[pos:end])
        body = " ".join("".join(out).split())
        return ("… " if begin > 0 else "") + body + (" …" if end < len(text) else "")

    def _matching_spans(self, text: str, marks: set[str]) -> Iterator[tuple[int, int]]:
        """Character spans of ``text`` whose analyzed term is in ``marks``.

        Same tokens as running the analyzer over the whole text, but a word's term is looked
        up in a per-Searcher cache: stemming every word of ten abstracts was the largest
        cost of a search once ranking got fast. CJK runs (bigrams) are analyzed as they come.
        """
        cache = self._word_terms
        if len(cache) > 100_000:
            cache.clear()
        for match in TOKEN_PATTERN.finditer(text):
            if match.lastgroup == "word":
                word = match.group()
                if word not in cache:
                    cache[word] = next((t.text for t in self._analyzer(word)), None)
                if cache[word] in marks:
                    yield match.start(), match.end()
            else:
                for t in self._analyzer(match.group(), chars=True, start_char=match.start()):
                    if t.text in marks:
                        yield t.startchar, t.endchar

    def _explain(self, query: Query, docnum: int, score: float) -> str:
        """Per-term contributions (field:term=score), largest first."""
        parts = []
        context = self._searcher.context()
        for leaf in query.leaves():
            if not isinstance(leaf, Term | Phrase):
                continue
            matcher = leaf.matcher(self._searcher, context)
            if not matcher.is_active():
                continue
            matcher.skip_to(docnum)
            if matcher.is_active() and matcher.id() == docnum:
                words = leaf.text if isinstance(leaf, Term) else " ".join(leaf.words)
                parts.append((matcher.score(), f"{leaf.fieldname}:{words}"))
        parts.sort(key=lambda p: (-p[0], p[1]))
        detail = ", ".join(f"{name}={value:.3f}" for value, name in parts)
        p = self.params
        return (f"BM25F(k1={p.k1}, b={p.b}, title_b={p.title_b}, title_weight={p.title_weight}) "
                f"score={score:.3f}: {detail or 'no term matches (filter-only query)'}")

    def _corrector(self):
        if self._spelling is None:
            self._spelling = self._searcher.corrector("text")
        return self._spelling

    def _suggest(self, text: str) -> str | None:
        """Replace words absent from the index by the closest indexed word, if any."""
        reader = self._searcher.reader()
        spell_field = self._schema["text"].spelling_fieldname("text")
        changed = False
        out = _outside_quotes(text)
        pieces: list[str] = []
        pos = 0
        for match in _WORD.finditer(out):
            word = match.group()
            low = word.lower()
            if (low in STOP_WORDS or word in _OPERATORS or len(word) > MAX_SUGGEST_CHARS
                    or (spell_field, low) in reader):
                continue
            if out[match.end():match.end() + 1] == ":":
                continue
            stems = self._terms(word)
            if stems and all(("text", t) in reader or ("title", t) in reader for t in stems):
                continue  # another form of the word is indexed ("vertebrates" -> vertebr)
            # prefix=1: typos in the first letter are rare, and the automaton gets much smaller
            options = self._corrector().suggest(low, limit=1, maxdist=2, prefix=1)
            if options and options[0] != low:
                pieces.append(text[pos:match.start()])
                pieces.append(options[0])
                pos = match.end()
                changed = True
        if not changed:
            return None
        pieces.append(text[pos:])
        return "".join(pieces)


def _fold(scored: list[tuple[float, int]], group_of: Callable[[int], object]
          ) -> list[tuple[float, int]]:
    """The first (best placed) hit of each near-duplicate group, order kept."""
    seen: set[object] = set()
    folded = []
    for score, docnum in scored:
        group = group_of(docnum)
        if group not in seen:
            seen.add(group)
            folded.append((score, docnum))
    return folded


def _top_docnums(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best-scoring ``candidates`` and any tied with the k-th (within 1e-6, so the
    exact tie order by doc id is left to the caller)."""
    import numpy as np

    if k >= candidates.size:
        return candidates
    cand_scores = scores[candidates]
    kth = np.partition(cand_scores, cand_scores.size - k)[cand_scores.size - k]
    return candidates[cand_scores >= kth - 1e-6]


def _date_key(raw: int) -> int:
    """Sort key of a raw DATETIME column value; documents without a date sort last."""
    return -1 if raw >= _NO_DATE else raw


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def _clip(text: str, begin: int, width: int) -> str:
    body = " ".join(text[begin:begin + width].split())
    return body + (" …" if len(text) > begin + width else "")


def _merge_spans(spans) -> list[tuple[int, int]]:
    """Overlapping matches become one: Chinese character bigrams overlap (皮肤, 肤坏, 坏死),
    and marking each would print the shared characters twice."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
