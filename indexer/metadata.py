"""Page metadata from structured markup first, visible text second.

Order of trust, everywhere: JSON-LD, then meta tags, then semantic elements (``<time>``,
``rel=author``, breadcrumb lists), then patterns in the visible text, then the URL. Structured
data is written for machines and rarely wrong; visible text is a fallback for the many
Chinese portals that carry no markup at all.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml.html import HtmlElement

from indexer import boilerplate, dates

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

TITLE_SEPARATORS = re.compile(r"\s+[-|–—:·»]\s+|\s*[|_｜]\s*|\s+-\s*|\s*-\s+")
ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "report", "medicalwebpage",
                 "scholarlyarticle", "techarticle", "reportagenewsarticle", "analysisnewsarticle",
                 "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "posting",
                 "socialmediaposting", "liveblogposting", "howto"}


def squash(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def json_ld(tree: HtmlElement) -> list[dict]:
    """Every JSON-LD object on the page, ``@graph`` flattened; broken blocks are skipped."""
    found: list[dict] = []
    for script in tree.xpath("//script[@type]"):
        if "ld+json" not in (script.get("type") or "").lower():
            continue
        raw = (script.text or "").strip()
        if not raw or len(raw) > 500_000:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        stack = [data]
        while stack and len(found) < 200:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                found.append(item)
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
    return found


def ld_types(item: dict) -> set[str]:
    kind = item.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).lower() for k in kinds if k}


def ld_article(items: list[dict]) -> dict | None:
    for item in items:
        if ld_types(item) & ARTICLE_TYPES:
            return item
    return None


def ld_name(value: object) -> str | None:
    """A name from a JSON-LD value that may be a string, an object or a list of either."""
    if isinstance(value, list):
        names = [n for n in (ld_name(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, str) and value.strip() and not value.startswith("http"):
        return squash(value)
    return None


def meta_map(tree: HtmlElement) -> dict[str, str]:
    """``<meta>`` content keyed by lowercased name/property/itemprop; the first one wins."""
    out: dict[str, str] = {}
    for meta in tree.xpath("//meta[@content]"):
        content = meta.get("content")
        if not content:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = meta.get(attr)
            if key:
                out.setdefault(key.strip().lower(), content.strip())
    return out


def first_meta(meta: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        if meta.get(key):
            return squash(meta[key])
    return None


def site_name_of(meta: dict[str, str], items: list[dict]) -> str | None:
    name = first_meta(meta, "og:site_name", "application-name", "twitter:site:name")
    if name:
        return name
    for item in items:
        if "website" in ld_types(item) or "organization" in ld_types(item):
            found = ld_name(item.get("name"))
            if found:
                return found
    article = ld_article(items)
    if article:
        return ld_name(article.get("publisher"))
    return None


def text_of(el: HtmlElement) -> str:
    try:
        return squash(el.text_content())
    except ValueError:
        return ""


def title_of(tree: HtmlElement, meta: dict[str, str], items: list[dict],
             site_name: str | None) -> tuple[str, str | None]:
    """(title, site name guessed from the ``<title>`` suffix when nothing else named it)."""
    head_title = ""
    node = tree.find(".//title")
    if node is not None:
        head_title = text_of(node)
    h1s = [t for t in (text_of(h) for h in tree.xpath("//h1")) if t]
    article = ld_article(items)
    candidates = [
        ld_name(article.get("headline")) if article else None,
        first_meta(meta, "og:title", "twitter:title", "title", "headline"),
    ]
    # An h1 that the <title> starts with (or contains) is the article's own title.
    for h1 in h1s:
        if head_title and 2 < len(h1) < 300 and h1.lower() in head_title.lower():
            candidates.insert(0, h1)
            break
    candidates += [head_title, h1s[0] if len(h1s) == 1 else None]
    title = next((c for c in candidates if c), "")
    title, guessed_site = strip_site_suffix(title, site_name, head_title)
    if not site_name and not guessed_site and title and head_title.startswith(title):
        rest = head_title[len(title):].strip(" -|–—:·»_｜")
        if rest and len(rest) <= 60 and rest != head_title[len(title):].strip():
            guessed_site = rest
    return title, site_name or guessed_site


def strip_site_suffix(title: str, site_name: str | None, head_title: str) -> tuple[str, str | None]:
    """Remove " - Site Name" (or "Site | ") from a title; return the site part if one was cut."""
    parts = [p for p in TITLE_SEPARATORS.split(title) if p.strip()]
    if len(parts) < 2:
        return title, None
    norm = boilerplate._norm
    if site_name:
        site = norm(site_name)
        kept = [p for p in parts if norm(p) != site and not (site and site in norm(p)
                                                             and len(norm(p)) <= len(site) + 4)]
        if kept and len(kept) < len(parts):
            return _rejoin(title, kept), None
    # No known site name: cut a trailing short part that the <title> also ends with.
    last, first = parts[-1].strip(), parts[0].strip()
    longest = max(parts, key=len)
    if len(last) <= 40 and len(longest) > len(last) and head_title.endswith(last):
        return _rejoin(title, parts[:-1]), last
    if len(first) <= 30 and len(longest) > 2 * len(first) and head_title.startswith(first) \
            and len(parts) == 2:
        return parts[1].strip(), first
    return title, None


def _rejoin(title: str, kept: list[str]) -> str:
    start = title.find(kept[0])
    end = title.rfind(kept[-1]) + len(kept[-1])
    return title[start:end].strip() if 0 <= start < end else " ".join(kept)


_BYLINE = re.compile(r"^\s*(?:by|written\s+by|author|作者|文|撰文)\s*[:：]?\s*(.{2,60}?)\s*$",
                     re.IGNORECASE)


def author_of(tree: HtmlElement, meta: dict[str, str], items: list[dict],
              bylines: list[HtmlElement]) -> str | None:
    """Author from JSON-LD, meta tags, rel/itemprop=author, then author/byline elements."""
    article = ld_article(items)
    if article:
        found = ld_name(article.get("author"))
        if found:
            return found
    found = first_meta(meta, "author", "article:author", "dc.creator", "byl", "sailthru.author",
                       "parsely-author")
    if found and not found.startswith("http"):
        return _clean_byline(found)
    for el in tree.xpath("//*[@rel='author' or @itemprop='author']")[:10]:
        text = text_of(el)
        if 1 < len(text) <= 80:
            return _clean_byline(text)
    for el in bylines:
        if _in_form_or_comments(el):
            continue  # "Name (required)" of a comment form is not the article's author
        text = text_of(el)
        if 1 < len(text) <= 60:
            match = _BYLINE.match(text)
            return _clean_byline(match[1] if match else text)
    return None


_BYLINE_TAIL = re.compile(
    r"\s*(?:[|•·@]|\bon\s+(?=\w+\s+\d)|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|\d{4}[-/年]"
    rf"|(?:{dates._MONTH_RE})\.?\s+\d)", re.IGNORECASE)


def _in_form_or_comments(el: HtmlElement) -> bool:
    for node in (el, *el.iterancestors()):
        if node.tag == "form" or "comment" in ((node.get("class") or "") + " "
                                               + (node.get("id") or "")).lower():
            return True
    return False


def _clean_byline(text: str) -> str | None:
    """A person's name out of a byline: no "By", no date, handle or separator after it."""
    text = re.sub(r"^(?:by|written by|posted by|作者)\s*[:：]?\s*", "", squash(text),
                  flags=re.IGNORECASE)
    # a month glued to the name ("Carrie ArnoldNovember 15") or a date, "|", "@" ends it
    text = re.sub(r"(?<=[a-z])(?=(?:January|February|March|April|May|June|July|August|September"
                  r"|October|November|December)\b)", " ", text)
    match = _BYLINE_TAIL.search(text)
    if match and match.start() > 1:
        text = text[:match.start()]
    text = text.strip(" ,.;:-–—")
    return text or None


