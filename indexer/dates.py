"""Dates as people write them on aesthetics pages, turned into ISO ``YYYY-MM-DD``.

htmldate covers structured markup well but misses the forms Chinese portals print in their
bylines ("2024年3月5日", "发布时间：2024-03-05") and is ambiguous on "05/03/2024". These small
parsers are the part we own: each returns ``None`` rather than guessing a wrong calendar day.
"""

from __future__ import annotations

import re
from datetime import date

MIN_YEAR = 1995  # the web portals we index did not publish before this
MAX_YEAR = 2100

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))

# 2024-03-05, 2024/3/5, 2024.03.05, 2024-03-05T10:00:00Z
_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
# 2024年3月5日 (also with spaces or full-width digits, normalised before matching)
_ZH = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
# March 5, 2024 / Mar. 5th 2024
_EN_MDY = re.compile(
    rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.IGNORECASE)
# 5 March 2024 / 5th of March, 2024
_EN_DMY = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.IGNORECASE)
# 05/03/2024 or 05.03.2024 or 05-03-2024: day first unless that cannot be
_NUMERIC_DMY = re.compile(r"(?<![\d/.-])(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?![\d/.-])")
# /2024/03/05/ or /20240305 in URLs
_URL_YMD = re.compile(r"(?<!\d)((?:19|20)\d{2})[/_-]?(\d{2})[/_-]?(\d{2})(?!\d)")

_FULLWIDTH = str.maketrans("０１２３４５６７８９／－．：", "0123456789/-.:")


def make_date(year: int, month: int, day: int) -> str | None:
    """ISO string for a real calendar day in our plausible range, else ``None``."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_date(text: str | None, *, month_first: bool = False) -> str | None:
    """The first date written in ``text`` as ISO; ``None`` if there is none.

    ``month_first`` decides "05/03/2024" for US-style pages; an impossible reading (a month
    over 12) is swapped either way, because that is unambiguous.
    """
    if not text:
        return None
    text = text.translate(_FULLWIDTH)[:2000]
    found: list[tuple[int, str]] = []
    for match in _ISO.finditer(text):
        iso = make_date(int(match[1]), int(match[2]), int(match[3]))
        if iso:
            found.append((match.start(), iso))
            break
    for match in _ZH.finditer(text):
        iso = make_date(int(match[1]), int(match[2]), int(match[3]))
        if iso:
            found.append((match.start(), iso))
            break
    for match in _EN_MDY.finditer(text):
        iso = make_date(int(match[3]), _MONTHS[match[1].lower()], int(match[2]))
        if iso:
            found.append((match.start(), iso))
            break
    for match in _EN_DMY.finditer(text):
        iso = make_date(int(match[3]), _MONTHS[match[2].lower()], int(match[1]))
        if iso:
            found.append((match.start(), iso))
            break
    for match in _NUMERIC_DMY.finditer(text):
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        day, month = (second, first) if month_first else (first, second)
        if month > 12:
            day, month = month, day
        iso = make_date(year, month, day)
        if iso:
            found.append((match.start(), iso))
            break
    return min(found)[1] if found else None


def date_from_url(url: str | None) -> str | None:
    """A date in the URL path (``/2024/03/05/slug``, ``/20240305/``), else ``None``."""
    if not url:
        return None
    path = url.split("?", 1)[0].split("://", 1)[-1]
    path = path.split("/", 1)[1] if "/" in path else ""
    for match in _URL_YMD.finditer(path):
        iso = make_date(int(match[1]), int(match[2]), int(match[3]))
        if iso:
            return iso
    return None


_PUBLISHED_LABEL = re.compile(
    r"(?:published|posted|date|发布时间|发布日期|发表时间|发表于|发布于|时间|日期|更新时间)"
    r"\s*[:：]?\s*", re.IGNORECASE)
_MODIFIED_LABEL = re.compile(
    r"(?:updated|last modified|modified|更新时间|更新于|修改时间)\s*(?:on)?\s*[:：]?\s*",
    re.IGNORECASE)


def labelled_date(text: str, *, modified: bool = False, month_first: bool = False) -> str | None:
    """A date right after a label such as "Published:" / "发布时间：" (or "Updated:")."""
    label = _MODIFIED_LABEL if modified else _PUBLISHED_LABEL
    for match in label.finditer(text[:5000]):
        found = parse_date(text[match.end():match.end() + 40], month_first=month_first)
        if found:
            return found
    return None
