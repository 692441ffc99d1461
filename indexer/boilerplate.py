"""Boilerplate that aesthetics portals repeat on every page, and how we recognise it.

trafilatura already drops most navigation; what slips through on these sites is very regular:
a "Current location - Site - Section - Title" breadcrumb printed as a text line, blocks of
related procedures or "hot topics", share bars, consultation forms and comment threads. Rules
here are site-agnostic (class/id words and line shapes), so they hold on sites we never saw.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate, count
from operator import add

from lxml.html import HtmlElement

from indexer import dates

# A line that *is* a breadcrumb: a location label, then the crumbs.
BREADCRUMB_LINE = re.compile(
    r"^\s*(?:current\s+(?:location|position|page)|you\s+are\s+here|your\s+(?:location|position)"
    r"|当前位置|您的位置|你的位置|您现在的位置|你现在的位置|所在位置|当前页面)"
    r"\s*[:：\-–—>»›]\s*", re.IGNORECASE)
BREADCRUMB_LABELS = ("current location", "current position", "current page", "you are here",
                     "your location", "your position", "当前位置", "您的位置", "你的位置",
                     "现在的位置", "所在位置", "当前页面")


def has_breadcrumb_label(html: str) -> bool:
    """Does the raw page contain a location label at all? (substring tests: fast on 1 MB)."""
    if any(label in html for label in BREADCRUMB_LABELS[6:]):
        return True
    low = html.lower()
    return any(label in low for label in BREADCRUMB_LABELS[:6])


CRUMB_SEPARATORS = re.compile(r"\s+[-–—>»›/|→]\s+|\s*[>»›→＞〉]\s*|\s*/\s+")
HOME_NAMES = {"home", "homepage", "home page", "main page", "首页", "主页", "网站首页", "返回首页"}

# Words in class/id that mark a block as page furniture rather than article.
_FURNITURE_WORDS = {
    "breadcrumb", "breadcrumbs", "crumb", "crumbs", "share", "sharing", "sharebar", "sharethis",
    "related", "relatedposts", "relatedarticles", "recommend", "recommended", "hottopics",
    "hotnews", "hotlist", "comment", "comments", "commentlist", "consult", "consultation",
    "advert", "advertisement", "sponsor", "sponsored", "newsletter", "subscribe", "cookie",
    "cookies", "disqus", "yarpp", "outbrain", "taboola",
}
_WORD_SPLIT = re.compile(r"[^a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")

# Short lines that open a trailing block of furniture: everything after them goes.
_TAIL_MARKER = re.compile(
    r"^\s*(?:related\s+(?:articles?|posts?|procedures?|reading|stories|topics|content)"
    r"|hot\s+(?:topics?|articles?|tags?|searches)|you\s+may\s+also\s+(?:like|be\s+interested\s+in)"
    r"|recommended\s+(?:for\s+you|articles?|reading)|more\s+(?:articles|stories)\s+(?:like\s+this|from)"
    r"|leave\s+a\s+(?:reply|comment)|(?:\d+\s+)?comments?|share\s+this(?:\s+article)?"
    r"|free\s+consultation|book\s+a\s+consultation|online\s+consultation"
    r"|tell\s+us\s+what\s+you\s+think|join\s+the\s+(?:discussion|conversation)|tags?|标签"
    r"|相关(?:文章|阅读|推荐|项目|资讯|问答|新闻|整形项目)|热门(?:文章|推荐|话题|标签|资讯|项目)|推荐阅读"
    r"|猜你喜欢|网友评论|发表评论|最新评论|免费咨询|在线咨询|分享到)\s*[:：.…!]*\s*$", re.IGNORECASE)

# Lines that announce links to other articles ("READ MORE: ...", "相关阅读：..."): the line goes,
# and so do the link lines right after it.
_PROMO_MARKER = re.compile(
    r"^\s*(?:read\s+more|see\s+more|see\s+also|more\s+on\s+this(?:\s+story)?|don[’']?t\s+miss"
    r"|related(?:\s+(?:articles?|stories|coverage|links?|content|reading))?|also\s+read"
    r"|you\s+may\s+also\s+like|recommended(?:\s+for\s+you)?|trending(?:\s+now)?"
    r"|most\s+(?:popular|read)|more|explore\s+further|further\s+reading"
    r"|相关(?:文章|阅读|链接|推荐)|推荐阅读|延伸阅读|扩展阅读|猜你喜欢"
    r"|热门(?:文章|推荐|阅读))\s*(?:[:：.…!]+|$)", re.IGNORECASE)

# Copyright and rights lines at the foot of an article.
_COPYRIGHT_LINE = re.compile(
    r"^\s*(?:©|\(c\)\s*\d{4}|copyright\b|版权所有|版权声明|免责声明|disclaimer\s*[:：])"
    r"|all\s+rights\s+reserved", re.IGNORECASE)

# Calls to action: follow us, get the app, subscribe, scan the QR code.
_CALL_TO_ACTION = re.compile(
    r"^\s*(?:follow|like|subscribe|sign\s+up|join|download|get|listen|watch|click\s+here|tap\s+here"
    r"|share)\b.{0,160}\b(?:twitter|facebook|instagram|youtube|newsletter|app|podcast|channel"
    r"|linkedin|tiktok|pinterest|weibo|wechat|friends?|coverage)\b.{0,40}$"
    r"|^\s*if\s+you\s+(?:enjoyed|liked|found|appreciate)\b.{0,200}$"
    r"|^\s*(?:扫码|扫一扫|扫描二维码|长按识别|关注我们|关注微信|点击关注|微信扫一扫).{0,60}$",
    re.IGNORECASE)

# Meta lines of a byline block: "By Jane Doe", "来源：… 作者：… 发布时间：…", "Published 5 March 2024".
_META_LINE = re.compile(
    r"^\s*(?:(?:by|written\s+by|posted\s+by)\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}\s*$"
    r"|[（(【\[]?\s*(?:来源|本文来源|文章来源|稿件来源|作者|发布时间|发布日期|发表时间|时间|日期"
    r"|浏览(?:次数)?|阅读(?:次数|量)?|点击(?:数|量)?|编辑|责任编辑)\s*[:：].{0,100}$"
    r"|(?:published|posted|updated|last\s+updated|date)\s*(?:on)?\s*[:：]?\s*.{4,40}$)",
    re.IGNORECASE)

# Page controls printed as text ("【打印】【关闭窗口】", "Print | Email | Back to top"): a short line
# made only of these words goes. Words are checked one by one (a regex of repeated optional
# parts would backtrack exponentially on a line that almost matches).
_UI_WORDS = {"print", "email", "e-mail", "order", "reprints", "save", "bookmark", "tweet", "pin",
             "back", "top", "close", "window", "font", "size", "a+", "a-", "this", "article",
             "page", "it", "to", "share", "打印", "打印本页", "打印此文", "关闭", "关闭窗口", "关闭本页",
             "返回顶部", "返回首页", "返回列表", "收藏", "字号", "大", "中", "小", "复制链接", "纠错"}
_UI_STRONG = {"print", "email", "e-mail", "reprints", "bookmark", "tweet", "打印", "打印本页",
              "打印此文", "关闭窗口", "关闭本页", "返回顶部", "收藏", "字号", "复制链接", "纠错"}
_UI_SPLIT = re.compile(r"[\s\[\]【】()（）|/·:：]+")


def is_ui_line(line: str) -> bool:
    """Is this short line nothing but page-control labels?"""
    if len(line) > 60:
        return False
    words = [w for w in _UI_SPLIT.split(line.lower()) if w]
    return bool(words) and all(w in _UI_WORDS for w in words) and any(
        w in _UI_STRONG for w in words)


# Single lines that are furniture wherever they appear.
_FURNITURE_LINE = re.compile(
    r"^\s*(?:share\s+(?:this|on)\b.{0,40}|分享到[:：].{0,40}|(?:上一篇|下一篇|previous\s+article"
    r"|next\s+article|previous\s+post|next\s+post)\s*[:：].{0,120}|责任编辑\s*[:：].{0,20}"
    r"|tags?\s*[:：].{0,80}|标签\s*[:：].{0,80}|点击(?:咨询|预约).{0,30})\s*$", re.IGNORECASE)


def is_breadcrumb_line(line: str) -> bool:
    return bool(BREADCRUMB_LINE.match(line)) and len(line) < 300


def crumbs_of(text: str) -> list[str]:
    """Split breadcrumb text into its parts, without the location label."""
    text = BREADCRUMB_LINE.sub("", text.strip(), count=1)
    parts = [p.strip(" \t\u00a0-–—:：") for p in CRUMB_SEPARATORS.split(text)]
    return [p for p in parts if p]


def category_from_crumbs(parts: list[str], title: str | None, site_name: str | None) -> str | None:
    """The section path: crumbs without home, site name and the article's own title."""
    def same(a: str, b: str | None) -> bool:
        return bool(b) and _norm(a) == _norm(b)

    kept = [p for p in parts if p.lower() not in HOME_NAMES and not same(p, site_name)]
    # The first crumb of a breadcrumb is the site itself when it is named "...Network"/"...网".
    if len(kept) > 1 and len(parts) >= 3 and parts[0] == kept[0] and looks_like_site(kept[0]):
        kept = kept[1:]
    if kept and title and _is_title_crumb(kept[-1], title):
        kept = kept[:-1]
    kept = [p for p in kept if len(p) <= 80]
    return " / ".join(kept) or None


