"""The cleaner on pages of our own writing: exact text, metadata, and pages that are not articles."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from indexer.clean import Cleaned, SiteRules, clean, join_pages

FIXTURES = Path(__file__).resolve().parent / "sites" / "extraction"
META_FIELDS = ("title", "author", "published", "modified", "language", "category", "site_name",
               "description", "canonical_url", "is_article")


def load(name: str, page: str = "page.html") -> tuple[str, dict]:
    folder = FIXTURES / name
    return (folder / page).read_text(encoding="utf-8"), json.loads(
        (folder / "page.json").read_text(encoding="utf-8"))


def shingle_f1(truth: str, pred: str) -> float:
    """Word 4-gram overlap, the same idea as the benchmark's metric."""
    def shingles(text: str) -> Counter:
        tokens = re.findall(r"\w+", text)
        return Counter(tuple(tokens[i:i + 4]) for i in range(max(1, len(tokens) - 3)))

    a, b = shingles(truth), shingles(pred)
    tp = sum((a & b).values())
    if not tp:
        return 0.0
    precision, recall = tp / sum(b.values()), tp / sum(a.values())
    return 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("name", ["portal_en", "portal_zh", "blog_jsonld"])
def test_article_fixture_text_and_metadata(name: str) -> None:
    html, expected = load(name)
    result = clean(html, expected["url"])
    assert result.text == expected["text"]
    for field in META_FIELDS:
        if field in expected:
            assert getattr(result, field) == expected[field], field
    for unwanted in expected.get("text_without", []):
        assert unwanted not in result.text


def test_seed_shaped_breadcrumb_line_gives_category_and_is_dropped() -> None:
    html, expected = load("portal_en")
    result = clean(html, expected["url"])
    assert result.category == "Injectables and fillers"
    assert "Current location" not in result.text
    assert result.site_name == "Beauty Care Network"
    assert " - Beauty Care Network" not in result.title


def test_multi_page_article_is_joined() -> None:
    html1, expected = load("multipage")
    html2, _ = load("multipage", "page2.html")
    first = clean(html1, expected["url"])
    second = clean(html2, expected["url2"])
    assert first.next_page == expected["next_page"] and first.prev_page is None
    assert second.prev_page == expected["prev_page2"]
    assert second.next_page == expected["next_page2"]
    joined = join_pages([first, second])
    assert joined.text == expected["text"]
    assert joined.title == expected["title"] and joined.category == expected["category"]
    assert joined.published == expected["published"] and joined.is_article
    assert joined.next_page is None
    for unwanted in expected["text_without"]:
        assert unwanted not in joined.text


def test_join_pages_needs_a_part() -> None:
    with pytest.raises(ValueError):
        join_pages([])


@pytest.mark.parametrize("name", ["listing", "notfound"])
def test_listing_and_error_pages_are_not_articles(name: str) -> None:
    html, expected = load(name)
    assert clean(html, expected["url"]).is_article is False


def test_rel_next_to_another_article_is_not_a_next_part() -> None:
    html = ("<html><head><link rel='next' href='/blog/other-post/'></head><body>"
            + "<p>" + "A long paragraph about eyelid surgery recovery. " * 20 + "</p></body></html>")
    assert clean(html, "https://x.example/blog/this-post/").next_page is None


def test_query_page_links_are_parts() -> None:
    html = ("<html><body><article>" + "<p>" + "Swelling after a facelift lasts weeks. " * 20
            + "</p></article><a href='/a/7.html?page=2'>2</a></body></html>")
    assert clean(html, "https://x.example/a/7.html").next_page == "https://x.example/a/7.html?page=2"
    second = ("<html><body><article><p>" + "Bruising fades in ten days. " * 20
              + "</p></article><a href='/a/7.html'>1</a></body></html>")
    assert clean(second, "https://x.example/a/7.html?page=2").prev_page == "https://x.example/a/7.html"


