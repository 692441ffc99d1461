"""The cleaner: one HTML page in, its main text and metadata out (``clean``), pure and total.

trafilatura finds the main text (fast mode: as good as its default cascade on the benchmark,
and much quicker; its slow cascade is asked only when the fast result is mostly menu links).
Around it we add what aesthetics portals need, all site-agnostic and measured in
bench/extraction.py:

- before: furniture pruned by class/id words (share bars, related lists, comments, consult
  forms), scripts stripped once metadata is read;
- after: article chunks trafilatura left behind recovered (``indexer.merge``), breadcrumb,
  promo, call-to-action, byline, copyright and page-control lines dropped, runs of link lines
  (menus, teaser lists) dropped, a trailing related/comments block cut;
- metadata: our own rules (``indexer.metadata``, ``indexer.dates``) for Chinese dates,
  breadcrumb category, language by script, multi-page links;
- a dense-paragraph fallback (``indexer.fallback``) for pages trafilatura gives up on, and
  for pathological pages where its passes would take too long.

``clean`` never raises: a crawler feeds it whatever a server sent, and one bad page must not
stop a crawl.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from lxml.etree import ParserError, strip_elements
from lxml.html import HtmlElement, HTMLParser, document_fromstring

from indexer import boilerplate, dates, metadata
from indexer.fallback import dense_text
from indexer.merge import add_missing_chunks

MAX_HTML_CHARS = 10_000_000  # beyond this a page is cut before parsing: bounded time and memory
_DECLARED_CHARSET = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""",
                               re.IGNORECASE)
_NOT_TEXT = {"script", "style", "noscript", "template"}
MAX_ELEMENTS = 30_000  # the largest of 121 real news pages has 1,600 elements
MAX_LINKS = 5_000  # link texts collected for the menu/teaser tests; a real page has far fewer
BIG_PAGE = 1_000_000  # characters of HTML; above this trafilatura's slower second opinion is skipped
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000\ufeff]+")
_ERROR_TITLE = re.compile(
    r"\b(?:404|not\s+found|page\s+not\s+found|error|access\s+denied|forbidden)\b"
    r"|页面不存在|找不到|未找到|出错|错误", re.IGNORECASE)
_NOT_ARTICLE_PATH = {"tag", "tags", "category", "categories", "search", "contact", "contact-us",
                     "contactus", "login", "register", "signup", "cart", "archive", "archives",
                     "author", "list", "sitemap"}
# trafilatura marks list items with "- "; items stay lines of their own without it
_LIST_MARK = re.compile(r"^[ \t]*[-•·▪●][ \t]+", re.MULTILINE)
# UTF-8 read as Latin-1/cp1252 leaves these pairs ("Ã©", "â€™", "å¤§"); plain accents do not.
_MOJIBAKE_HINT = re.compile("[ÃÂâåæçéèäö][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178"
                            "\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]")


@dataclass
class SiteRules:
    """Optional per-site pins from the sources file: CSS selectors an editor chose."""

    body: str | None = None
    title: str | None = None
    date: str | None = None


@dataclass
class Cleaned:
    """What a page says, ready to become a ``corpus.Document``."""

    url: str
    canonical_url: str | None
    title: str
    author: str | None
    published: str | None
    modified: str | None
    site_name: str | None
    language: str | None
    category: str | None
    description: str | None
    text: str
    is_article: bool
    next_page: str | None
    prev_page: str | None


def empty(url: str) -> Cleaned:
    """The result for a page we could not read: no text, not an article."""
    return Cleaned(url=url, canonical_url=None, title="", author=None, published=None,
                   modified=None, site_name=None, language=None, category=None, description=None,
                   text="", is_article=False, next_page=None, prev_page=None)


def clean(html: str, url: str, rules: SiteRules | None = None) -> Cleaned:
    """Main text and metadata of one page; never raises, garbage gives ``is_article=False``."""
    url = url if isinstance(url, str) else ""
    try:
        return _clean(html, url, rules)
    except Exception:  # noqa: BLE001 - total by contract: a bad page must not stop a crawl
        logging.getLogger(__name__).debug("cannot clean %s", url, exc_info=True)
        return empty(url)


def join_pages(parts: list[Cleaned]) -> Cleaned:
    """One document from the parts of a multi-page article: first part's metadata, all text.

    Lines a later part repeats from the start of the first (the title, a standfirst) go, since
    continuation pages usually reprint them above their own text.
    """
    if not parts:
        raise ValueError("join_pages needs at least one part")
    first = parts[0]
    head = set(first.text.split("\n")[:3]) | {first.title}
    texts = [first.text]
    for part in parts[1:]:
        lines = part.text.split("\n")
        while lines and lines[0] in head:
            lines.pop(0)
        texts.append("\n".join(lines))
    text = "\n".join(t for t in texts if t)
    return replace(first, text=text, next_page=None,
                   is_article=any(p.is_article for p in parts),
                   modified=max((p.modified for p in parts if p.modified), default=None))


