"""Ranking parameters and the pure scoring helpers behind them.

Every number here was chosen by measurement on the dev/train splits of NFCorpus, SciFact and
MED (``python bench/ir.py``; results in bench/RESULTS.md), never on the held-out test splits.
What moved nDCG@10 (plain Whoosh BM25F = k1 1.2, b 0.75, title weight 1, Whoosh idf):
- title_weight 0.5: SciFact +0.02 (its titles repeat the abstract's key words; a full-weight
  title match double counts them). NFCorpus and MED have no titles.
- pseudo-relevance feedback for queries of <= 4 terms (batch runs only): NFCorpus +0.012,
  R@100 +0.06. For every query it would also help MED but cost SciFact 0.02-0.03.
- Lucene's idf instead of Whoosh's: within +-0.01, kept for rare-term emphasis.
- k1/b (0.7-2.0 / 0.4-0.9): within +-0.01 on NFCorpus; MED liked k1 2.0 (+0.02), SciFact
  k1 0.9/b 0.4 (+0.005): no setting helped all three, so the defaults stay.
- synonym expansion: no change on these collections (+-0.0005): their queries rarely contain
  aesthetics vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from whoosh import scoring


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
    prf_docs: int = 10             # pseudo-relevance feedback: top documents read (0 = off)
    prf_terms: int = 20            # feedback terms added
    prf_weight: float = 0.5        # share of the feedback terms in the final query
    prf_max_terms: int = 4         # feedback only for queries of at most this many terms (0 = all)
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


def tie_sorted(scored: Iterable[tuple[float, str]]) -> list[tuple[float, str]]:
    """Order (score, doc id) by score descending, ties by doc id: runs must be deterministic.

    Scores are rounded to 1e-9 first so float noise from summation order cannot reorder ties.
    """
    return sorted(scored, key=lambda sd: (-round(sd[0], 9), sd[1]))