def test_site_rules_pin_body_title_and_date() -> None:
    html = """<html><body><div class="t">Pinned title</div><span class="d">2022年7月9日</span>
    <div class="story"><p>First paragraph of the pinned body, long enough to count as text.</p>
    <p>Second paragraph of the pinned body, also long enough to count as real text.</p></div>
    <div class="other"><p>Something else on the page that is not the article at all.</p></div>
    </body></html>"""
    result = clean(html, "https://x.example/a.html",
                   SiteRules(body="div.story", title="div.t", date="span.d"))
    assert result.title == "Pinned title"
    assert result.published == "2022-07-09"
    assert result.text.split("\n") == [
        "First paragraph of the pinned body, long enough to count as text.",
        "Second paragraph of the pinned body, also long enough to count as real text."]


def test_bad_site_rule_selector_falls_back_to_extraction() -> None:
    html, expected = load("portal_en")
    result = clean(html, expected["url"], SiteRules(body="div[[[", title=":::"))
    assert result.text == expected["text"]


def test_mojibake_is_fixed_and_text_is_nfc() -> None:
    body = "The cafÃ© owner had a facelift and said the recovery was easy. " * 8
    html = f"<html><body><article><p>{body}</p><p>Cafe\u0301 again.</p></article></body></html>"
    result = clean(html, "https://x.example/a.html")
    assert "café owner" in result.text and "Ã" not in result.text
    assert "Café again." in result.text  # combining accent composed (NFC)


def test_language_from_script_when_unmarked() -> None:
    zh = "<html><body><article><p>" + "玻尿酸注射后一周内不要按摩注射部位，避免影响效果。" * 10 + "</p></article></body></html>"
    assert clean(zh, "https://x.example/1.html").language == "zh"


@pytest.mark.parametrize("garbage", [
    "", "   ", "<html></html>", "<<<>>>", "\x00\x01\x02\x03" * 1000,
    bytes(range(256)).decode("latin-1") * 50, "<p>" * 5000, "</div>" * 3000 + "text",
], ids=["empty", "blank", "bare-html", "brackets", "control-chars", "latin1-binary",
        "unclosed-p", "stray-closers"])
def test_garbage_gives_an_empty_non_article(garbage: str) -> None:
    result = clean(garbage, "https://x.example/")
    assert isinstance(result, Cleaned)
    assert result.is_article is False


def test_binary_bytes_do_not_raise() -> None:
    result = clean(bytes(range(256)) * 100, "https://x.example/")  # type: ignore[arg-type]
    assert result.is_article is False and result.text == ""


def test_deeply_nested_invalid_html() -> None:
    html = "<div><span><b>" * 20000 + "deep text" + "</i></p>" * 100
    result = clean(html, "https://x.example/deep")
    assert isinstance(result, Cleaned)


def test_five_megabyte_page() -> None:
    paragraph = "<p>Session {n}: laser hair removal needs several sessions spaced weeks apart. " \
        + "Hair grows in cycles, so each visit reaches a different share of the follicles. " * 4 + "</p>"
    count = 5_000_000 // len(paragraph)
    html = "<html><body><article>" + "".join(paragraph.format(n=n) for n in range(count)) \
        + "</article></body></html>"
    assert len(html) > 4_900_000
    result = clean(html, "https://x.example/big")
    assert isinstance(result, Cleaned)
    assert result.is_article and "laser hair removal" in result.text


def test_huge_link_dump_is_not_an_article() -> None:
    """150,000 links (a generated trap or sitemap dump): answered, and not an article."""
    html = "<html><body>" + "".join(f'<a href="?page={i}">p{i}</a>' for i in range(150_000)) \
        + "</body></html>"
    result = clean(html, "https://x.example/list?page=3")
    assert result.is_article is False and result.text == ""


def test_bytes_use_their_declared_charset() -> None:
    body = "<p>" + "Café crème after rhinoplasty: the brûlée can wait a week. " * 8 + "</p>"
    html = f'<html><head><meta charset="windows-1252"><title>Crème</title></head><body><article>{body}</article></body></html>'
    result = clean(html.encode("cp1252"), "https://x.example/a.html")  # type: ignore[arg-type]
    assert result.title == "Crème" and "brûlée" in result.text
    gbk = "<html><head><meta charset='gbk'><title>隆鼻</title></head><body><p>" + "隆鼻术后一周拆线，肿胀逐渐消退。" * 20 + "</p></body></html>"
    assert clean(gbk.encode("gbk"), "https://x.example/b.html").title == "隆鼻"  # type: ignore[arg-type]