def _clean(html: object, url: str, rules: SiteRules | None) -> Cleaned:
    text_in = _as_text(html)
    if not text_in.strip() or _looks_binary(text_in):
        return empty(url)
    text_in = _CONTROL.sub("", text_in[:MAX_HTML_CHARS])
    tree = _parse(text_in)
    if tree is None:
        return empty(url)

    meta = metadata.meta_map(tree)
    items = metadata.json_ld(tree)
    body = tree.find("body")
    if body is None:
        body = tree.find(".//body")
    found = boilerplate.scan(body)
    lang_raw = (tree.get("lang") or meta.get("content-language") or meta.get("og:locale") or "")
    month_first = lang_raw.lower().replace("_", "-") in ("en-us", "en-ph", "en-ca")
    site_name = metadata.site_name_of(meta, items)
    title, site_name = metadata.title_of(tree, meta, items, site_name)
    published, modified = metadata.dates_of(tree, meta, items, month_first)
    body_text = body.text_content() if body is not None else ""
    crumbs = metadata.breadcrumb_of(tree, items, found.crumbs, body_text[:100_000])
    next_page, prev_page = metadata.pagination_of(tree, url)
    author = metadata.author_of(tree, meta, items, found.bylines)
    canonical = metadata.canonical_of(tree, meta, url)
    if rules and rules.title:
        title = _select_text(tree, rules.title) or title
    if rules and rules.date:
        published = dates.parse_date(_select_text(tree, rules.date, date_attr=True),
                                     month_first=month_first) or published
    top_text = ""
    if not published or not author:
        top_text = _page_text(body)
        published = published or dates.labelled_date(top_text, month_first=month_first)
        modified = modified or dates.labelled_date(top_text, modified=True,
                                                   month_first=month_first)

    links = LinkTexts(tree)
    text = ""
    if rules and rules.body:
        text = _select_text(tree, rules.body, blocks=True)
    huge = not text and _element_count(tree) > MAX_ELEMENTS
    if huge:
        # Far beyond any real article page (a data dump, a generated trap): trafilatura's
        # passes grow steeply there, our single dense-block pass stays linear.
        text = dense_text(tree)
    if not text and not huge:
        _prune(body, found.furniture, len(body_text))
        # Metadata is read: scripts and styles only cost trafilatura a copy and a walk now.
        strip_elements(tree, "script", "style", "noscript", "svg", "template", with_tail=False)
        text = _extract(tree, url, links, big=len(text_in) > BIG_PAGE)
    lines = _tidy(text, title, links.__contains__)
    if _has_short_run(lines):
        lines = drop_link_runs(lines, links)
    text = "\n".join(lines)

    if not published:
        published = dates.date_from_url(url) or _htmldate(tree, url)
    author = author or metadata.byline_in_lines(lines) or metadata.labelled_author(top_text)
    language = metadata.language_of(tree, meta, items) or metadata.detect_language(
        text or title)
    if language == "zh" and metadata.detect_language(text) == "en":
        language = "en"  # a translated page keeps its original site's lang attribute
    if not site_name and len(crumbs) >= 3 and boilerplate.looks_like_site(crumbs[0]):
        site_name = crumbs[0]  # "Current location - Beauty Network - ...": the site names itself
    category = (boilerplate.category_from_crumbs(crumbs, title, site_name) if crumbs else None) \
        or metadata.section_of(meta, items)
    return Cleaned(
        url=url, canonical_url=canonical, title=_norm(title),
        author=_norm(author) or None, published=published, modified=modified,
        site_name=_norm(site_name) or None, language=language,
        category=_norm(category) or None,
        description=_norm(metadata.description_of(meta, items)) or None, text=text,
        is_article=_is_article(title, text, url, meta, items, links,
                               multipage=bool(next_page or prev_page)),
        next_page=next_page, prev_page=prev_page,
    )


def _as_text(html: object) -> str:
    if isinstance(html, str):
        return html
    if isinstance(html, bytes | bytearray):
        raw = bytes(html[: MAX_HTML_CHARS * 2])
        declared = _DECLARED_CHARSET.search(raw[:4096])
        first = declared[1].decode("ascii").lower() if declared else "utf-8"
        for encoding in (first, "utf-8", "gb18030"):
            try:
                return raw.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                continue
        return raw.decode("utf-8", errors="replace")
    return ""


def _looks_binary(text: str) -> bool:
    """Mostly control characters or replacement marks in the first 4 KB: not a web page."""
    head = text[:4096]
    bad = len(_CONTROL.findall(head)) + head.count("\ufffd")
    return bad > len(head) * 0.1


