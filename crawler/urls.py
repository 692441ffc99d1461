"""URL identity and scope: pure functions, no Scrapy, so every rule is unit-testable.

A page is stored under its *canonical* URL, so the same article reached through a tracking
link, a different host case or a trailing fragment lands on one row. The rules are deliberately
conservative: they only drop what never changes the content (fragments, tracking and session
parameters, default ports) and never guess at path case or ``index.html`` equivalence.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that identify a visitor or a campaign, never the content.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
    "igshid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "spm", "share_token",
    "sessionid", "session_id", "sid", "phpsessid", "jsessionid", "aspsessionid", "cfid",
    "cftoken", "ref_src", "ref_url",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")

# Extensions that are never HTML articles: skipped before any request is made.
SKIP_EXTENSIONS = frozenset({
    # documents
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "rtf", "epub", "ps",
    # images
    "jpg", "jpeg", "png", "gif", "webp", "bmp", "svg", "ico", "tif", "tiff", "avif", "heic",
    # audio / video
    "mp3", "mp4", "m4a", "m4v", "avi", "mov", "wmv", "flv", "webm", "ogg", "wav", "mkv",
    # archives and binaries
    "zip", "rar", "7z", "gz", "tgz", "bz2", "xz", "tar", "exe", "msi", "dmg", "apk", "iso", "bin",
    # assets
    "css", "js", "json", "woff", "woff2", "ttf", "eot", "otf", "rss", "atom",
})

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SESSION_IN_PATH = re.compile(r";(jsessionid|phpsessid|sid)=[^/?#]*", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


def is_tracking_param(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def _normalise_path(path: str) -> str:
    """Resolve ``.``/``..`` segments, re-quote consistently, collapse duplicate slashes."""
    if not path:
        return "/"
    path = _SESSION_IN_PATH.sub("", path)
    trailing = path.endswith("/")
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):
        resolved = "/" + resolved.lstrip("/")
    if resolved == ".":
        resolved = "/"
    if trailing and not resolved.endswith("/"):
        resolved += "/"
    # Unquote then quote once: %7E and ~ are the same URL; keep reserved characters escaped.
    return quote(unquote(resolved), safe="/:@!$&'()*+,;=-._~")


def canonicalize(url: str, base: str | None = None) -> str:
    """The identity of ``url``: what two links must share to be the same page.

    Lowercases scheme and host, drops the default port, the fragment, tracking and session
    parameters and empty queries, sorts the remaining query, resolves dot segments. A bare
    host gets the root path ``/``; other paths keep their trailing slash as written, because
    ``/a`` and ``/a/`` can be different documents on a real server.
    """
    url = url.strip()
    if base is not None:
        if url.startswith("/") and not url.startswith("//"):
            url = _origin(base) + url  # the common case, without a full urljoin
        elif not url[:8].lower().startswith(("http://", "https://")):
            url = urljoin(base, url)
    return _canonical(url)


@lru_cache(maxsize=4096)
def _origin(base: str) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


@lru_cache(maxsize=65536)  # navigation links repeat on every page of a site
def _canonical(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{netloc}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not is_tracking_param(k)]
    query = urlencode(sorted(pairs), quote_via=quote, safe="-._~")
    return urlunsplit((scheme, netloc, _normalise_path(parts.path), query, ""))


def netloc_of(url: str) -> str:
    """``host[:port]`` as in a canonical URL: the unit of politeness and of a default scope."""
    return urlsplit(canonicalize(url)).netloc


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_http(url: str) -> bool:
    return url[:8].lower().startswith(("http://", "https://"))


def skipped_extension(url: str) -> str | None:
    """The extension when ``url`` obviously is not HTML (``.pdf``, ``.jpg`` …), else None."""
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    if "." not in last:
        return None
    ext = last.rsplit(".", 1)[-1].lower()
    return ext if ext in SKIP_EXTENSIONS else None


def domain_allowed(url: str, allowed: list[str]) -> bool:
    """True when the URL's host is one of ``allowed`` or a subdomain of one.

    An entry with a port (``127.0.0.1:8080``) must match host and port exactly; that is what
    keeps two local test servers on one host apart.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = netloc_of(url)
    for entry in allowed:
        entry = entry.lower().strip().rstrip(".")
        if ":" in entry:
            if netloc == entry:
                return True
        elif host == entry or host.endswith("." + entry):
            return True
    return False


def path_template(url: str) -> str:
    """``host/path`` with every run of digits replaced by ``#``: pages of one template."""
    parts = urlsplit(url)
    return parts.netloc + _DIGITS.sub("#", parts.path)


class TrapGuard:
    """Counts URL variations so endless spaces (calendars, sort/filter permutations) stop.

    Two caps: distinct query strings per path (``?sort=…&page=…`` permutations) and distinct
    URLs of one numeric path template (``/cal/2024/05/#``) *found on a page of that same
    template* — the signature of a calendar's "next day" chain. Articles with numeric ids
    found on listing pages never count against the second cap, however many there are.
    Counts live in memory for one run; they are bounded by the number of distinct paths.
    """

    def __init__(self, max_query_variants: int = 50, max_template_variants: int = 1000):
        self.max_query_variants = max_query_variants
        self.max_template_variants = max_template_variants
        self._queries: dict[str, int] = defaultdict(int)
        self._templates: dict[str, int] = defaultdict(int)

    def admit(self, url: str, found_on: str | None = None) -> str | None:
        """Count ``url`` (canonical, not seen before) found on page ``found_on``; returns a
        reason when it is a trap."""
        parts = urlsplit(url)
        if parts.query:
            key = parts.netloc + parts.path
            if self._queries[key] >= self.max_query_variants:
                return f"query-variation cap ({self.max_query_variants}) for {parts.path}"
            self._queries[key] += 1
        template = path_template(url)
        if "#" in template and found_on is not None and path_template(found_on) == template:
            if self._templates[template] >= self.max_template_variants:
                return f"path-variation cap ({self.max_template_variants}) for {template}"
            self._templates[template] += 1
        return None
