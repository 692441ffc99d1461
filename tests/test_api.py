"""search_cli.api: hits as dataclasses for notebooks, filters validated like the CLI's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from corpus.errors import BadInputError, NothingYetError
from search_cli.api import build_request, open_index, parse_date_bound, search
from tests.test_cli_search import build_search_corpus, indexed  # noqa: F401 - shared fixture


@pytest.mark.parametrize(("value", "end", "expected"), [
    ("2024", False, "2024-01-01"),
    ("2024", True, "2024-12-31"),
    ("2024-02", True, "2024-02-29"),
    ("2023-02", True, "2023-02-28"),
    ("2024-02", False, "2024-02-01"),
    ("2024-03-05", True, "2024-03-05"),
    (" 2024-03-05 ", False, "2024-03-05"),
])
def test_partial_dates_cover_their_whole_period(value: str, end: bool, expected: str) -> None:
    assert parse_date_bound(value, end=end) == expected


@pytest.mark.parametrize("value", ["2024-13", "2024-02-30", "24-01-01", "2024/01/01", "",
                                   "yesterday", "2024-1-1"])
def test_bad_dates_name_the_option(value: str) -> None:
    with pytest.raises(BadInputError, match="--until"):
        parse_date_bound(value, end=True, option="--until")


def test_build_request_accepts_friendly_filters() -> None:
    request = build_request("swelling", procedure="rhinoplasty", risks=["swelling", "bruising"],
                            since="2023", until="2024-02", lang="en", limit=5)
    assert request.procedures == ["rhinoplasty"]
    assert request.risks == ["swelling", "bruising"]
    assert (request.since, request.until) == ("2023-01-01", "2024-02-29")
    assert (request.lang, request.limit, request.page, request.sort) == ("en", 5, 1, "relevance")


@pytest.mark.parametrize(("filters", "needle"), [
    ({"colour": "red"}, "colour"),
    ({"since": "2024-05", "until": "2024-01"}, "after"),
    ({"lang": "français"}, "--lang"),
    ({"sort": "alpha"}, "--sort"),
    ({"limit": 0}, "--limit"),
    ({"page": "2"}, "--page"),
    ({"procedure": 3}, "--procedure"),
])
def test_build_request_rejects_bad_filters(filters: dict, needle: str) -> None:
    with pytest.raises(BadInputError, match=needle):
        build_request("q", **filters)


def test_open_index_returns_hits_as_dataclasses(indexed: Path) -> None:  # noqa: F811
    with open_index(indexed) as index:
        hits = index.search("rhinoplasty swelling", limit=3)
        assert hits and all(dataclasses.is_dataclass(h) for h in hits)
        assert hits[0].id == "rhino-recovery" and hits[0].procedures == ["rhinoplasty"]
        rows = [dataclasses.asdict(h) for h in hits]  # what pandas.DataFrame(hits) does
        assert {"id", "url", "title", "score", "snippet", "also_at"} <= set(rows[0])
        result = index.result("rhinoplsty")
        assert result.suggestion and "rhinoplasty" in result.suggestion
        doc = index.document(hits[0].id)
        assert doc.url == hits[0].url and "Swelling peaks" in doc.text
        with pytest.raises(BadInputError, match="nope"):
            index.document("nope")
        runs = dict(index.batch({"a": "liposuction", "b": "血管栓塞"}, limit=1))
        assert [h.id for h in runs["a"]] == ["lipo-contour"]
        assert [h.id for h in runs["b"]] == ["zh-hyaluronic"]


def test_one_shot_search_with_filters(indexed: Path) -> None:  # noqa: F811
    hits = search("risk", indexed, site="clinic-notes.test", risk="infection", all_copies=True,
                  limit=50)
    assert {h.id for h in hits} == {"bleph-asymmetry", "breast-capsular", "peel-downtime"}
    march = search("risk", data_dir=indexed, since="2024-03", until="2024-03", lang="en",
                   all_copies=True)
    assert {h.published for h in march} == {"2024-03-05", "2024-03-07", "2024-03-31"}


def test_data_dir_comes_from_the_environment(indexed: Path,  # noqa: F811
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AESTHETICS_DATA_DIR", str(indexed))
    assert search("liposuction", limit=1)[0].id == "lipo-contour"


def test_no_index_is_nothing_yet(tmp_path: Path) -> None:
    with pytest.raises(NothingYetError, match="aesthetics index"):
        open_index(build_search_corpus(tmp_path / "d", index=False))