_PARSER = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                     remove_comments=True, remove_pis=True)
# libxml2 chokes on a doctype line with a slash in it (seen on old XHTML pages)
_SLASHED_DOCTYPE = re.compile(r"^< ?! ?DOCTYPE[^>]*/[^<>]*>", re.IGNORECASE)


def _parse(text: str) -> HtmlElement | None:
    """An lxml tree of the page, or ``None`` if there is no document in it at all."""
    if "doctype" in text[:50].lower():
        first, newline, rest = text.partition("\n")
        text = _SLASHED_DOCTYPE.sub("", first, count=1) + newline + rest
    for attempt in (text, None):
        try:
            if attempt is None:  # an encoding declaration or lone surrogates: parse bytes
                return document_fromstring(text.encode("utf-8", "replace"), parser=_PARSER)
            return document_fromstring(attempt, parser=_PARSER)
        except (ValueError, ParserError):
            continue
    return None


def _element_count(tree: HtmlElement) -> int:
    return int(tree.xpath("count(//*)"))


def _page_text(body: HtmlElement | None) -> str:
    """Visible text at the top of the page (for bylines and dates), scripts excluded.

    A lazy walk that stops after 20,000 characters, so a 5 MB page costs no more than a small one.
    """
    if body is None:
        return ""
    chunks: list[str] = []
    size = 0
    for el in body.iter():
        if size > 20_000:
            break
        parent = el.getparent()
        if isinstance(el.tag, str) and el.tag not in _NOT_TEXT and el.text and el.text.strip():
            chunks.append(el.text.strip())
            size += len(chunks[-1])
        if el.tail and el.tail.strip() and (parent is None or parent.tag not in _NOT_TEXT):
            chunks.append(el.tail.strip())
            size += len(chunks[-1])
    return "\n".join(chunks)


def _select_text(tree: HtmlElement, selector: str, *, blocks: bool = False,
                 date_attr: bool = False) -> str:
    """Text of the elements a site rule's CSS selector picks ("" if it picks none)."""
    try:
        found = tree.cssselect(selector)
    except Exception:  # noqa: BLE001 - a bad selector in the sources file must not stop a crawl
        return ""
    out = []
    for el in found:
        if date_attr and (el.get("datetime") or el.get("content")):
            out.append(el.get("datetime") or el.get("content"))
        elif blocks:
            out.append(dense_text(el, whole=True))
        else:
            out.append(metadata.text_of(el))
    return "\n".join(t for t in out if t)


def _extract(tree: HtmlElement, url: str, links: LinkTexts, *, big: bool = False) -> str:
    """trafilatura's main text, checked: a page dump of menus gets a second, slower opinion;
    too little text gets our dense-block fallback."""
    import trafilatura

    doc = trafilatura.bare_extraction(tree, url=url or None, fast=True,
                                      include_comments=False, include_tables=True)
    text = (doc.text or "") if doc is not None else ""
    if text:
        text = add_missing_chunks(tree, text)
    if not big and _menu_share(text, links) > 0.5:
        # Fast mode's recall rescue can return the whole page; the full cascade (with its
        # external comparison) is slower but rarely does. Kept only if it is less of a menu.
        slow = trafilatura.bare_extraction(tree, url=url or None, fast=False,
                                           include_comments=False, include_tables=True)
        slow_text = (slow.text or "") if slow is not None else ""
        if slow_text and _menu_share(slow_text, links) < _menu_share(text, links):
            text = slow_text
    if len(text) < 200:
        fallback = dense_text(tree)
        if len(fallback) > 2 * len(text) + 100:
            return fallback
    return text


class LinkTexts:
    """The texts of the page's links, collected on first use: most pages never need them."""

    def __init__(self, tree: HtmlElement):
        self.tree = tree
        self._texts: set[str] | None = None

    @property
    def texts(self) -> set[str]:
        if self._texts is None:
            texts: set[str] = set()
            # one walk per link: an XPath such as //a//text() goes quadratic in libxml2 when a
            # page holds a hundred thousand links
            for count, anchor in enumerate(self.tree.iter("a")):
                if count >= MAX_LINKS:
                    break
                pieces = [" ".join(t.split()) for t in anchor.itertext()]
                texts.update(pieces)
                texts.add(" ".join(" ".join(pieces).split()))
            texts.discard("")
            self._texts = texts
        return self._texts

    def __contains__(self, line: object) -> bool:
        texts = self._texts if self._texts is not None else self.texts
        return line in texts


def _menu_share(text: str, links: LinkTexts) -> float:
    """Share of the text's characters in lines that are just a link's text (a menu)."""
    lines = [line.lstrip("-•· ").strip() for line in text.split("\n")]
    short = [line for line in lines if line and len(line) <= 60]
    if not text or len(short) < 8:
        return 0.0
    linked = sum(len(line) for line in short if line in links)
    return linked / len(text)


