"""The sources file: which sites to crawl and how, validated before any request is made.

Editors write it by hand, so every mistake is reported with the line and field it is on
("sources.toml line 12, site 'clinic-a', field 'max_pages': expected a positive integer")
rather than a traceback. The format is TOML (read with the standard ``tomllib``)::

    [defaults]            # optional: applies to every [[site]]
    delay = 1.0

    [[site]]
    name = "clinic-a"
    start_urls = ["https://clinic-a.example/articles/"]
    sitemap_urls = ["https://clinic-a.example/sitemap.xml"]
    allowed_domains = ["clinic-a.example"]
    include = ['/articles/']
    exclude = ['/tag/', '[?&]replytocom=']
    max_pages = 500
    max_depth = 6
    concurrency = 2
    language = "en"
    [site.rules]          # optional CSS selectors handed to the cleaner
    content = "article .entry-content"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from corpus.errors import BadInputError
from crawler.urls import canonicalize, netloc_of

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


@dataclass
class Source:
    """One site to crawl. Empty ``allowed_domains`` means the start URLs' own hosts."""

    name: str
    start_urls: list[str] = field(default_factory=list)
    sitemap_urls: list[str] = field(default_factory=list)
    allowed_domains: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=list)  # regexes; a URL must match one (if any)
    exclude: list[str] = field(default_factory=list)  # regexes; a URL matching one is skipped
    max_pages: int | None = None
    max_depth: int | None = None
    delay: float | None = None
    concurrency: int | None = None
    language: str | None = None  # a hint for the cleaner, e.g. "en" or "zh"
    rules: dict[str, str] = field(default_factory=dict)  # CSS selectors for the cleaner

    def __post_init__(self) -> None:
        if not self.allowed_domains:
            seen: list[str] = []
            for url in self.start_urls + self.sitemap_urls:
                scope = default_scope(url)
                if scope not in seen:
                    seen.append(scope)
            self.allowed_domains = seen
        self._include = [re.compile(p) for p in self.include]
        self._exclude = [re.compile(p) for p in self.exclude]

    def url_excluded(self, url: str) -> str | None:
        """Why ``url`` is outside this source's include/exclude patterns, else None."""
        for pattern in self._exclude:
            if pattern.search(url):
                return f"excluded by pattern {pattern.pattern!r}"
        if self._include and not any(p.search(url) for p in self._include):
            return "matches no include pattern"
        return None


def default_scope(url: str) -> str:
    """The allowed domain a start URL implies: its host without ``www.`` (so the site's own
    www/non-www redirect and its subdomains stay in scope), or — for an IP address, localhost
    or an explicit port — exactly ``host:port``, which keeps local servers apart."""
    netloc = netloc_of(url)
    host = urlsplit(url).hostname or ""
    if ":" in netloc or host == "localhost" or re.fullmatch(r"[\d.]+|\[?[0-9a-f:]+\]?", host):
        return netloc
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host


def source_from_url(url: str) -> Source:
    """An ad-hoc source for ``aesthetics crawl URL``: the URL's host, nothing else."""
    if not _is_http_url(url):
        raise BadInputError(f"not an http(s) URL: {url!r} (example: https://example.org/)")
    canon = canonicalize(url)
    return Source(name=netloc_of(canon), start_urls=[canon])


def sources_from_urls(urls: list[str]) -> list[Source]:
    """One source per host: two start URLs on one site share its page cap and politeness."""
    by_name: dict[str, Source] = {}
    for url in urls:
        source = source_from_url(url)
        if source.name in by_name:
            if source.start_urls[0] not in by_name[source.name].start_urls:
                by_name[source.name].start_urls.append(source.start_urls[0])
        else:
            by_name[source.name] = source
    return list(by_name.values())


# ---------------------------------------------------------------------- the file
_FIELDS: dict[str, str] = {
    "name": "str", "start_urls": "urls", "sitemap_urls": "urls", "allowed_domains": "strs",
    "include": "regexes", "exclude": "regexes", "max_pages": "posint", "max_depth": "natint",
    "delay": "nonneg", "concurrency": "posint", "language": "str", "rules": "rules",
}
_DEFAULT_FIELDS = {k for k in _FIELDS if k not in ("name", "start_urls", "sitemap_urls")}