def byline_in_lines(lines: list[str]) -> str | None:
    """"By Jane Doe" / "作者：张三" in the first lines of the text."""
    for line in lines[:8]:
        match = _BYLINE.match(line)
        if match and not dates.parse_date(match[1]):
            name = re.split(r"\s*(?:[|,，]|\d{4}|发布|来源|时间)", match[1])[0].strip()
            if 1 < len(name) <= 40:
                return name
    return None


_LABELLED_AUTHOR = re.compile(
    r"(?:作者|撰文|文/|author|written\s+by)\s*[:：]?\s*"
    r"([\u4e00-\u9fff·]{2,12}|[A-Z][\w.'-]+(?:[ \t]+[A-Z][\w.'-]+){0,3})")


def labelled_author(text: str) -> str | None:
    """"作者：王医生" / "Author: Li Wei" in the visible text near the top of the page."""
    match = _LABELLED_AUTHOR.search(text[:5000])
    return match[1].strip() if match else None


def dates_of(tree: HtmlElement, meta: dict[str, str], items: list[dict],
             month_first: bool) -> tuple[str | None, str | None]:
    """(published, modified) from JSON-LD, meta tags and ``<time>``; text and URL come later."""
    published = modified = None
    article = ld_article(items) or next((i for i in items if i.get("datePublished")), None)
    if article:
        published = dates.parse_date(str(article.get("datePublished") or ""))
        modified = dates.parse_date(str(article.get("dateModified") or ""))
    published = published or dates.parse_date(first_meta(
        meta, "article:published_time", "og:published_time", "datepublished", "pubdate",
        "publishdate", "publish-date", "publish_date", "date", "dc.date", "dc.date.issued",
        "dcterms.created", "sailthru.date", "parsely-pub-date", "article.published", "pdate"))
    modified = modified or dates.parse_date(first_meta(
        meta, "article:modified_time", "og:updated_time", "datemodified", "last-modified",
        "dcterms.modified", "lastmod"))
    if not published:
        for el in tree.xpath("//time"):
            published = dates.parse_date(el.get("datetime") or text_of(el),
                                         month_first=month_first)
            if published:
                break
    return published, modified


