"""A small dense-paragraph extractor for pages trafilatura returns (almost) nothing for.

Some portals put the article in bare ``<div>``s with ``<br>`` breaks and no paragraph markup;
trafilatura may then find too little. Here each leaf block scores its own non-link text for
its parent and grandparent (the classic readability idea), the best container wins, and its
leaf blocks are returned in document order. It is also how an editor's CSS body rule is read.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from indexer import boilerplate

BLOCK_TAGS = {"p", "div", "section", "article", "main", "li", "td", "th", "blockquote", "pre",
              "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "figcaption", "ul", "ol", "table",
              "tr", "tbody", "header", "footer", "aside", "nav", "form", "dl", "center", "font",
              "span"}
LEAF_CANDIDATES = BLOCK_TAGS - {"ul", "ol", "table", "tr", "tbody", "dl", "span", "font"}
SKIP_TAGS = {"script", "style", "noscript", "nav", "footer", "aside", "form", "header", "iframe",
             "select", "button", "svg", "template"}
_WS = re.compile(r"[ \t\r\f\v\u00a0]+")
MAX_NODES = 50_000  # enough for any real article page; bounds time on pathological trees


def _text(el: HtmlElement) -> str:
    """Text of ``el`` with ``<br>`` as line breaks and script/nav-like children left out."""
    parts: list[str] = []
    stack: list[tuple[HtmlElement, bool]] = [(el, False)]
    while stack:
        node, done = stack.pop()
        if done:  # after the children: the tail belongs to the parent's flow
            if node is not el and node.tail:
                parts.append(node.tail)
            continue
        stack.append((node, True))
        if not isinstance(node.tag, str) or (node is not el and node.tag in SKIP_TAGS):
            continue
        if node.tag == "br":
            parts.append("\n")
        if node.text:
            parts.append(node.text)
        stack.extend((child, False) for child in reversed(node))
    lines = [_WS.sub(" ", line).strip() for line in "".join(parts).split("\n")]
    return "\n".join(line for line in lines if line)


def _leaf_blocks(root: HtmlElement) -> list[HtmlElement]:
    """Block elements with no block inside, in document order, furniture subtrees skipped."""
    candidates: list[HtmlElement] = []
    stack = [root]
    seen = 0
    while stack and seen < MAX_NODES:
        el = stack.pop()
        seen += 1
        if not isinstance(el.tag, str):
            continue
        if el is not root and (el.tag in SKIP_TAGS or boilerplate.furniture_words(el)):
            continue
        if el.tag in LEAF_CANDIDATES:
            candidates.append(el)
        stack.extend(reversed(el))
    chosen = set(candidates)
    has_block_inside: set[HtmlElement] = set()
    for el in candidates:
        parent = el.getparent()
        while parent is not None and parent not in has_block_inside:
            if parent in chosen:
                has_block_inside.add(parent)
            if parent is root:
                break
            parent = parent.getparent()
    return [el for el in candidates if el not in has_block_inside]


def _link_share(el: HtmlElement, size: int) -> float:
    linked = sum(len(a.text_content()) for a in el.iter("a"))
    return linked / size if size else 1.0


def dense_text(root: HtmlElement, *, whole: bool = False) -> str:
    """Text of the densest container under ``root`` (or all of ``root`` when ``whole``)."""
    leaves = _leaf_blocks(root)
    if not whole:
        scores: dict[HtmlElement, float] = {}
        for leaf in leaves:
            size = len(leaf.text_content().strip())
            if size < 25 or _link_share(leaf, size) > 0.5:
                continue
            parent = leaf.getparent()
            if parent is None:
                continue
            scores[parent] = scores.get(parent, 0.0) + size
            grand = parent.getparent()
            if grand is not None:
                scores[grand] = scores.get(grand, 0.0) + size / 2
        if not scores:
            return ""
        best = max(scores, key=scores.__getitem__)
        leaves = [leaf for leaf in leaves if best in leaf.iterancestors() or leaf is best]
    out = []
    for leaf in leaves:
        text = _text(leaf)
        if not text:
            continue
        if not whole and _link_share(leaf, len(text)) > 0.5:
            continue
        out.append(text)
    return "\n".join(out)
