"""Recover article text that trafilatura leaves behind when a page splits its body in chunks.

Many templates cut an article into several sibling containers with the same class (an ad or
newsletter box between them). trafilatura keeps the best-scoring container and can drop the
others. Here we find the container of the extracted paragraphs, look for elements of the same
tag and class elsewhere on the page, and add their paragraphs in document order. Guards keep
look-alike blocks (cards of related stories) out: a chunk must hold real prose, few links.
"""

from __future__ import annotations

from lxml.html import HtmlElement

from indexer import boilerplate

BLOCKS = ("p", "h2", "h3", "h4", "li", "blockquote")
MIN_PROSE = 100  # a chunk needs a paragraph at least this long
MAX_LINK_SHARE = 0.3
MIN_BLOCKS = 3  # recovered chunks must add at least this many paragraphs


def _squash(text: str) -> str:
    return " ".join(text.split())


def _block_texts(chunk: HtmlElement) -> list[str]:
    out = []
    for el in chunk.iter(*BLOCKS):
        if el.tag == "p" or not any(a.tag in BLOCKS for a in el.iterancestors(*BLOCKS)):
            text = _squash(el.text_content())
            if not text:
                continue
            linked = sum(len(a.text_content()) for a in el.iter("a"))
            if linked <= len(text) * 0.5:
                out.append(text)
    return out


def _is_prose(chunk: HtmlElement) -> bool:
    if boilerplate.furniture_words(chunk):
        return False
    text = chunk.text_content()
    if not text.strip():
        return False
    linked = sum(len(a.text_content()) for a in chunk.iter("a"))
    if linked > len(text) * MAX_LINK_SHARE:
        return False
    return any(len(p.text_content().strip()) >= MIN_PROSE for p in chunk.iter("p"))


def _grandparent(el: HtmlElement) -> HtmlElement | None:
    parent = el.getparent()
    return parent.getparent() if parent is not None else None


def _container_of(tree: HtmlElement, lines: list[str]) -> HtmlElement | None:
    """The paragraph element holding one of the first long extracted lines."""
    probes = [line[:60] for line in lines[:12] if len(line) >= 80][:3]
    if not probes:
        return None
    for p in tree.iter("p"):
        text = _squash(p.text_content())
        if len(text) >= 60 and any(text.startswith(probe) for probe in probes):
            return p
    return None


def add_missing_chunks(tree: HtmlElement, text: str) -> str:
    """``text`` with the paragraphs of same-class sibling chunks it lacks, in document order."""
    lines = text.split("\n")
    paragraph = _container_of(tree, lines)
    if paragraph is None:
        return text
    known = {_squash(line) for line in lines}
    ancestor = paragraph.getparent()
    for _level in range(2):
        if ancestor is None or ancestor.tag in ("body", "html"):
            return text
        cls = ancestor.get("class")
        if cls and "'" not in cls:
            twins = [el for el in tree.xpath(f"//{ancestor.tag}[@class='{cls}']")
                     if el is not ancestor]
            near = _grandparent(ancestor)
            chunks = [el for el in twins if near is not None and _grandparent(el) is near
                      and _is_prose(el)]
            if chunks:
                return _merge(tree, ancestor, chunks, lines, known)
        ancestor = ancestor.getparent()
    return text


def _merge(tree: HtmlElement, main: HtmlElement, chunks: list[HtmlElement], lines: list[str],
           known: set[str]) -> str:
    order = {el: i for i, el in enumerate(tree.iter())}
    before, after = [], []
    for chunk in sorted(chunks, key=lambda el: order.get(el, 0)):
        fresh = [t for t in _block_texts(chunk) if t not in known]
        known.update(fresh)
        (before if order.get(chunk, 0) < order.get(main, 0) else after).extend(fresh)
    if len(before) + len(after) < MIN_BLOCKS:
        # One or two stray blocks are a boxed "About us" or author bio, not a lost chunk.
        return "\n".join(lines)
    return "\n".join(before + lines + after)
