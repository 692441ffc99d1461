"""Ranking parameters and the pure scoring helpers behind them.

Every number here was chosen by measurement on the dev/train splits of NFCorpus, SciFact and
MED (``python bench/ir.py``; results in bench/RESULTS.md), never on the held-out test splits.
What moved nDCG@10 (plain Whoosh BM25F = k1 1.2, b 0.75, title weight 1, Whoosh idf):
- title_weight 0.5: SciFact +0.02 (its titles repeat the abstract's key words; a full-weight
  title match double counts them). NFCorpus and MED have no titles.
- pseudo-relevance feedback on every batch query, the documents voting by exp(score / T):
  NFCorpus +0.021 (R@100 +0.08), SciFact +0.002, MED +0.05 over no feedback. The earlier
  rule (votes proportional to the raw score) helped NFCorpus and MED too but cost SciFact
  0.02-0.03 on long queries, so it ran on <= 4-term queries only; with exp(score / T) a
  claim's one clear answer outvotes its near-misses (T 1: SciFact +0.002 instead of -0.03).
  Gates on query length, top-score gap or term support, tried first, never saved SciFact.
  Short queries (<= 4 terms) take a flatter vote (T 3), 20 documents, weight 1.6 per query
  term, and rank candidates by votes x idf: on NFCorpus dev/train (324 / 2,590 queries,
  tuned on both together) +0.004 / +0.004 over T 3, 10 documents, weight 1.0 and plain
  votes; a two-word topic needs words specific to its documents. Long queries: T 1, weight
  0.6 (idf ranking cost MED 0.015). Sweeps ran on a throwaway numpy re-implementation of
  this scoring (within 0.001 of it); every adopted setting was re-measured with bench/ir.py.
- Lucene's idf instead of Whoosh's: within +-0.01, kept for rare-term emphasis.
- k1/b (0.7-2.0 / 0.4-0.9): within +-0.01 on NFCorpus; MED liked k1 2.0 (+0.02), SciFact
  k1 0.9/b 0.4 (+0.005): no setting helped all three, so the defaults stay.
- synonym expansion: no change on these collections (+-0.0005): their queries rarely contain
  aesthetics vocabulary.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from whoosh import scoring

from indexer.schema import TEXT_FIELDS

if TYPE_CHECKING:  # numpy is imported on first use: `aesthetics search` startup is measured
    import numpy as np


@dataclass(frozen=True)
class RankParams:
    """Tunables of BM25F and query construction (defaults = the measured best)."""

    k1: float = 1.2          # term-frequency saturation
    b: float = 0.75          # length normalisation of the text field
    title_b: float = 0.75    # length normalisation of the title field
    title_weight: float = 0.5  # a title match counts this much relative to a text match
    text_weight: float = 1.0
    expansion_weight: float = 0.5  # synonym expansions count less than the user's own words
    max_expansions: int = 6        # synonym surface forms added per matched vocabulary term
    max_query_terms: int = 0       # 0 = keep all; else keep the rarest N terms of long queries
    coord: float = 0.0             # coordination bonus scale (0 = off; disables block-max)
    prf_docs: int = 20             # pseudo-relevance feedback: top documents read (0 = off)
    prf_terms: int = 20            # feedback terms added
    prf_weight: float = 0.6        # feedback terms' weight per query term (long queries)
    prf_temperature: float = 1.0   # feedback document weights: exp(score / T) (long queries)
    prf_short_terms: int = 4       # queries of at most this many terms are "short"
    prf_short_weight: float = 1.6  # ... and use these three instead
    prf_short_temperature: float = 3.0
    prf_short_idf: bool = True     # rank a short query's feedback terms by votes x idf
    idf: str = "lucene"            # "lucene": log(1 + (N-df+.5)/(df+.5)); "whoosh": log(N/(df+1))+1

    def with_(self, **changes) -> RankParams:
        return replace(self, **changes)


DEFAULT = RankParams()


class TunedBM25F(scoring.BM25F):
    """Whoosh's BM25F with a choice of idf (Whoosh's own flattens rare vs. common terms)."""

    def __init__(self, params: RankParams):
        super().__init__(B=params.b, K1=params.k1, title_B=params.title_b)
        self.idf_mode = params.idf

    def idf(self, searcher, fieldname, text) -> float:
        if self.idf_mode == "whoosh":
            return super().idf(searcher, fieldname, text)
        parent = searcher.get_parent()
        return lucene_idf(parent.doc_frequency(fieldname, text), parent.doc_count_all())


def weighting(params: RankParams = DEFAULT) -> scoring.BM25F:
    """BM25F with our k1/b, a separate b for the (short) title field, and our idf."""
    return TunedBM25F(params)


def lucene_idf(doc_freq: int, doc_count: int) -> float:
    """BM25 idf as Lucene/Anserini compute it: ``log(1 + (N - df + 0.5) / (df + 0.5))`` (> 0)."""
    return math.log(1 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5))


def bm25_term(idf: float, tf: float, field_len: float, avg_len: float, k1: float, b: float) -> float:
    """One term's BM25 contribution: ``idf * tf (k1+1) / (tf + k1 (1 - b + b len/avg))``.

    The same formula Whoosh applies per field; kept here so tests can check our parameter
    choices behave as intended (saturation with k1, length penalty with b) without an index.
    """
    if tf <= 0:
        return 0.0
    norm = k1 * ((1 - b) + b * field_len / avg_len) if avg_len > 0 else k1
    return idf * tf * (k1 + 1) / (tf + norm)


def idf(doc_freq: int, doc_count: int) -> float:
    """BM25 idf as Whoosh computes it (``log(N/(df+1)) + 1``): always positive."""
    return math.log(doc_count / (doc_freq + 1)) + 1


def prune_terms(terms: list[str], doc_freqs: dict[str, int], keep: int) -> list[str]:
    """Keep the ``keep`` rarest terms of a long query (ties by first occurrence).

    Sentence-length queries spend most of their time in the postings of common words, which
    barely move the ranking; dropping them bounds latency.
    """
    if keep <= 0 or len(terms) <= keep:
        return terms
    order = {t: i for i, t in reversed(list(enumerate(terms)))}
    ranked = sorted(set(terms), key=lambda t: (doc_freqs.get(t, 0), order[t]))[:keep]
    chosen = set(ranked)
    return [t for t in dict.fromkeys(terms) if t in chosen]


def feedback_shares(scores: list[float], temperature: float) -> list[float]:
    """How much each feedback document votes: ``exp(score / T)``, normalised to sum to 1.

    This is the relevance model's own document weight (a document's query likelihood is
    the exponential of its log score), here over BM25 scores. A claim with one clear best
    match (SciFact) then takes its feedback almost only from that document, while a topic
    with many similar matches (MED, NFCorpus) spreads it over all of them. Votes
    proportional to the raw score (the earlier rule) let the 9 near-misses of a claim
    outvote its one answer, which is why feedback used to hurt long queries.
    """
    if not scores:
        return []
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def tie_key(score: float, doc_id: str) -> tuple[float, str]:
    """Sort key for score descending, ties by doc id: runs must be deterministic.

    Scores are rounded to 1e-9 first so float noise from summation order cannot reorder ties.
    """
    return -round(score, 9), doc_id


def tie_sorted(scored: Iterable[tuple[float, str]]) -> list[tuple[float, str]]:
    """Order (score, doc id) pairs by :func:`tie_key`."""
    return sorted(scored, key=lambda sd: tie_key(*sd))


# ---------------------------------------------------------------------- term-at-a-time scoring
@dataclass(frozen=True)
class WeightedLeaf:
    """One leaf of a flat OR query with the product of its ancestors' boosts."""

    query: object  # whoosh.query.Term or Phrase
    boost: float


