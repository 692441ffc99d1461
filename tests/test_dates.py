"""Date formats English and Chinese pages print, to ISO; nothing guessed when ambiguous is impossible."""

from __future__ import annotations

import pytest

from indexer.clean import clean
from indexer.dates import date_from_url, labelled_date, parse_date


@pytest.mark.parametrize(("text", "iso"), [
    ("March 5, 2024", "2024-03-05"),
    ("Mar. 5th 2024", "2024-03-05"),
    ("5 March 2024", "2024-03-05"),
    ("5th of March, 2024", "2024-03-05"),
    ("05/03/2024", "2024-03-05"),
    ("05.03.2024", "2024-03-05"),
    ("25/12/2023", "2023-12-25"),
    ("12/25/2023", "2023-12-25"),  # a month over 12 is read the other way
    ("2024年3月5日", "2024-03-05"),
    ("2024 年 03 月 05 日", "2024-03-05"),
    ("２０２４年３月５日", "2024-03-05"),
    ("2024-03-05T10:00:00+08:00", "2024-03-05"),
    ("2024/3/5", "2024-03-05"),
    ("发布时间：2024-03-05 10:22", "2024-03-05"),
    ("Posted on 12 January 2024 by Ann", "2024-01-12"),
])
def test_parse_date_formats(text: str, iso: str) -> None:
    assert parse_date(text) == iso


def test_month_first_for_us_pages() -> None:
    assert parse_date("05/03/2024", month_first=True) == "2024-05-03"


@pytest.mark.parametrize("text", ["", None, "no date here", "2024-13-45", "31/02/2024",
                                  "1890-01-01", "Version 10.2.3"])
def test_no_date_or_impossible_date(text: str | None) -> None:
    assert parse_date(text) is None


def test_dates_in_urls() -> None:
    assert date_from_url("https://x.example/2024/03/05/slug") == "2024-03-05"
    assert date_from_url("https://x.example/news/20240305/88.html") == "2024-03-05"
    assert date_from_url("https://x.example/news/88.html") is None
    assert date_from_url("https://20240305.example/") is None


def test_labelled_dates() -> None:
    text = "来源：整形网 发布时间：2023年11月2日 更新时间：2024年1月8日"
    assert labelled_date(text) == "2023-11-02"
    assert labelled_date(text, modified=True) == "2024-01-08"


def _page(head: str = "", body: str = "") -> str:
    para = "<p>" + "Eyelid surgery recovery takes about two weeks for most people. " * 10 + "</p>"
    return f"<html><head>{head}</head><body>{body}<article>{para}</article></body></html>"


@pytest.mark.parametrize(("head", "body", "url", "iso"), [
    ('<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2021-06-01"}'
     "</script>", "", "https://x.example/a", "2021-06-01"),
    ('<meta property="article:published_time" content="2020-02-29T08:00:00Z">', "",
     "https://x.example/a", "2020-02-29"),
    ("", '<time datetime="2019-10-11">Oct 11</time>', "https://x.example/a", "2019-10-11"),
    ("", "<div>发布时间：2024年3月5日</div>", "https://x.example/a", "2024-03-05"),
    ("", "<div>Published: March 5, 2024</div>", "https://x.example/a", "2024-03-05"),
    ("", "", "https://x.example/2018/07/21/story.html", "2018-07-21"),
])
def test_published_date_sources(head: str, body: str, url: str, iso: str) -> None:
    assert clean(_page(head, body), url).published == iso


def test_modified_date_from_meta() -> None:
    head = ('<meta property="article:published_time" content="2020-01-01">'
            '<meta property="article:modified_time" content="2020-03-01">')
    result = clean(_page(head), "https://x.example/a")
    assert (result.published, result.modified) == ("2020-01-01", "2020-03-01")
