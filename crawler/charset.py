"""Bytes to text for HTML: header charset, then ``<meta>``, then detection.

Chinese sites often send GBK or GB2312 without saying so in the header, and generic
detectors confuse GBK with other legacy encodings. Every GB-family label, declared or
detected, is decoded as GB18030 — a strict superset of both — so characters outside GB2312
that real GB2312-labelled pages use anyway still come out right.
"""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_GB_FAMILY = {"gbk", "gb2312", "gb_2312", "gb_2312-80", "x-gbk", "cp936", "ms936",
              "windows-936", "euc-cn", "csgb2312", "iso-ir-58", "gb18030", "chinese"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))


def normalise_charset(label: str | None) -> str | None:
    """A Python codec name for a charset label, GB family → gb18030; None if unknown."""
    if not label:
        return None
    low = label.strip().strip("\"'").lower()
    if low in _GB_FAMILY:
        return "gb18030"
    if low in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"):
        return "cp1252"  # what browsers do: the WHATWG encoding standard maps these to it
    try:
        return codecs.lookup(low).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return normalise_charset(match.group(1)) if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares in its first few kilobytes (``<meta charset>`` or
    ``http-equiv="Content-Type"``)."""
    match = _META_CHARSET.search(body[:4096])
    return normalise_charset(match.group(1).decode("ascii", "replace")) if match else None


def _gb_pair_share(body: bytes) -> float:
    """Share of non-ASCII bytes that form GB2312-range double-byte pairs (both ≥ 0xA1)."""
    high = paired = 0
    i, n = 0, len(body)
    while i < n:
        b = body[i]
        if b < 0x80:
            i += 1
            continue
        if 0xA1 <= b <= 0xF7 and i + 1 < n and body[i + 1] >= 0xA1:
            high += 2
            paired += 2
            i += 2
            continue
        high += 1
        i += 1
    return paired / high if high else 0.0


_OTHER_DOUBLE_BYTE = ("euc_kr", "cp949", "shift_jis", "cp932", "euc_jp", "big5", "big5hkscs")


def detect_charset(body: bytes) -> str:
    """Guess for undeclared bodies: UTF-8 if it decodes, GB18030 if the non-ASCII bytes are
    GB-style character pairs, else a statistical guess (charset-normalizer)."""
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body[:65536]).best()
    guess = normalise_charset(best.encoding) if best else None
    if _gb_pair_share(body[:65536]) >= 0.9:
        # Statistical detectors confuse GBK with other legacy encodings; only a confident
        # vote for another CJK double-byte encoding overrides the byte pattern.
        return guess if guess in _OTHER_DOUBLE_BYTE else "gb18030"
    return guess or "cp1252"


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode an HTML body; returns (text, charset used). Never raises: undecodable bytes
    become U+FFFD rather than losing the page."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(name, errors="replace"), name
    charset = header_charset(content_type) or meta_charset(body) or detect_charset(body)
    try:
        return body.decode(charset, errors="replace"), charset
    except LookupError:
        return body.decode("utf-8", errors="replace"), "utf-8"


def looks_binary(body: bytes, sample: int = 8192) -> bool:
    """Bytes that no HTML page consists of: NULs or many control characters in the first
    ``sample`` bytes. Servers send images and archives as text/html; stored as a "page" they
    would only feed the cleaner mojibake. UTF-16 (with its BOM) is text, not binary."""
    head = body[:sample]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return bool(head) and controls / len(head) > 0.05
