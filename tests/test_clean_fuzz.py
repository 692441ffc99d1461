"""Property: ``clean`` is total. Whatever bytes a server sends, it returns, and never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.clean import Cleaned, _clean, clean

TAGS = ["html", "head", "body", "div", "p", "span", "a", "h1", "li", "ul", "script", "title",
        "meta", "table", "td", "article", "br", "time", "!--", "![CDATA["]

fragment = st.one_of(
    st.text(max_size=40),
    st.sampled_from(TAGS).map(lambda t: f"<{t}>"),
    st.sampled_from(TAGS).map(lambda t: f"</{t}>"),
    st.sampled_from(['<a href="?page=2">', '<link rel="next" href="x_2.html">',
                     '<meta property="og:type" content="article">', "当前位置：首页 > 整形",
                     '<script type="application/ld+json">{"@type":', "2024年13月45日",
                     '<html lang="zh-CN">', "&#0;", "&amp", "\x00", "\ud7ff"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fragment, max_size=60), st.sampled_from(
    ["https://x.example/a/1.html", "", "not a url", "http://[::1", "https://x.example/?page=x"]))
def test_clean_never_raises(parts: list[str], url: str) -> None:
    result = clean("".join(parts), url)
    assert isinstance(result, Cleaned)
    # The catch-all in clean() is a last resort: the rules themselves should not fail either.
    assert isinstance(_clean("".join(parts), url, None), Cleaned)
    assert isinstance(result.text, str) and isinstance(result.is_article, bool)
    assert result.published is None or len(result.published) == 10


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2000))
def test_clean_never_raises_on_bytes(data: bytes) -> None:
    assert isinstance(clean(data, "https://x.example/"), Cleaned)  # type: ignore[arg-type]


words = st.sampled_from(["大", "打印", " ", "by", "By", "A", "-", " - ", ">", "/", ":", "2024", "年",
                         "3", "月", "日", "March", "5,", "05/", ".", "share", "follow", "twitter",
                         "related", "current location", "当前位置", "：", "Ã", "€", "©", "tags"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(words, max_size=40).map(" ".join), max_size=30))
def test_line_rules_finish_on_adversarial_lines(lines: list[str]) -> None:
    """Regex rules meet lines that almost match them; each must answer (no runaway backtracking)."""
    from indexer.boilerplate import tidy_lines
    from indexer.dates import labelled_date, parse_date

    kept = tidy_lines(lines, lambda line: len(line) % 2 == 0)
    assert set(kept) <= set(lines)
    found = parse_date(" ".join(lines))
    assert found is None or len(found) == 10
    labelled_date(" ".join(lines))