def language_of(tree: HtmlElement, meta: dict[str, str], items: list[dict]) -> str | None:
    """Primary language subtag from markup (``zh-CN`` -> ``zh``), ``None`` if unmarked."""
    raw = tree.get("lang") or tree.get("xml:lang") or first_meta(
        meta, "content-language", "og:locale", "language", "dc.language")
    if not raw:
        article = ld_article(items)
        raw = str(article.get("inLanguage") or "") if article else ""
    code = re.split(r"[-_,;\s]", raw.strip().lower(), maxsplit=1)[0] if raw else ""
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")  # a letter of any script: digits and punctuation say nothing

# Measured on tests/data/language_samples.json (every word-prefix of the Latin and Cyrillic
# samples) against a list of navigation/code/number snippets: with at least 25 letters and a
# normalised probability of at least 0.5, py3langid was right on 892 of 892 prefixes it
# answered and answered none of the 22 snippets. Shorter text ("La liposuccion n'est pas une"
# -> Occitan) or lower probability ("Previous Next Share on Facebook" -> en at 0.41) is a guess.
MIN_LETTERS = 25
MIN_PROBABILITY = 0.5
# Ideographs carry more per character: four of them already name a topic ("隆鼻手术").
MIN_CJK = 4


@functools.cache
def _identifier() -> LanguageIdentifier:
    """py3langid's model, loaded on the first unmarked non-CJK page and kept for the process.

    Imported here, not at module level, because loading takes about half a second and
    ``aesthetics search`` (which never cleans pages) must not pay for it. All of the model's
    languages stay enabled: restricting them to the ones we expect did not make paragraphs any
    more accurate (all right either way) and made navigation snippets look confident
    ("Home | About | Contact" 0.08 -> 0.33 for English), which the probability floor relies on.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """Language of an unmarked page's text (ISO 639 code), or ``None`` when it can't be told.

    Chinese, Japanese and Korean are told apart by script share, because a statistical model
    confuses short Chinese and Japanese (they share ideographs) and a page of Chinese with
    English brand names must stay Chinese. Every other script goes to py3langid, whose answer
    is kept only when the text is long enough and the model is confident (see MIN_LETTERS,
    MIN_PROBABILITY): a wrong language hides a page from ``--lang`` searches more surely than
    no language does.
    """
    sample = text[:5000]
    letters = len(_LETTER.findall(sample))
    if not letters:
        return None
    cjk, kana, hangul = len(_CJK.findall(sample)), len(_KANA.findall(sample)), len(
        _HANGUL.findall(sample))
    if kana > 20 and (cjk + kana) / letters > 0.3:
        return "ja"
    if hangul / letters > 0.3 and hangul >= MIN_CJK:
        return "ko"
    if cjk / letters > 0.3 and cjk >= MIN_CJK:
        return "zh"
    if letters < MIN_LETTERS:
        return None
    language, probability = _identifier().classify(sample)
    if probability < MIN_PROBABILITY or language == "zxx":  # zxx: "no linguistic content"
        return None
    return language


def canonical_of(tree: HtmlElement, meta: dict[str, str], url: str) -> str | None:
    for link in tree.xpath("//link[@rel]"):
        if link.get("rel", "").strip().lower() == "canonical" and link.get("href"):
            return absolute(url, link.get("href"))
    found = first_meta(meta, "og:url")
    return absolute(url, found) if found else None


def absolute(base: str, href: str | None) -> str | None:
    href = (href or "").strip()
    if not href or href.startswith(("javascript:", "mailto:", "#", "data:")):
        return None
    try:
        return urljoin(base, href) if base else href
    except ValueError:
        return None


def breadcrumb_of(tree: HtmlElement, items: list[dict], crumb_elements: list[HtmlElement],
                  html: str) -> list[str]:
    """Crumbs from JSON-LD BreadcrumbList, a breadcrumb element, or a "Current location" line."""
    for item in items:
        if "breadcrumblist" in ld_types(item) and isinstance(item.get("itemListElement"), list):
            def position(entry: object) -> float:
                try:
                    return float(entry.get("position", 0)) if isinstance(entry, dict) else 0.0
                except (TypeError, ValueError):
                    return 0.0

            names = []
            for entry in sorted(item["itemListElement"], key=position):
                if isinstance(entry, dict):
                    names.append(ld_name(entry.get("name")) or ld_name(entry.get("item")))
            names = [n for n in names if n]
            if names:
                return names
    named = [el for el in crumb_elements if "breadcrumb" in (
        (el.get("class") or "") + (el.get("id") or "")).lower()] or crumb_elements
    named += [el for el in tree.xpath("//nav[@aria-label]")
              if "crumb" in el.get("aria-label", "").lower()]
    for el in named[:3]:
        named_anchors = [(a, t) for a in el.xpath(".//a") if (t := text_of(a))]
        anchors = [a for a, _ in named_anchors]
        links = [t for _, t in named_anchors]
        full = text_of(el)
        lis = [(li, t) for li in el.xpath(".//li[not(.//li)]") if (t := text_of(li))]
        if len(lis) >= 2:  # <ol><li>Home</li><li>Section</li><li>This page</li></ol>
            if not lis[-1][0].xpath(".//a"):
                lis = lis[:-1]  # the unlinked last crumb is the page itself, not a section
            return [t for _, t in lis]
        if links:
            parts = boilerplate.crumbs_of(full) if boilerplate.is_breadcrumb_line(full) else []
            if not parts or len(parts) < len(links):
                # Text after the last link is the page itself when it is one crumb.
                tail = _text_after(anchors[-1], el)
                tail_parts = boilerplate.crumbs_of("x > " + tail)[1:] if tail.strip() else []
                parts = links + (tail_parts if len(tail_parts) > 1 else [])
            return parts
        if full:
            return boilerplate.crumbs_of(full)
    # A "Current location - ..." line printed as plain text near the top of the body
    # (looked for in the elements only when the raw page has such a label at all).
    if not boilerplate.has_breadcrumb_label(html):
        return []
    for el in tree.xpath(".//body//*[self::div or self::p or self::span or self::li or self::td "
                         "or self::section or self::nav]")[:400]:
        own = squash(el.text or "")
        if own and boilerplate.is_breadcrumb_line(own):
            full = text_of(el)
            line = full if len(full) < 300 else _first_line(el)
            if len(line) < 300:
                return boilerplate.crumbs_of(line)
    return []


def _text_after(node: HtmlElement, root: HtmlElement) -> str:
    """The text that follows ``node`` inside ``root`` (the current page's crumb, unlinked)."""
    parts: list[str] = []
    while node is not None and node is not root:
        parts.append(node.tail or "")
        for sibling in node.itersiblings():
            parts.append((sibling.text_content() if isinstance(sibling.tag, str) else "")
                         + (sibling.tail or ""))
        node = node.getparent()
    return squash(" ".join(parts))


_LINE_BREAKS = {"br", "p", "div", "h1", "h2", "h3", "h4", "ul", "ol", "table", "section", "hr"}


def _first_line(el: HtmlElement) -> str:
    """The element's text up to its first line break or block child (the breadcrumb line when
    a portal prints it at the top of the article's own container)."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag in _LINE_BREAKS:
            break
        parts.append(child.text_content() if isinstance(child.tag, str) else "")
        parts.append(child.tail or "")
    return squash("".join(parts))


_PAGE_PARAMS = {"page", "p", "pg", "paged", "pagenum", "pageno", "page_no", "pn", "pagina"}
_PATH_PAGE = re.compile(r"(?:/page/(\d{1,3})/?|[_-](\d{1,2})(\.s?html?))$", re.IGNORECASE)


def page_key(url: str) -> tuple[str, str, int] | None:
    """(URL as written, URL without its page number, page number), both normalised.

    Page 1 when no number is written. The URL as written is kept because "article_7.html" may
    be page 1 of its own article (id 7), not page 7 of "article.html".
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    number = 1
    query, all_query = [], []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        all_query.append((key, value))
        if key.lower() in _PAGE_PARAMS and value.isdigit() and len(value) < 5:
            number = int(value)
        else:
            query.append((key, value))
    path = parts.path
    netloc = parts.netloc.lower()
    written = urlunsplit((parts.scheme, netloc, path.rstrip("/"), urlencode(all_query), ""))
    if number == 1:
        match = _PATH_PAGE.search(path)
        if match:
            number = int(match[1] or match[2])
            path = path[:match.start()] + (match[3] or "")
    base = urlunsplit((parts.scheme, netloc, path.rstrip("/"), urlencode(query), ""))
    return written, base, number


def _url_stem(url: str) -> str:
    """The last path segment without extension or page suffix ("guide" of "/a/guide_2.html")."""
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    last = path.rsplit("/", 1)[-1] if "/" in path.split("://", 1)[-1] else ""
    last = _PATH_PAGE.sub("", "/" + last).lstrip("/")
    return last.rsplit(".", 1)[0]


def pagination_of(tree: HtmlElement, url: str) -> tuple[str | None, str | None]:
    """(next, previous) part of a multi-page article: only links to the same article's pages.

    A rel=next that points to another article (older blogs link adjacent posts that way) is
    ignored, because a part must share the URL with its page number taken out.
    """
    here = page_key(url)
    if here is None:
        return None, None
    written, base, number = here
    nxt = prev = None
    candidates: list[tuple[str, str]] = [
        (el.get("rel", "").lower(), el.get("href") or "")
        for el in tree.xpath("//link[@rel and @href] | //a[@rel and @href]")
        if "next" in el.get("rel", "").lower() or "prev" in el.get("rel", "").lower()]
    stem = _url_stem(url)
    # Cheap test first, inside libxml2: a part's link names the page, a page parameter or "?".
    named = "contains(@href, $stem) or " if stem and "'" not in stem else ""
    hrefs = tree.xpath(f"//a[{named}contains(@href, 'page') or contains(@href, 'Page') "
                       "or starts-with(@href, '?')]/@href", stem=stem)
    slash_stem = "/" + stem
    for href in set(hrefs[:2000]):
        if (stem and (slash_stem in href or href.startswith(stem))) or href.startswith("?") or (
                ("page" in href or "Page" in href) and any(c.isdigit() for c in href[-12:])):
            candidates.append(("", str(href)))
            if len(candidates) > 300:
                break
    for rel, href in candidates:
        target = absolute(url, href)
        key = page_key(target) if target else None
        if key is None or key[0] == written:
            continue
        t_written, t_base, t_number = key
        is_next = (t_base == base and t_number == number + 1) or (
            t_base == written and t_number == 2)
        is_prev = number > 1 and ((t_base == base and t_number == number - 1)
                                  or (number == 2 and t_written == base))
        if is_next and (nxt is None or "next" in rel):
            nxt = target
        elif is_prev and (prev is None or "prev" in rel):
            prev = target
    return nxt, prev


def description_of(meta: dict[str, str], items: list[dict]) -> str | None:
    found = first_meta(meta, "description", "og:description", "twitter:description",
                       "dc.description")
    if found:
        return found
    article = ld_article(items)
    return ld_name(article.get("description")) if article else None


def section_of(meta: dict[str, str], items: list[dict]) -> str | None:
    found = first_meta(meta, "article:section", "section", "category")
    if found:
        return found
    article = ld_article(items)
    value = article.get("articleSection") if article else None
    if isinstance(value, list):
        value = " / ".join(str(v) for v in value if v)
    return squash(str(value)) if value else None