def flat_leaves(query, boost: float = 1.0) -> list[WeightedLeaf] | None:
    """The leaves of an OR-only tree of Term/Phrase queries on title/text, else None.

    Only such queries score as a plain sum of per-leaf BM25F contributions, which
    :class:`TermAtATime` reproduces; anything else (AND, NOT, wildcards, coordination) is
    left to Whoosh's matchers.
    """
    from whoosh.query import Or, Phrase, Term

    if isinstance(query, Or):
        if query.scale:
            return None
        out: list[WeightedLeaf] = []
        for sub in query.subqueries:
            leaves = flat_leaves(sub, boost * query.boost)
            if leaves is None:
                return None
            out += leaves
        return out
    if isinstance(query, Term | Phrase) and query.fieldname in TEXT_FIELDS:
        return [WeightedLeaf(query, boost)]
    return None


POSTING_CACHE_BYTES = 64 * 2**20  # decoded posting lists kept per Searcher


class TermAtATime:
    """Scores a flat OR query over every document at once, with numpy arrays.

    Whoosh walks a union of posting lists one document at a time in pure Python: a
    sentence-length claim (20 terms x 2 fields) took 0.5 s at 10k documents and 6.8 s at 100k.
    Reading each posting list in whole blocks and adding its BM25F contribution into a
    score array costs a few numpy operations per block instead, gives the exact number of
    matches for free, and the scores are Whoosh's own formula (same idf, average length,
    lossy length byte and boosts), so the ranking is unchanged up to float summation order.
    """

    def __init__(self, searcher, params: RankParams, cache_bytes: int = POSTING_CACHE_BYTES):
        self._searcher = searcher
        self._params = params
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached = 0
        self._n = searcher.doc_count_all()
        self._lengths: dict[str, np.ndarray] = {}
        self._alive: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self._n

    def _field_lengths(self, fieldname: str) -> np.ndarray:
        """Per-document field lengths as Whoosh's scorer sees them (decoded length byte)."""
        import numpy as np

        if fieldname not in self._lengths:
            out = np.zeros(self._n, dtype=np.float64)
            for sub, offset in self._searcher.leaf_searchers():
                reader = sub.reader()
                count = reader.doc_count_all()
                out[offset:offset + count] = [reader.doc_field_length(d, fieldname, 0) or 0
                                              for d in range(count)]
            self._lengths[fieldname] = out
        return self._lengths[fieldname]

    def alive(self) -> np.ndarray:
        """True for documents not deleted."""
        import numpy as np

        if self._alive is None:
            alive = np.ones(self._n, dtype=bool)
            for sub, offset in self._searcher.leaf_searchers():
                reader = sub.reader()
                if reader.has_deletions():
                    count = reader.doc_count_all()
                    local = np.zeros(count, dtype=bool)
                    local[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
                    alive[offset:offset + count] = local
            self._alive = alive
        return self._alive

    def _postings(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(global docnums, term frequencies) of one term, deleted documents included.

        Decoding (unpickling and inflating Whoosh's blocks) is most of a query's cost, so
        decoded lists are kept in a least-recently-used cache of ``cache_bytes``: common
        words recur across a session's queries.
        """
        key = (fieldname, text)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        ids, weights = self._decode(fieldname, text)
        size = ids.nbytes + weights.nbytes
        if size <= self._cache_bytes:
            self._cache[key] = (ids, weights)
            self._cached += size
            while self._cached > self._cache_bytes:
                _key, (old_ids, old_w) = self._cache.popitem(last=False)
                self._cached -= old_ids.nbytes + old_w.nbytes
        return ids, weights

    def _decode(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np
        from whoosh.codec.whoosh3 import W3LeafMatcher

        btext = self._searcher.schema[fieldname].to_bytes(text)
        ids: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for sub, offset in self._searcher.leaf_searchers():
            reader = sub.reader()
            if (fieldname, btext) not in reader:
                continue
            m = reader.postings(fieldname, btext)
            while not isinstance(m, W3LeafMatcher) and hasattr(m, "child"):
                m = m.child  # deletions are masked by alive(), not by a filter matcher
            if isinstance(m, W3LeafMatcher):
                while m.is_active():
                    m._read_data()  # one block: delta-coded ids and float32 weights
                    raw = np.asarray(m._data[0], dtype=np.int64)
                    ids.append((raw if m._byteids else np.cumsum(raw)) + offset)
                    m._read_weights()
                    weights.append(np.asarray(m._weights, dtype=np.float32))
                    m._next_block()
            else:  # small inlined posting lists
                local_ids, local_w = [], []
                while m.is_active():
                    local_ids.append(m.id() + offset)
                    local_w.append(m.weight())
                    m.next()
                ids.append(np.asarray(local_ids, dtype=np.int64))
                weights.append(np.asarray(local_w, dtype=np.float64))
        if not ids:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        # int32/float32 halve the cache; float32 is how Whoosh stores the weights anyway
        return (np.concatenate(ids).astype(np.int32),
                np.concatenate(weights).astype(np.float32))

    def scores(self, leaves: list[WeightedLeaf]) -> tuple[np.ndarray, np.ndarray]:
        """(score per document, matched per document) for the OR of ``leaves``."""
        import numpy as np
        from whoosh.query import Term

        p = self._params
        searcher = self._searcher
        scores = np.zeros(self._n, dtype=np.float64)
        matched = np.zeros(self._n, dtype=bool)
        for leaf in leaves:
            q = leaf.query
            if isinstance(q, Term):
                ids, tf32 = self._postings(q.fieldname, q.text)
                if not ids.size:
                    continue
                tf = tf32.astype(np.float64)
                b = p.title_b if q.fieldname == "title" else p.b
                idf = searcher.idf(q.fieldname, q.text)
                avg = searcher.avg_field_length(q.fieldname) or 1
                length = self._field_lengths(q.fieldname)[ids]
                part = idf * ((tf * (p.k1 + 1)) / (tf + p.k1 * ((1 - b) + b * length / avg)))
                scores[ids] += part * q.boost * leaf.boost
                matched[ids] = True
            else:  # phrases (multi-word synonyms, quoted text) are rare: Whoosh scores them
                context = searcher.context()
                for sub, offset in searcher.leaf_searchers():
                    m = q.matcher(sub, context)
                    while m.is_active():
                        scores[m.id() + offset] += m.score() * leaf.boost
                        matched[m.id() + offset] = True
                        m.next()
        matched &= self.alive()
        return scores, matched