def _is_title_crumb(crumb: str, title: str) -> bool:
    """Is this crumb the article's title, perhaps shortened ("How to care for your sk...")?"""
    crumb_n, title_n = _norm(crumb), _norm(title)
    if not crumb_n or not title_n:
        return False
    if crumb_n == title_n:
        return True
    shorter, longer = sorted((crumb_n, title_n), key=len)
    return longer.startswith(shorter) and len(shorter) >= max(12, 0.6 * len(longer))


def looks_like_site(part: str) -> bool:
    low = part.lower()
    return bool(re.search(r"\b(?:network|net|online|portal|website|\.com|\.cn)\b", low)
                or part.endswith(("网", "网站", "门户", "在线")))


def _norm(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


# Substrings that cover every name we act on ("comment" covers "comments", ...).
_QUICK_WORDS = ("crumb", "author", "byline", "share", "sharing", "related", "recommend",
                "hottopics", "hotnews", "hotlist", "comment", "consult", "advert", "sponsor",
                "newsletter", "subscribe", "cookie", "disqus", "yarpp", "outbrain", "taboola")


@dataclass
class Scan:
    """Elements named (by class or id) as furniture, breadcrumbs or bylines: one pass per page."""

    furniture: list[HtmlElement] = field(default_factory=list)
    crumbs: list[HtmlElement] = field(default_factory=list)
    bylines: list[HtmlElement] = field(default_factory=list)


def scan(body: HtmlElement | None) -> Scan:
    """Sort the body's class/id-bearing elements once.

    One regex pass over all their names joined (offsets map hits back to elements) costs a
    fraction of testing each element in Python, which matters on 5,000-element pages.
    """
    found = Scan()
    if body is None:
        return found
    values = body.xpath(".//@class | .//@id")  # strings from C; each knows its element
    blob = "\n".join(values).lower()
    # where each value starts in the blob: its length sum so far, plus one newline per value
    starts = list(map(add, accumulate(map(len, values), initial=0), count()))
    hits: set[int] = set()
    for word in _QUICK_WORDS:  # str.find per word: far quicker than one big alternation
        at = blob.find(word)
        while at != -1:
            hits.add(bisect_right(starts, at) - 1)
            at = blob.find(word, at + len(word))
    done: set[HtmlElement] = set()
    for index in sorted(hits):
        el = values[index].getparent()
        if el in done:
            continue
        done.add(el)
        name = (el.get("class") or "") + " " + (el.get("id") or "")
        low = name.lower()
        if "crumb" in low:
            found.crumbs.append(el)
        if ("author" in low or "byline" in low) and len(found.bylines) < 10:
            found.bylines.append(el)
        if el.tag not in ("html", "body", "main", "article") and _is_furniture(name):
            found.furniture.append(el)
    return found


def _is_furniture(attrs: str) -> bool:
    low = _CAMEL.sub(" ", attrs).lower()
    return any(word in _FURNITURE_WORDS for word in _WORD_SPLIT.split(low))


def furniture_words(el: HtmlElement) -> bool:
    """Does the element's class or id name it as furniture (share bar, related list, ...)?"""
    attrs = (el.get("class") or "") + " " + (el.get("id") or "")
    return bool(attrs.strip()) and _is_furniture(attrs)


def _is_meta_line(line: str) -> bool:
    """A byline/date/source line of the article header (not a sentence of the article)."""
    if len(line) > 140 or not _META_LINE.match(line):
        return False
    low = line.lower()
    if low.startswith(("published", "posted", "updated", "last updated", "date")):
        return dates.parse_date(line) is not None and len(line.split()) <= 8
    return True


def tidy_lines(lines: list[str], is_link: Callable[[str], bool] | None = None) -> list[str]:
    """Drop breadcrumb, furniture, promo and copyright lines; cut a trailing related block.

    ``is_link(line)`` tells whether a line is exactly a link's text on the page; it lets a
    promo marker take the link list under it along.
    """
    total = sum(len(line) for line in lines) or 1
    out: list[str] = []
    seen = 0
    in_promo = False
    for line in lines:
        if seen > total * 0.5 and len(line) <= 60 and _TAIL_MARKER.match(line):
            break
        seen += len(line)
        if in_promo and len(line) <= 160 and is_link is not None and is_link(line):
            continue
        in_promo = False
        if len(line) <= 250 and (is_breadcrumb_line(line) or _FURNITURE_LINE.match(line)
                                 or _COPYRIGHT_LINE.search(line)
                                 or _CALL_TO_ACTION.search(line) or _is_meta_line(line)
                                 or is_ui_line(line)):
            continue
        promo = _PROMO_MARKER.match(line) if len(line) <= 200 else None
        if promo:
            rest = line[promo.end():].strip()
            if not rest or len(rest) <= 160:
                in_promo = not rest
                continue
        out.append(line)
    return out
