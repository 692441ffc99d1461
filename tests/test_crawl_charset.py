"""Bytes to text for crawled HTML: header, then <meta>, then detection; GB family → gb18030."""

from __future__ import annotations

import pytest

from crawler.charset import decode_html, detect_charset, normalise_charset

ZH = "<html><body><p>隆鼻手术后的肿胀通常在两周内明显消退，鼻尖的轻微肿胀可能持续数月。</p></body></html>"


@pytest.mark.parametrize(("label", "codec"), [
    ("GBK", "gb18030"), ("gb2312", "gb18030"), ("x-gbk", "gb18030"), ("GB18030", "gb18030"),
    ("UTF-8", "utf-8"), ("iso-8859-1", "cp1252"), ("no-such-charset", None), (None, None),
])
def test_normalise_charset(label: str | None, codec: str | None) -> None:
    assert normalise_charset(label) == codec


def test_header_charset_wins() -> None:
    text, charset = decode_html(ZH.encode("gbk"), "text/html; charset=GB2312")
    assert (text, charset) == (ZH, "gb18030")


def test_meta_charset_when_header_has_none() -> None:
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">' + ZH
    text, charset = decode_html(html.encode("gbk"), "text/html")
    assert charset == "gb18030" and "隆鼻手术" in text


def test_undeclared_gbk_is_detected() -> None:
    assert detect_charset(ZH.encode("gbk")) == "gb18030"
    text, charset = decode_html(ZH.encode("gbk"), None)
    assert text == ZH and charset == "gb18030"


def test_gb18030_superset_characters_survive_a_gb2312_label() -> None:
    html = "<p>镕</p>"  # not in GB2312, present in GBK/GB18030
    text, _ = decode_html(html.encode("gb18030"), "text/html; charset=gb2312")
    assert text == html


def test_utf8_and_bom() -> None:
    assert decode_html("<p>café</p>".encode(), None) == ("<p>café</p>", "utf-8")
    assert decode_html(b"\xef\xbb\xbf<p>x</p>", "text/html; charset=latin-1")[0] == "<p>x</p>"


def test_legacy_western_page() -> None:
    text, charset = decode_html("<p>Rhinoplastie : résultats</p>".encode("cp1252"), None)
    assert "résultats" in text


def test_binary_bytes_are_not_html() -> None:
    from crawler.charset import looks_binary

    assert looks_binary(bytes(range(256)) * 20)
    assert not looks_binary("<html><body><p>玻尿酸 filler</p></body></html>".encode("gb18030"))
    assert not looks_binary("<p>text</p>".encode("utf-16"))
