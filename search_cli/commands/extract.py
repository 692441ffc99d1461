"""``aesthetics extract``: run the cleaner on saved HTML or a live URL and print the result.

This is the tool an editor uses before adding a site: it shows exactly what the indexer would
store (title, date, category, text) without crawling anything. Live URLs are fetched with the
standard library only, so this command stays light and never starts Scrapy.
"""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from pathlib import Path

import click

from corpus.errors import BadInputError
from search_cli.options import format_option

MAX_BYTES = 10 * 1024 * 1024  # a page bigger than this is not an article page
TIMEOUT_S = 20
USER_AGENT = "aesthetics-search-extract/0.1 (+editor check)"
JSON_FIELDS = ("url", "title", "author", "published", "language", "category", "description",
               "text", "is_article")


def fetch(url: str) -> tuple[str, str]:
    """(final URL, decoded HTML) of a live page; a clear BadInputError on any failure."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            body = response.read(MAX_BYTES + 1)
            final = response.geturl()
            charset = response.headers.get_content_charset()
            encoding = (response.headers.get("Content-Encoding") or "").lower()
    except urllib.error.HTTPError as exc:
        raise BadInputError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BadInputError(f"cannot fetch {url}: {reason}") from exc
    if len(body) > MAX_BYTES:
        raise BadInputError(f"cannot fetch {url}: page is larger than {MAX_BYTES // 1048576} MB")
    if encoding == "gzip":  # urllib does not undo it; some servers compress unasked
        try:
            body = gzip.decompress(body)[: MAX_BYTES + 1]
        except (OSError, EOFError) as exc:
            raise BadInputError(f"cannot fetch {url}: broken gzip body") from exc
    return final, decode(body, charset)


def decode(body: bytes, charset: str | None = None) -> str:
    """Bytes to text: the declared charset, else UTF-8, else GB18030 (common on Chinese sites)."""
    for encoding in filter(None, (charset, "utf-8", "gb18030")):
        try:
            return body.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("utf-8", errors="replace")


def read_source(source: str, url: str | None) -> tuple[str, str]:
    """(page URL, HTML) for a file path or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        final, html = fetch(source)
        return url or final, html
    path = Path(source)
    if not path.is_file():
        raise BadInputError(f"no such file: {source} (give a saved HTML file or an http(s) URL)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {source}: {exc.strerror}") from exc
    return url or path.resolve().as_uri(), decode(data)


@click.command("extract")
@click.argument("sources", nargs=-1, required=True, metavar="FILE|URL...")
@click.option("--url", default=None,
              help="The page's original URL (for saved files: resolves links, dates in paths).")
@format_option("text", "json", default="text")
def extract(sources: tuple[str, ...], url: str | None, fmt: str) -> None:
    """Run the cleaner on saved HTML files or live URLs and print what it keeps.

    Prints title, metadata and main text; with --format json one object per source
    (a list when several are given).

    Example:

        aesthetics extract saved/page.html --url https://example.com/a/1.html

        aesthetics extract https://example.com/a/1.html --format json
    """
    from indexer.clean import clean
    from search_cli.output import to_json

    pages = [read_source(source, url) for source in sources]  # fail before printing anything
    results = [clean(html, page_url) for page_url, html in pages]
    if fmt == "json":
        rows = [{field: getattr(r, field) for field in JSON_FIELDS} for r in results]
        click.echo(to_json(rows[0] if len(rows) == 1 else rows))
        return
    for number, result in enumerate(results):
        if number:
            click.echo("\n" + "=" * 72 + "\n")
        for field in JSON_FIELDS[:-2] + ("is_article",):
            if field != "text":
                click.echo(f"{field}: {'' if getattr(result, field) is None else getattr(result, field)}")
        click.echo("")
        click.echo(result.text)