class _Locator:
    """Finds the line a site's field is on, for error messages (tomllib gives no positions)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.site_lines = [i + 1 for i, line in enumerate(self.lines)
                           if re.match(r"^\s*\[\[\s*sites?\s*\]\]", line)]
        self.defaults_line = next((i + 1 for i, line in enumerate(self.lines)
                                   if re.match(r"^\s*\[\s*defaults\s*\]", line)), None)

    def line(self, site_index: int | None, key: str | None) -> int | None:
        start = self.defaults_line if site_index is None else (
            self.site_lines[site_index] if site_index < len(self.site_lines) else None)
        if start is None:
            return None
        if key is None:
            return start
        for number in range(start, len(self.lines)):  # the lines after the header
            text = self.lines[number]
            if re.match(r"^\s*\[\[?\s*(sites?|defaults)\s*\]", text):
                break
            if re.match(rf"^\s*{re.escape(key)}\s*=", text) or \
                    re.match(rf"^\s*\[\s*sites?\.{re.escape(key)}\s*\]", text):
                return number + 1
        return start


def _fail(path: Path, locator: _Locator, site_index: int | None, site_name: str | None,
          key: str | None, problem: str) -> BadInputError:
    line = locator.line(site_index, key)
    where = f"{path}" + (f" line {line}" if line else "")
    if site_index is None:
        where += ", [defaults]"
    else:
        where += f", site {site_name!r}" if site_name else f", site #{site_index + 1}"
    if key:
        where += f", field {key!r}"
    return BadInputError(f"{where}: {problem}")


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check(kind: str, value: object) -> tuple[object, str | None]:
    """Validate one field value; returns (normalised value, problem or None)."""
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            return value, "expected a non-empty string"
        return value.strip(), None
    if kind in ("strs", "urls", "regexes"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return value, "expected a list of strings"
        if kind == "urls":
            bad = [v for v in value if not _is_http_url(v)]
            if bad:
                return value, f"not an http(s) URL: {bad[0]!r}"
            return [canonicalize(v) for v in value], None
        if kind == "regexes":
            for pattern in value:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    return value, f"bad regular expression {pattern!r}: {exc}"
        return [v.strip() for v in value], None
    if kind in ("posint", "natint"):
        low = 1 if kind == "posint" else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return value, ("expected a positive integer" if low else
                           "expected an integer ≥ 0")
        return value, None
    if kind == "nonneg":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return value, "expected a number of seconds ≥ 0"
        return float(value), None
    if kind == "rules":
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return value, "expected a table of name = \"css selector\" strings"
        return dict(value), None
    raise AssertionError(kind)


def _unknown(key: str, allowed: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field{hint}; known fields: {', '.join(sorted(allowed))}"


def parse_sources(text: str, path: Path | str = "sources.toml") -> list[Source]:
    """Parse and validate a sources file's text; raises BadInputError naming line and field."""
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{path}: not valid TOML: {exc}") from None
    locator = _Locator(text)
    extra = set(data) - {"site", "sites", "defaults"}
    if extra:
        key = sorted(extra)[0]
        raise BadInputError(f"{path}: unknown top-level key {key!r}; expected [defaults] and "
                            "[[site]] tables")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise _fail(path, locator, None, None, None, "[defaults] must be a table")
    clean_defaults: dict[str, object] = {}
    for key, value in defaults.items():
        if key not in _DEFAULT_FIELDS:
            raise _fail(path, locator, None, None, key, _unknown(key, _DEFAULT_FIELDS))
        clean_defaults[key], problem = _check(_FIELDS[key], value)
        if problem:
            raise _fail(path, locator, None, None, key, problem)
    sites = data.get("site", data.get("sites", []))
    if "site" in data and "sites" in data:
        raise BadInputError(f"{path}: use either [[site]] or [[sites]], not both")
    if isinstance(sites, dict):
        raise BadInputError(f"{path}: write sites as [[site]] (an array of tables), not [site]")
    if not isinstance(sites, list) or not sites or not all(isinstance(s, dict) for s in sites):
        raise BadInputError(f"{path}: no sites: add at least one [[site]] table with "
                            "start_urls")
    sources: list[Source] = []
    names: set[str] = set()
    for index, site in enumerate(sites):
        name = site.get("name") if isinstance(site, dict) else None
        name = name if isinstance(name, str) else None
        values: dict[str, object] = dict(clean_defaults)
        for key, value in site.items():
            if key not in _FIELDS:
                raise _fail(path, locator, index, name, key, _unknown(key, set(_FIELDS)))
            values[key], problem = _check(_FIELDS[key], value)
            if problem:
                raise _fail(path, locator, index, name, key, problem)
        if not values.get("start_urls") and not values.get("sitemap_urls"):
            raise _fail(path, locator, index, name, None,
                        "needs start_urls or sitemap_urls (at least one URL to begin with)")
        if "name" not in values:
            first = (values.get("start_urls") or values.get("sitemap_urls"))[0]
            values["name"] = netloc_of(first)
        if not _NAME.match(str(values["name"])):
            raise _fail(path, locator, index, name, "name",
                        "use letters, digits, '.', '_', ':' or '-' (it is stored with every page)")
        if values["name"] in names:
            raise _fail(path, locator, index, name, "name",
                        f"duplicate site name {values['name']!r}")
        names.add(str(values["name"]))
        sources.append(Source(**values))  # type: ignore[arg-type]
    return sources


def load_sources(path: Path | str) -> list[Source]:
    """Read and validate a sources file (see the module docstring for the format)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"sources file not found: {path}") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a directory, not a sources file") from None
    except OSError as exc:
        raise BadInputError(f"cannot read sources file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") \
            from None
    return parse_sources(text, path)