def is_link_line(line: str, links: LinkTexts | set[str]) -> bool:
    """Is the line a link's text, or led by one (a teaser: headline link, then its blurb)?"""
    if len(line) > 250:
        return False
    if line in links:
        return True
    if len(line) <= 40:
        return False
    at = line.find(" ", 20)
    while 0 < at <= 150:
        if line[:at].rstrip(":|-–—") in links:
            return True
        at = line.find(" ", at + 1)
    return False


def drop_link_runs(lines: list[str], links: LinkTexts | set[str], run: int = 3,
                   tail_run: int = 2) -> list[str]:
    """Remove runs of ``run`` or more consecutive link lines (menus, related-story teasers),
    and a shorter run of ``tail_run`` when it ends the text (a "read next" list)."""
    flags = [is_link_line(line, links) for line in lines]
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not flags[i]:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and flags[j]:
            j += 1
        if not (j - i >= run or (j == len(lines) and j - i >= tail_run)):
            out.extend(lines[i:j])
        i = j
    return out


def _has_short_run(lines: list[str], run: int = 3) -> bool:
    """Cheap pre-test for drop_link_runs: a run of short lines, or short closing lines?"""
    if len(lines) >= 2 and len(lines[-1]) <= 250 and len(lines[-2]) <= 250:
        return True
    count = 0
    for line in lines:
        count = count + 1 if len(line) <= 250 else 0
        if count >= run:
            return True
    return False


def _prune(body: HtmlElement | None, furniture: list[HtmlElement], total: int) -> None:
    """Drop blocks named as furniture, unless one holds much of the page's text (then the
    name is a layout class such as "post-with-share-bar" around the article itself)."""
    if body is None or not furniture:
        return
    for el in furniture:
        parent = el.getparent()
        if parent is None:
            continue
        if len(el.text_content()) < total * 0.3:
            el.drop_tree()


def _tidy(text: str, title: str, is_link: Callable[[str], bool] | None = None) -> list[str]:
    """NFC, mojibake fixed, whitespace tidied, furniture lines dropped, title not repeated."""
    if not text:
        return []
    if _MOJIBAKE_HINT.search(text):
        import ftfy

        text = ftfy.fix_text(text)
    text = _LIST_MARK.sub("", _SPACES.sub(" ", unicodedata.normalize("NFC", text)))
    lines = [stripped for line in text.split("\n") if (stripped := line.strip())]
    lines = boilerplate.tidy_lines(lines, is_link)
    norm_title = boilerplate._norm(title)
    if norm_title:  # the title printed again above the text is not part of it
        head = [line for line in lines[:5] if boilerplate._norm(line) != norm_title]
        lines = head + lines[5:]
    return lines


def _norm(text: str | None) -> str:
    """NFC, single spaces, and HTML entities decoded (meta tags are often escaped twice)."""
    if not text:
        return ""
    if "&" in text and ";" in text:
        text = html_lib.unescape(text)
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _htmldate(tree: HtmlElement, url: str) -> str | None:
    """htmldate's quick search as the last resort (it may reshape the tree, so it runs last)."""
    from htmldate import find_date

    try:
        found = find_date(tree, extensive_search=False, original_date=True, url=url or None)
    except Exception:  # noqa: BLE001 - a third-party heuristic failing must not lose the page
        return None
    return dates.parse_date(found) if found else None


def _is_article(title: str, text: str, url: str, meta: dict[str, str], items: list[dict],
                links: LinkTexts, *, multipage: bool = False) -> bool:
    """Listing, tag, contact and error pages are not articles; see the module docstring."""
    if not text:
        return False
    if _ERROR_TITLE.search(title or "") and len(text) < 1500:
        return False
    cjk = len(metadata._CJK.findall(text))
    size = len(text) + cjk * 2  # a CJK character carries about as much as a short word
    marked = metadata.ld_article(items) is not None or meta.get("og:type", "").lower() == "article"
    if marked and size >= 250:
        return True
    try:
        segments = {s.lower() for s in urlsplit(url).path.split("/") if s}
    except ValueError:
        segments = set()
    if segments & _NOT_ARTICLE_PATH:
        return False
    lines = text.split("\n")
    long_lines = [line for line in lines
                  if len(line) + 2 * len(metadata._CJK.findall(line)) >= 100]
    if multipage:  # one part of a longer article may be short on its own
        if size < 150 or not long_lines:
            return False
    elif size < 400 or (len(long_lines) < 2 and size < 1200):
        return False
    # A listing: most extracted lines are the texts of links.
    linked = sum(len(line) for line in lines if line in links)
    return linked < 0.5 * len(text)
