"""The search API the CLI codes against: queries, filters, snippets, copies, suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus import Store
from corpus.errors import QuerySyntaxError
from indexer.build import update_index
from indexer.search import Searcher, SearchRequest
from tests.test_index_build import make_corpus, make_doc

COPY_NOTE = ("Editor's note: this article first appeared on our partner site and is shared "
             "with permission. ")


@pytest.fixture
def searcher(data_dir: Path):
    make_corpus(data_dir)
    with Store.open(data_dir) as store:  # a syndicated copy of the rhinoplasty article
        original = make_doc("a-rhino")
        store.save_document(make_doc("a-rhino", id="e-copy", url="https://copies.example/rhino",
                                     site="copies.example", text=COPY_NOTE + original.text))
    update_index(data_dir)
    with Searcher(data_dir) as s:
        yield s


def search(searcher: Searcher, query: str, **kw):
    return searcher.search(SearchRequest(query, **kw))


def test_free_text_is_or_grouped_and_ranked(searcher: Searcher) -> None:
    result = search(searcher, "splint frown")  # no document has both words
    assert {h.id for h in result.hits} == {"a-rhino", "b-botox"}
    assert all(h.score >= 0 for h in result.hits)


def test_near_duplicates_fold_into_one_hit_with_also_at(searcher: Searcher) -> None:
    result = search(searcher, "splint")
    assert [h.id for h in result.hits] == ["a-rhino"]
    assert result.hits[0].also_at == ["https://copies.example/rhino"]
    assert result.total == 1
    every = search(searcher, "splint", all_copies=True)
    assert [h.id for h in every.hits] == ["a-rhino", "e-copy"] or \
        sorted(h.id for h in every.hits) == ["a-rhino", "e-copy"]
    assert every.total == 2


def test_snippet_shows_original_words_with_markers(searcher: Searcher) -> None:
    hit = search(searcher, "bruising eyes").hits[0]
    assert "[[Bruising]]" in hit.snippet and "[[eyes]]" in hit.snippet
    assert "[[bruis]]" not in hit.snippet.lower()  # never the stem
    assert len(hit.snippet) <= 220


def test_phrase_and_field_syntax(searcher: Searcher) -> None:
    assert [h.id for h in search(searcher, '"head raised"').hits] == ["a-rhino"]
    assert search(searcher, '"raised head"').hits == []
    assert [h.id for h in search(searcher, "title:filler").hits] == ["c-filler"]
    assert [h.id for h in search(searcher, "procedure:botox").hits] == ["b-botox"]
    assert [h.id for h in search(searcher, "risk:vascular-occlusion").hits] == ["c-filler"]
    assert [h.id for h in search(searcher, "lang:zh").hits] == ["d-zh"]
    assert [h.id for h in search(searcher, "site:site-b.example").hits] == ["b-botox"]


def test_questions_are_not_wildcards(searcher: Searcher) -> None:
    assert search(searcher, "does the splint hurt?").hits[0].id == "a-rhino"


def test_filters_combine_with_and(searcher: Searcher) -> None:
    ids = [h.id for h in search(searcher, "swelling", procedures=["rhinoplasty"],
                                lang="en").hits]
    assert ids == ["a-rhino"]
    ids = [h.id for h in search(searcher, "", since="2024-01-10", until="2024-03-02",
                                sort="date", all_copies=True).hits]
    assert ids == ["a-rhino", "e-copy", "d-zh"] or ids[-1] == "d-zh"
    assert search(searcher, "toxin", risks=["swelling"]).hits == []


def test_sort_by_date_newest_first(searcher: Searcher) -> None:
    dates = [h.published for h in search(searcher, "", sort="date").hits]
    assert dates == sorted(dates, reverse=True) and dates[0] == "2024-06-15"


def test_chinese_query_finds_chinese_text(searcher: Searcher) -> None:
    hits = search(searcher, "肿胀").hits
    assert hits and hits[0].id == "d-zh"
    assert "[[肿胀]]" in hits[0].snippet
    assert search(searcher, "戴眼镜").hits[0].id == "d-zh"


def test_accents_and_case_fold(searcher: Searcher) -> None:
    assert [h.id for h in search(searcher, "BOTULINUM Tóxin").hits][0] == "b-botox"


def test_paging_and_deterministic_ties(searcher: Searcher) -> None:
    everything = [h.id for h in search(searcher, "", limit=10, all_copies=True).hits]
    assert everything == sorted(everything)  # equal scores: by doc id
    page2 = [h.id for h in search(searcher, "", limit=2, page=2, all_copies=True).hits]
    assert page2 == everything[2:4]


def test_explain_gives_a_breakdown(searcher: Searcher) -> None:
    hit = search(searcher, "bruising", explain=True).hits[0]
    assert "text:bruis" in hit.explanation and "k1=" in hit.explanation


def test_did_you_mean_from_the_index_vocabulary(searcher: Searcher) -> None:
    result = search(searcher, "brusing splint")
    assert result.suggestion == "bruising splint"
    assert search(searcher, "bruising splint").suggestion is None
    assert search(searcher, "bruises splints").suggestion is None  # other forms are indexed


@pytest.mark.parametrize("query, where", [
    ('"nose job', "column 1"),
    ("(nose OR chin", "missing ')'"),
    ("nose)", "no '('"),
    ("author:smith", "unknown field 'author'"),
])
def test_query_errors_point_at_the_problem(searcher: Searcher, query: str, where: str) -> None:
    with pytest.raises(QuerySyntaxError, match=r"(?s)" + where.replace("(", r"\(").replace(")", r"\)")):
        search(searcher, query)


def test_bad_dates_are_query_errors(searcher: Searcher) -> None:
    with pytest.raises(QuerySyntaxError, match="YYYY-MM-DD"):
        search(searcher, "nose", since="last week")
    with pytest.raises(QuerySyntaxError, match="after --until"):
        search(searcher, "nose", since="2024-05-01", until="2024-01-01")


def test_batch_is_deterministic_and_returns_every_copy(searcher: Searcher) -> None:
    runs = [list(searcher.batch([("q1", "splint glasses nose"), ("q2", "zzzz")], limit=5))
            for _ in range(2)]
    assert runs[0] == runs[1]
    (qid, hits), (qid2, none) = runs[0]
    assert (qid, qid2) == ("q1", "q2") and none == []
    assert {"a-rhino", "e-copy"} <= {h.id for h in hits}


def test_feedback_adds_terms_of_the_top_documents(tmp_path: Path) -> None:
    from corpus import Document
    from indexer.rank import DEFAULT

    data_dir = tmp_path / "prf"
    with Store.open(data_dir) as store:
        for n in range(20):
            store.save_document(Document(id=f"g{n:02d}", url=f"https://g.example/{n}",
                                         text=f"Garden note {n}: tomatoes need sun and water."))
        store.save_document(Document(id="x", url="https://x.example/", text="Frown lines soften "
                                     "with botulinum injections."))
        store.save_document(Document(id="y", url="https://y.example/", text="Botulinum dosage "
                                     "is counted in units."))
    update_index(data_dir)
    queries = [("q", "frown")]
    with Searcher(data_dir, DEFAULT.with_(prf_docs=0), synonyms=False) as plain:
        assert [h.id for _q, hits in plain.batch(queries) for h in hits] == ["x"]
    with Searcher(data_dir, DEFAULT.with_(prf_docs=1, prf_terms=4), synonyms=False) as prf:
        assert [h.id for _q, hits in prf.batch(queries) for h in hits] == ["x", "y"]
        # interactive search takes feedback only when asked, and marks only the user's words
        assert [h.id for h in prf.search(SearchRequest(query="frown")).hits] == ["x"]
        hits = prf.search(SearchRequest(query="frown", feedback=True)).hits
        assert [h.id for h in hits] == ["x", "y"]
        assert "[[Botulinum]]" not in hits[1].snippet and "[[Frown]]" in hits[0].snippet
        # with operators the query means what it says: no feedback
        assert [h.id for h in prf.search(SearchRequest(query="frown OR lines",
                                                       feedback=True)).hits] == ["x"]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_feedback_on_a_tiny_index_adds_nothing_odd(tmp_path: Path, size: int) -> None:
    """With one to three documents every candidate term is in most of them (idf <= 0)."""
    from corpus import Document

    data_dir = tmp_path / f"tiny{size}"
    with Store.open(data_dir) as store:
        for n in range(size):
            store.save_document(Document(id=f"t{n}", url=f"https://t.example/{n}",
                                         text=f"Chin filler note {n}: swelling settles."))
    update_index(data_dir)
    with Searcher(data_dir, synonyms=False) as searcher:
        ((_qid, hits),) = list(searcher.batch([("q", "chin filler")]))
        assert sorted(h.id for h in hits) == [f"t{n}" for n in range(size)]
        result = searcher.search(SearchRequest(query="chin", feedback=True))
        assert len(result.hits) == size


def test_synonym_expansion_finds_rhinoplasty_for_nose_job(searcher: Searcher) -> None:
    pytest.importorskip("indexer.vocabulary")
    hits = search(searcher, "nose job recovery").hits
    assert hits and hits[0].id in {"a-rhino", "d-zh"}
    plain = Searcher(searcher.data_dir, synonyms=False)
    try:
        assert "a-rhino" in {h.id for h in search(plain, "nose job").hits}  # "nose" alone
        assert search(plain, "job").hits == []
    finally:
        plain.close()
    # Chinese synonym of the English term reaches the Chinese article
    assert "d-zh" in {h.id for h in search(searcher, "rhinoplasty", all_copies=True).hits}


def test_overlapping_chinese_bigrams_are_marked_once() -> None:
    from indexer.search import _merge_spans

    assert _merge_spans([(2, 4), (0, 2), (1, 3), (8, 10)]) == [(0, 4), (8, 10)]


@pytest.mark.parametrize("query", [
    "swelling after surgery", "splint frown nose", '"head raised" bruising', "nose job recovery",
    "隆鼻", "botox units dosage lips filler swelling bruising eyes glasses sun"])
def test_array_scoring_ranks_like_whoosh_matchers(searcher: Searcher, query: str) -> None:
    """The term-at-a-time path must give Whoosh's own scores, order, ties and totals, also over
    several segments with deleted documents (an incremental update after an edit)."""
    with Store.open(searcher.data_dir) as store:
        store.save_document(make_doc("b-botox", text="Botox dosage is counted in units; "
                                     "swelling and bruising are rare after injections."))
    update_index(searcher.data_dir)
    with Searcher(searcher.data_dir) as fresh:
        fresh.array_scoring_min_docs = 0  # small test index: force the array path
        assert len(fresh._searcher.leaf_searchers()) > 1 or fresh._searcher.reader().has_deletions()
        query_obj = fresh.build_query(query)
        for kw in ({}, {"all_copies": True}, {"site": "copies.example"}):
            request = SearchRequest(query, **kw)
            filt = fresh._filter(request)
            fast, fast_total = fresh._ranked(query_obj, filt, request, 10)
            slow, slow_total = fresh._ranked_whoosh(query_obj, filt, request, 10)
            assert [d for _s, d in fast] == [d for _s, d in slow]
            assert [s for s, _d in fast] == pytest.approx([s for s, _d in slow], abs=1e-9)
            assert fast_total == slow_total


def test_top_docnums_keeps_every_tie_of_the_last_place() -> None:
    import numpy as np

    from indexer.search import _top_docnums

    scores = np.array([3.0, 1.0, 2.0, 2.0, 2.0, 0.5])
    top = _top_docnums(scores, np.arange(6), 2)
    assert sorted(top.tolist()) == [0, 2, 3, 4]
    assert _top_docnums(scores, np.array([1, 5]), 5).tolist() == [1, 5]


def test_posting_cache_is_bounded_and_changes_nothing(searcher: Searcher) -> None:
    from indexer.rank import TermAtATime

    queries = ["swelling bruising", "splint nose glasses", "swelling bruising"]
    searcher.array_scoring_min_docs = 0  # small test index: force the array path
    with Searcher(searcher.data_dir, posting_cache_bytes=0) as uncached:
        uncached.array_scoring_min_docs = 0
        expected = [[(h.id, h.score) for h in search(uncached, q).hits] for q in queries]
    assert [[(h.id, h.score) for h in search(searcher, q).hits] for q in queries] == expected
    small = TermAtATime(searcher._searcher, searcher.params, cache_bytes=64)
    for word in ("swelling", "bruising", "splint", "nose", "glasses"):
        small._postings("text", word)
        assert small._cached <= 64


def test_syntax_error_on_a_huge_query_shows_the_part_around_the_problem() -> None:
    from indexer.search import _pointed

    message = _pointed("a" * 5000 + '"' + "b" * 5000, 5000, "unbalanced quote")
    query_line, caret_line = message.splitlines()[1:]
    assert len(query_line) < 100 and "column 5001" in message
    assert query_line[caret_line.index("^")] == '"'
