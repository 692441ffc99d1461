"""URL canonicalisation, scope and trap rules (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.urls import (
    TrapGuard,
    canonicalize,
    domain_allowed,
    netloc_of,
    path_template,
    skipped_extension,
)


@pytest.mark.parametrize(("raw", "canonical"), [
    ("HTTP://Example.ORG", "http://example.org/"),
    ("https://example.org:443/a", "https://example.org/a"),
    ("http://example.org:80/a", "http://example.org/a"),
    ("http://example.org:8080/a", "http://example.org:8080/a"),
    ("http://example.org/a#section", "http://example.org/a"),
    ("http://example.org/a?b=2&a=1", "http://example.org/a?a=1&b=2"),
    ("http://example.org/a?utm_source=x&utm_medium=y&id=3", "http://example.org/a?id=3"),
    ("http://example.org/a?fbclid=1&gclid=2", "http://example.org/a"),
    ("http://example.org/a?PHPSESSID=abc&page=2", "http://example.org/a?page=2"),
    ("http://example.org/a;jsessionid=ABC123?x=1", "http://example.org/a?x=1"),
    ("http://example.org/a/./b/../c", "http://example.org/a/c"),
    ("http://example.org//a//b", "http://example.org/a/b"),
    ("http://example.org/dir/", "http://example.org/dir/"),
    ("http://example.org/%7Euser", "http://example.org/~user"),
    ("http://example.org/a?", "http://example.org/a"),
    ("http://example.org/s?q=a+b", "http://example.org/s?q=a%20b"),
    ("http://example.org/文章/1", "http://example.org/%E6%96%87%E7%AB%A0/1"),
])
def test_canonicalize(raw: str, canonical: str) -> None:
    assert canonicalize(raw) == canonical


def test_canonicalize_resolves_relative_links() -> None:
    assert canonicalize("../b.html?utm_campaign=x", base="http://h.org/a/c/d.html") == \
        "http://h.org/a/b.html"


@given(st.sampled_from(["http://e.org/a?x=1&y=2#f", "HTTPS://E.org:443/%7Ea/./b",
                        "http://e.org/p;sid=1?utm_x=2&b=&a=1"]))
def test_canonicalize_is_idempotent(url: str) -> None:
    once = canonicalize(url)
    assert canonicalize(once) == once


@pytest.mark.parametrize(("url", "ext"), [
    ("http://e.org/brochure.PDF", "pdf"), ("http://e.org/a/photo.jpg?w=3", "jpg"),
    ("http://e.org/files/pack.tar.gz", "gz"), ("http://e.org/article.html", None),
    ("http://e.org/2024/05/slug", None), ("http://e.org/v1.2/page", None),
])
def test_skipped_extension(url: str, ext: str | None) -> None:
    assert skipped_extension(url) == ext


def test_domain_allowed_includes_subdomains_and_respects_ports() -> None:
    assert domain_allowed("https://blog.clinic.example/a", ["clinic.example"])
    assert not domain_allowed("https://notclinic.example/a", ["clinic.example"])
    assert domain_allowed("http://127.0.0.1:8000/a", ["127.0.0.1:8000"])
    assert not domain_allowed("http://127.0.0.1:9000/a", ["127.0.0.1:8000"])
    assert not domain_allowed("http://localhost:8000/a", ["127.0.0.1:8000"])
    assert netloc_of("HTTP://Clinic.Example:80/x") == "clinic.example"


def test_trap_guard_caps_query_variations_per_path() -> None:
    guard = TrapGuard(max_query_variants=3, max_template_variants=100)
    reasons = [guard.admit(f"http://e.org/list?sort=s{i}") for i in range(5)]
    assert reasons[:3] == [None, None, None]
    assert reasons[3] and "query-variation cap" in reasons[3]
    assert guard.admit("http://e.org/other?sort=x") is None  # per path


def test_trap_guard_caps_numeric_path_templates() -> None:
    guard = TrapGuard(max_query_variants=100, max_template_variants=4)
    assert path_template("http://e.org/cal/2024/05/17") == "e.org/cal/#/#/#"
    admitted = [guard.admit(f"http://e.org/cal/2024/05/{d}", f"http://e.org/cal/2024/05/{d - 1}")
                is None for d in range(1, 8)]
    assert admitted == [True] * 4 + [False] * 3
    assert guard.admit("http://e.org/articles/slug", "http://e.org/cal/2024/05/7") is None


def test_numeric_ids_found_on_listings_are_not_a_trap() -> None:
    guard = TrapGuard(max_query_variants=100, max_template_variants=4)
    assert all(guard.admit(f"http://e.org/news/{i}.html", "http://e.org/list/2.html") is None
               for i in range(50))
