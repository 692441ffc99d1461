"""Hostile queries never crash `aesthetics search`; a fuzzer never gets past the query parser.

Every hostile query must end with exit 0 (sensible results) or exit 2 (a message naming the
problem) — never exit 1 ("unexpected error") and never a traceback. The property test feeds
``Searcher.search`` random text built from query syntax, words of the corpus, CJK and
control characters: the only exception allowed out is ``QuerySyntaxError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import Document, Store
from corpus.errors import QuerySyntaxError
from indexer.build import update_index
from indexer.search import Searcher, SearchRequest, SearchResult
from tests.conftest import run_aesthetics

ARTICLES = [
    ("Swelling after rhinoplasty", "Swelling after rhinoplasty peaks on the second day and "
     "fades over weeks; the splint stays dry and the head stays raised at night.",
     ["rhinoplasty"], ["swelling"], "en"),
    ("Bruising after filler", "Bruising after lip filler is common and fades within a week; "
     "a pale or dusky patch of skin needs a doctor the same day.",
     ["lip-augmentation"], ["bruising"], "en"),
    ("Toxin and drooping eyelids", "A drooping eyelid after botulinum toxin is uncommon and "
     "wears off as the toxin does, usually within a few weeks.", ["botox"], ["ptosis"], "en"),
    ("The cost of a facelift", "A facelift costs more than non-surgical options and needs two "
     "weeks away from work; numbness around the ears can last for months.",
     ["facelift"], ["numbness"], "en"),
    ("隆鼻手术后的肿胀", "隆鼻手术后肿胀通常在第二天最明显，之后几周逐渐消退。", ["rhinoplasty"],
     ["swelling"], "zh"),
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("queries") / "data"
    with Store.open(data_dir) as store:
        for n, (title, text, procs, risks, lang) in enumerate(ARTICLES):
            for copy in range(4):  # a few near-identical siblings so totals are not trivial
                store.save_document(Document(
                    id=f"q{n}-{copy}", url=f"https://q{copy}.example/{n}", title=title,
                    text=f"{text} Copy {copy} of note {n}.", site=f"q{copy}.example",
                    procedures=procs, risks=risks, language=lang,
                    published=f"2024-0{copy + 1}-1{n}"))
    update_index(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def searcher(indexed: Path) -> Iterator[Searcher]:
    with Searcher(indexed) as opened:
        yield opened


# ---------------------------------------------------------------------------- hostile queries
# (query, expected exit codes, a text the error message must contain when it exits 2)
HOSTILE = {
    "unbalanced quote": ('"swelling after', {2}, "unbalanced"),
    "lone quote": ('"', {2}, "unbalanced"),
    "unbalanced open parenthesis": ("(swelling OR bruising", {2}, "unbalanced"),
    "unbalanced close parenthesis": ("swelling)", {2}, "unbalanced"),
    "deep parentheses": ("(" * 300 + "swelling" + ")" * 300, {0, 2}, "query"),
    "5,000 nested parentheses": ("(" * 4999 + "swelling" + ")" * 4999, {2}, "query"),
    "2,000 ORs": ("swelling OR " * 2000, {0}, ""),
    "2,500 NOTs": ("NOT " * 2500, {0, 2}, "query"),
    "leading dash": ("-swelling", {2}, "no such option"),
    "10,000-character word": ("x" * 10_000, {0}, ""),
    "10,000 characters of words": (("swelling bruising filler " * 500)[:10_000], {0}, ""),
    "10,000 characters of syntax": (('title:"nose" OR (a AND b) ' * 400)[:10_000], {0, 2}, "query"),
    "only stop words": ("the and of to a in", {0}, ""),
    "only punctuation": ("!!! ,,, ... ;; -- // \\\\", {0}, ""),
    "punctuation with wildcards": ("?!*^~", {0, 2}, "query"),
    "unknown field": ("colour:red swelling", {2}, "colour"),
    "empty field": ("title: swelling", {0, 2}, "query"),
    "wildcard alone": ("*", {0, 2}, "query"),
    "operators only": ("AND OR NOT", {0, 2}, "query"),
    "escape and bell": ("swelling \x1b[31m \x07\x08", {0}, ""),
    "tabs and newlines": ("swelling\t\n\rbruising\x0b\x0c", {0}, ""),
    "unicode controls": ("swelling\u200b\u202e\ufeff\u2028bruising", {0}, ""),
    "lone surrogate-like and private use": ("\ue000\uffff rhinoplasty", {0}, ""),
    "fuzzy and boost": ("swelling~ bruising^99999999999999999999", {0, 2}, "query"),
    "empty string": ("", {0, 2}, "query"),
}

THROUGH_PROCESS = ["unbalanced quote", "10,000 characters of syntax", "unknown field",
                   "escape and bell", "wildcard alone"]


def _check(name: str, code: int, stdout: str, stderr: str) -> None:
    query, allowed, needle = HOSTILE[name]
    assert "Traceback" not in stderr and "Traceback" not in stdout, name
    assert "unexpected error" not in stderr, f"{name}: {stderr[-500:]}"
    assert code in allowed, f"{name}: exit {code}: {stderr[-500:]}"
    if code == 2:
        assert stderr.startswith("Error:") or "Usage:" in stderr, stderr
        assert needle.lower() in stderr.lower(), f"{name}: {stderr[-500:]}"
    else:
        json.loads(stdout)  # well-formed results


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_query_in_process(indexed: Path, cli, name: str) -> None:
    query = HOSTILE[name][0]
    result = cli("--data-dir", str(indexed), "search", query, "--format", "json")
    _check(name, result.exit_code, result.stdout, result.stderr)


def test_nul_byte_in_query_is_not_a_crash(indexed: Path, cli) -> None:
    """A NUL cannot reach us through argv (execve refuses it), but can through the API and
    a queries file; in-process it must behave like any other control character."""
    result = cli("--data-dir", str(indexed), "search", "swelling\x00bruising", "--format",
                 "json")
    assert result.exit_code in (0, 2), result.output
    assert "unexpected error" not in result.stderr


@pytest.mark.slow
def test_hostile_queries_through_the_real_entry_point(indexed: Path) -> None:
    """A sample of the hostile queries, each in its own `aesthetics search` process (the
    in-process test above runs all of them through the same click group)."""
    names = THROUGH_PROCESS

    def run(name: str):
        return name, run_aesthetics("--data-dir", str(indexed), "search", HOSTILE[name][0],
                                    "--format", "json", timeout=120)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for name, done in pool.map(run, names):
            _check(name, done.returncode, done.stdout, done.stderr)


def test_sensible_results_for_degenerate_queries(indexed: Path, searcher: Searcher) -> None:
    long_words = ("swelling bruising filler " * 500)[:10_000]
    assert searcher.search(SearchRequest(long_words)).hits, "a long query still finds things"
    assert searcher.search(SearchRequest("swelling \x1b[31m \x07")).hits
    assert searcher.search(SearchRequest("swelling\u200bbruising")).total >= 0


# ---------------------------------------------------------------------------- fuzzing
SYNTAX = ['"', "(", ")", "*", "?", "^", "~", ":", "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE",
          "title:", "text:", "procedure:", "risk:", "site:", "lang:", "colour:", "id:", "TO",
          "[", "]", "{", "}", "\\", "'", "-", "+", "/", "2024-01-01", "^2", "~2", "*ing"]
WORDS_ = ["swelling", "bruising", "rhinoplasty", "filler", "the", "of", "隆鼻", "肿胀",
          "nose job", "eyelid", "facelift", "q1-0"]
token = st.one_of(st.sampled_from(SYNTAX), st.sampled_from(WORDS_),
                  st.text(max_size=8), st.characters(max_codepoint=0x3000).map(str))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(token, max_size=25), st.sampled_from([" ", "", "  ", "\t"]))
def test_search_raises_nothing_but_query_syntax_errors(searcher: Searcher, parts: list[str],
                                                       sep: str) -> None:
    query = sep.join(parts)
    try:
        result = searcher.search(SearchRequest(query, limit=5))
    except QuerySyntaxError as exc:
        assert str(exc).strip(), "a syntax error must say what is wrong"
        return
    assert isinstance(result, SearchResult)
    assert result.total >= len(result.hits)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.lists(st.text(max_size=10), max_size=2),
       st.one_of(st.none(), st.text(max_size=12)), st.one_of(st.none(), st.text(max_size=12)),
       st.sampled_from(["relevance", "date"]), st.integers(1, 3), st.booleans())
def test_search_with_random_filters_raises_nothing_but_query_syntax_errors(
        searcher: Searcher, query: str, procedures: list[str], site: str | None,
        since: str | None, sort: str, page: int, explain: bool) -> None:
    request = SearchRequest(query, procedures=procedures, site=site, since=since, sort=sort,
                            page=page, limit=3, explain=explain)
    try:
        result = searcher.search(request)
    except QuerySyntaxError:
        return
    assert isinstance(result, SearchResult)
