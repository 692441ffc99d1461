"""Boilerplate that aesthetics portals repeat on every page, and how we recognise it.

trafilatura already drops most navigation; what slips through on these sites is very regular:
a "Current location - Site - Section - Title" breadcrumb printed as a text line, blocks of
related procedures or "hot topics", share bars, consultation forms and comment threads. Rules
here are site-agnostic (class/id words and line shapes), so they hold on sites we never saw.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

# A line that *is* a breadcrumb: a location label, then the crumbs.
BREADCRUMB_LINE = re.compile(
    r"^\s*(?:current\s+(?:location|position|page)|you\s+are\s+here|your\s+(?:location|position)"
    r"|当前位置|您的位置|你的位置|您现在的位置|你现在的位置|所在位置|当前页面)"
    r"\s*[:：\-–—>»›]\s*", re.IGNORECASE)
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
    r"|相关(?:文章|阅读|推荐|项目|资讯|问答|新闻|整形项目)|热门(?:文章|推荐|话题|标签|资讯|项目)|推荐阅读"
    r"|猜你喜欢|网友评论|发表评论|最新评论|免费咨询|在线咨询|分享到)\s*[:：]?\s*$", re.IGNORECASE)

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
    if len(kept) > 1 and len(parts) >= 3 and parts[0] == kept[0] and _looks_like_site(kept[0]):
        kept = kept[1:]
    if kept and title and (same(kept[-1], title) or _norm(title).startswith(_norm(kept[-1]))
                           or _norm(kept[-1]).startswith(_norm(title)[:20])):
        kept = kept[:-1]
    kept = [p for p in kept if len(p) <= 80]
    return " / ".join(kept) or None


def _looks_like_site(part: str) -> bool:
    low = part.lower()
    return bool(re.search(r"\b(?:network|net|online|portal|website|\.com|\.cn)\b", low)
                or part.endswith(("网", "网站", "门户", "在线")))


def _norm(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


def furniture_words(el: HtmlElement) -> bool:
    """Does the element's class or id name it as furniture (share bar, related list, ...)?"""
    attrs = (el.get("class") or "") + " " + (el.get("id") or "")
    if not attrs.strip():
        return False
    attrs = _CAMEL.sub(" ", attrs).lower()
    return any(word in _FURNITURE_WORDS for word in _WORD_SPLIT.split(attrs))


def tidy_lines(lines: list[str]) -> list[str]:
    """Drop breadcrumb and furniture lines; cut a trailing related/comments block."""
    total = sum(len(line) for line in lines) or 1
    out: list[str] = []
    seen = 0
    for line in lines:
        if seen > total * 0.5 and len(line) <= 60 and _TAIL_MARKER.match(line):
            break
        seen += len(line)
        if is_breadcrumb_line(line) or _FURNITURE_LINE.match(line):
            continue
        out.append(line)
    return out
