"""Analyzer and ranking helpers: pure functions, no index needed."""

from __future__ import annotations

import pickle

import pytest

from indexer.analysis import analyze, fold, is_cjk, make_analyzer
from indexer.rank import (
    DEFAULT,
    bm25_term,
    feedback_shares,
    idf,
    lucene_idf,
    prune_terms,
    tie_sorted,
    weighting,
)


def test_english_terms_are_stemmed_folded_and_stopped() -> None:
    assert analyze("The Swelling of the NOSE after Rhinoplasties") == \
        ["swell", "nose", "after", "rhinoplasti"]
    assert analyze("Béla's mélasma") == analyze("bela's melasma")


def test_cjk_runs_become_overlapping_bigrams_with_exact_offsets() -> None:
    text = "术后肿胀 swelling 鼻"
    tokens = [(t.text, t.startchar, t.endchar, t.pos)
              for t in make_analyzer()(text, chars=True, positions=True)]
    assert tokens == [("术后", 0, 2, 0), ("后肿", 1, 3, 1), ("肿胀", 2, 4, 2),
                      ("swell", 5, 13, 3), ("鼻", 14, 15, 4)]
    assert all(text[s:e] for _t, s, e, _p in tokens)


def test_jieba_mode_segments_words() -> None:
    words = [t.text for t in make_analyzer(cjk_mode="jieba")("隆鼻手术后肿胀")]
    assert "隆鼻" in words and "肿胀" in words


def test_analyzer_pickles_into_the_index_schema() -> None:
    analyzer = pickle.loads(pickle.dumps(make_analyzer()))
    assert [t.text for t in analyzer("Noses 隆鼻")] == ["nose", "隆鼻"]


def test_fold_and_is_cjk() -> None:
    assert fold("Rhinoplastíe") == "rhinoplastie"
    assert is_cjk("隆鼻 surgery") and not is_cjk("surgery")


def test_bm25_saturates_with_k1_and_penalises_length_with_b() -> None:
    one = bm25_term(2.0, 1, 100, 100, k1=1.2, b=0.75)
    ten = bm25_term(2.0, 10, 100, 100, k1=1.2, b=0.75)
    assert one < ten < 2.0 * (1.2 + 1)  # bounded by idf * (k1 + 1)
    long_doc = bm25_term(2.0, 1, 400, 100, k1=1.2, b=0.75)
    no_b = bm25_term(2.0, 1, 400, 100, k1=1.2, b=0.0)
    assert long_doc < one == no_b
    assert bm25_term(2.0, 0, 100, 100, 1.2, 0.75) == 0.0


def test_idf_is_positive_even_for_terms_in_every_document() -> None:
    assert lucene_idf(1000, 1000) > 0 and idf(1000, 1000) > 0
    assert lucene_idf(1, 1000) > lucene_idf(100, 1000)


def test_prune_keeps_the_rarest_terms_in_query_order() -> None:
    freqs = {"common": 900, "rare": 2, "mid": 50, "other": 400}
    assert prune_terms(["common", "rare", "mid", "other"], freqs, 2) == ["rare", "mid"]
    assert prune_terms(["a", "b"], {}, 0) == ["a", "b"]


def test_feedback_votes_follow_a_clear_winner_and_spread_over_a_close_field() -> None:
    clear = feedback_shares([30.0, 20.0, 19.5, 19.0], temperature=1.0)
    assert sum(clear) == pytest.approx(1.0)
    assert clear[0] > 0.99  # a claim's one answer outvotes its near-misses
    close = feedback_shares([5.2, 5.0, 4.9, 4.8], temperature=3.0)
    assert max(close) < 0.3 and min(close) > 0.2  # a topic's matches vote about equally
    assert feedback_shares([7.0, 7.0], temperature=1.0) == [0.5, 0.5]
    assert feedback_shares([], temperature=1.0) == []
    # large scores (long queries) must not overflow
    assert feedback_shares([900.0, 100.0], temperature=1.0) == [1.0, 0.0]


def test_ties_break_by_doc_id() -> None:
    assert tie_sorted([(1.0, "b"), (2.0, "z"), (1.0 + 1e-12, "a")]) == \
        [(2.0, "z"), (1.0 + 1e-12, "a"), (1.0, "b")]


def test_weighting_uses_the_params() -> None:
    model = weighting(DEFAULT)
    assert model.K1 == DEFAULT.k1 and model.B == DEFAULT.b
