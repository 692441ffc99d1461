"""search / show: the researcher's commands. They parse options and print; the index engine
(``indexer.search``) does the searching and the corpus store holds the documents.

Kept import-light on purpose: this module loads no Whoosh at import time (``search --help``
stays fast) and nothing of the crawl (no Scrapy, Twisted or trafilatura, ever).
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from corpus.errors import EXIT_CODES_HELP, BadInputError
from corpus.models import Document
from search_cli.api import Index, build_request, needs_one_by_one, open_index
from search_cli.options import app, data_dir_option, format_option
from search_cli.output import csv_writer, display_width, highlight, to_json

if TYPE_CHECKING:
    from indexer.search import Hit, SearchRequest, SearchResult

SEARCH_FORMATS = ("table", "json", "jsonl", "csv", "trec", "urls")
HIT_FIELDS = ["rank", "id", "url", "title", "site", "published", "score", "procedures", "risks",
              "language", "category", "snippet", "also_at"]
DEFAULT_LIMIT, DEFAULT_BATCH_LIMIT = 10, 1000
SNIPPET_LINES = 2
_OPEN, _CLOSE = "\x01", "\x02"  # stand-ins for [[ ]] while wrapping: never in real text
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_TOKEN_RE = re.compile(rf"\s+|[{_CJK}]|[^\s{_CJK}]+")


# ---------------------------------------------------------------------------- rendering
def strip_markers(snippet: str) -> str:
    """Snippet text as written, for machines: the [[ ]] highlight markers removed."""
    return snippet.replace("[[", "").replace("]]", "")


def _wrap(snippet: str, width: int, max_lines: int) -> list[str]:
    """Greedy wrap by display width (CJK counts two and may break between characters)."""
    clean = snippet.replace(_OPEN, "").replace(_CLOSE, "")  # stray control chars in a page
    text = " ".join(clean.replace("[[", _OPEN).replace("]]", _CLOSE).split())
    lines: list[str] = []
    current: list[str] = []
    used = 0
    tokens = _TOKEN_RE.findall(text)
    for i, token in enumerate(tokens):
        visible = token.replace(_OPEN, "").replace(_CLOSE, "")
        if token.isspace() and not current:
            continue
        w = display_width(visible)
        if current and used + w > width:
            lines.append("".join(current).rstrip())
            current, used = [], 0
            if len(lines) == max_lines:
                rest = "".join(tokens[i:]).replace(_OPEN, "").replace(_CLOSE, "").strip()
                if rest:
                    lines[-1] += " …"
                return lines
            if token.isspace():
                continue
        current.append(token)
        used += w
    if current:
        lines.append("".join(current).rstrip())
    return lines


def render_snippet(snippet: str, *, width: int, max_lines: int = SNIPPET_LINES) -> list[str]:
    """Snippet lines for the table: marked terms highlighted on a terminal, plain otherwise.

    Markers can span a line break, so the highlight state is carried from line to line.
    """
    out = []
    marked = False
    for line in _wrap(snippet, width, max_lines):
        parts, buf = [], []
        for ch in line:
            if ch in (_OPEN, _CLOSE):
                if buf:
                    text = "".join(buf)
                    parts.append(highlight(text) if marked else text)
                    buf = []
                marked = ch == _OPEN
            else:
                buf.append(ch)
        if buf:
            text = "".join(buf)
            parts.append(highlight(text) if marked else text)
        out.append("".join(parts))
    return out


def hit_record(hit: Hit, rank: int, *, explain: bool = False) -> dict:
    """The machine view of a hit (json / jsonl / csv): stable field names, no markup."""
    record = {
        "rank": rank, "id": hit.id, "url": hit.url, "title": hit.title, "site": hit.site,
        "published": hit.published, "score": round(float(hit.score), 6),
        "procedures": list(hit.procedures), "risks": list(hit.risks),
        "language": hit.language, "category": hit.category,
        "snippet": strip_markers(hit.snippet), "also_at": list(hit.also_at),
    }
    if explain:
        record["explanation"] = hit.explanation
    return record


def _table_hit(hit: Hit, rank: int, *, explain: bool, width: int) -> list[str]:
    indent = " " * 5
    facts = [hit.site or "?", hit.published or "undated"]
    if hit.procedures:
        facts.append(", ".join(hit.procedures))
    facts.append(f"score {hit.score:.3g}")
    title = " ".join((hit.title or "(untitled)").split())  # one line, even if scraped with \n
    lines = [f"{rank:>3}. {title}", indent + " · ".join(facts)]
    snippet_width = max(20, width - len(indent))
    lines += [indent + s for s in render_snippet(hit.snippet, width=snippet_width)]
    if hit.also_at:
        lines.append(indent + "also at: " + ", ".join(hit.also_at))
    lines.append(indent + f"{hit.url}  [id {hit.id}]")
    if explain and hit.explanation:
        lines += [indent + "explain: " + row for row in hit.explanation.splitlines()]
    return lines


def _terminal_width() -> int:
    return max(40, min(shutil.get_terminal_size((100, 24)).columns, 120))


def _header(query: str, result: SearchResult, request: SearchRequest) -> list[str]:
    noun = "hit" if result.total == 1 else "hits"
    first = (request.page - 1) * request.limit + 1
    last = first + len(result.hits) - 1
    line = f"{result.total} {noun} for {query!r}"
    if result.hits:
        line += f" (showing {first}-{last}, by {request.sort})"
    elif result.total:
        line += f" (none on page {request.page})"
    lines = [line]
    if result.suggestion:
        lines.append(f"did you mean: {result.suggestion}?")
    return lines


def _trec_lines(qid: str, hits: Iterable[Hit], tag: str) -> Iterator[str]:
    """TREC run lines, deterministic: score (as printed) descending, ties by doc id; scores
    are clamped at zero because evaluation tools assume non-negative scores."""
    scored = sorted(((round(max(float(h.score), 0.0), 6), h.id) for h in hits),
                    key=lambda pair: (-pair[0], pair[1]))
    for rank, (score, doc_id) in enumerate(scored, 1):
        yield f"{qid} Q0 {doc_id} {rank} {score:.6f} {tag}"


def print_result(query: str, result: SearchResult, request: SearchRequest, fmt: str,
                 tag: str) -> None:
    """Print one query's result in ``fmt``."""
    offset = (request.page - 1) * request.limit
    ranked = list(enumerate(result.hits, offset + 1))
    if fmt == "table":
        width = _terminal_width()
        click.echo("\n".join(_header(query, result, request)))
        for rank, hit in ranked:
            click.echo("")
            click.echo("\n".join(_table_hit(hit, rank, explain=request.explain, width=width)))
    elif fmt == "json":
        click.echo(to_json({
            "query": query, "total": result.total, "suggestion": result.suggestion,
            "page": request.page, "limit": request.limit, "sort": request.sort,
            "hits": [hit_record(h, r, explain=request.explain) for r, h in ranked],
        }))
    elif fmt == "jsonl":
        for rank, hit in ranked:
            click.echo(to_json(hit_record(hit, rank, explain=request.explain), indent=None))
    elif fmt == "csv":
        write = csv_writer(HIT_FIELDS)
        for rank, hit in ranked:
            write(hit_record(hit, rank))
    elif fmt == "trec":
        for line in _trec_lines("1", result.hits, tag):
            click.echo(line)
    else:  # urls
        for _rank, hit in ranked:
            click.echo(hit.url)


# ---------------------------------------------------------------------------- batch mode
def _batch_hits(index: Index, pairs: list[tuple[str, str]],
                request: SearchRequest) -> Iterator[tuple[str, str, list[Hit]]]:
    """(qid, text, hits) per query. The engine's batch path is used when no filter asks for
    more; otherwise each query runs as a full request with the same filters."""
    texts = dict(pairs)
    if needs_one_by_one(request):
        for qid, text in pairs:
            yield qid, text, index.execute(replace(request, query=text)).hits
    else:
        for qid, hits in index.batch(pairs, limit=request.limit):
            yield qid, texts.get(qid, ""), hits


def print_batch(rows: Iterator[tuple[str, str, list[Hit]]], fmt: str, tag: str,
                explain: bool) -> None:
    """Stream batch results: one query's hits at a time, never the whole run in memory
    (except ``json``, which is one document by definition)."""
    if fmt == "json":
        click.echo(to_json([
            {"qid": qid, "query": text,
             "hits": [hit_record(h, r, explain=explain) for r, h in enumerate(hits, 1)]}
            for qid, text, hits in rows]))
        return
    write = csv_writer(["qid", *HIT_FIELDS]) if fmt == "csv" else None
    for qid, text, hits in rows:
        if fmt == "trec":
            for line in _trec_lines(qid, hits, tag):
                click.echo(line)
        elif fmt == "jsonl":
            for rank, hit in enumerate(hits, 1):
                click.echo(to_json({"qid": qid, **hit_record(hit, rank, explain=explain)},
                                   indent=None))
        elif write is not None:
            for rank, hit in enumerate(hits, 1):
                write({"qid": qid, **hit_record(hit, rank)})
        elif fmt == "urls":
            for hit in hits:
                click.echo(f"{qid}\t{hit.url}")
        else:
            click.echo(f"[{qid}] {text!r}: {len(hits)} hits")
            for rank, hit in enumerate(hits, 1):
                click.echo(f"{rank:>5}. {hit.score:8.3f}  {hit.id}  {' '.join(hit.title.split())}")


# ---------------------------------------------------------------------------- commands
SEARCH_EPILOG = EXIT_CODES_HELP + """

A search with zero hits exits 0. Query syntax errors (unbalanced quote or parenthesis,
unknown field) and bad dates exit 2; no index yet exits 3 (build it with `aesthetics index`).

\b
Query syntax: words (any of them, best first), "exact phrase",
AND / OR / NOT and parentheses, fields title: text: procedure: risk: site: lang:.
Synonyms from the vocabulary are added ("nose job" finds rhinoplasty).
Dates: YYYY-MM-DD, YYYY-MM or YYYY; --since and --until are inclusive.

\b
Example:
  aesthetics search "filler necrosis" --procedure hyaluronic-acid-filler --since 2023
  aesthetics search "nose job swelling" --format json | jq '.hits[].url'
  aesthetics search 双眼皮 --lang zh --format csv > hits.csv
  aesthetics search --queries queries.jsonl --format trec --tag bm25 > run.trec
"""


@click.command(epilog=SEARCH_EPILOG)
@click.argument("query", required=False)
@click.option("--procedure", "procedures", multiple=True, metavar="ID",
              help="Only documents about this procedure (canonical id; repeat to require all).")
@click.option("--risk", "risks", multiple=True, metavar="ID",
              help="Only documents mentioning this risk (canonical id; repeat to require all).")
@click.option("--site", metavar="NAME", help="Only documents from this site.")
@click.option("--since", metavar="DATE", help="Published on or after DATE (YYYY[-MM[-DD]]).")
@click.option("--until", metavar="DATE", help="Published on or before DATE (YYYY[-MM[-DD]]).")
@click.option("--lang", metavar="CODE",
              help="Only documents in this language (ISO 639 code: en, zh, fr, ...).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help=f"Hits per page [default: {DEFAULT_LIMIT}; {DEFAULT_BATCH_LIMIT} per query "
                   "with --queries].")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Page of results to show.")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance",
              show_default=True, help="Order by relevance or by publication date (newest first).")
@format_option(*SEARCH_FORMATS)
@click.option("--explain", is_flag=True, help="Show the score breakdown of each hit.")
@click.option("--all-copies", is_flag=True,
              help="List every copy of a syndicated article, not one hit per duplicate group.")
@click.option("--feedback", is_flag=True,
              help="Also search for words typical of the best matches (pseudo-relevance "
                   "feedback; always on with --queries): more recall, a little slower.")
@click.option("--queries", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help='Batch mode: JSONL lines {"_id": ..., "text": ...}; one result list per query.')
@click.option("--tag", default="aesthetics", show_default=True, metavar="NAME",
              help="Run tag (last column) of --format trec lines.")
@data_dir_option
def search(query: str | None, procedures: tuple[str, ...], risks: tuple[str, ...],
           site: str | None, since: str | None, until: str | None, lang: str | None,
           limit: int | None, page: int, sort: str, fmt: str, explain: bool, all_copies: bool,
           feedback: bool, queries: Path | None, tag: str) -> None:
    """Search the indexed articles; filter by procedure, risk, site, date and language.

    Prints a table for people, or json / jsonl / csv / trec / urls for scripts. Terms
    found are highlighted in the table when the output is a terminal.
    """
    if (query is None) == (queries is None):
        raise BadInputError("give either a QUERY or --queries FILE (see `aesthetics search --help`)")
    if tag.strip() != tag or not tag or any(ch.isspace() for ch in tag):
        raise BadInputError(f"--tag: {tag!r} must be one word (it is a TREC run column)")
    batch = queries is not None
    request = build_request(
        query or "", procedures=list(procedures), risks=list(risks), site=site, since=since,
        until=until, lang=lang, limit=limit or (DEFAULT_BATCH_LIMIT if batch else DEFAULT_LIMIT),
        page=page, sort=sort, explain=explain, all_copies=all_copies, feedback=feedback or batch)
    pairs = _read_queries(queries) if queries is not None else []
    with open_index(app().data_dir) as index:
        if batch:
            print_batch(_batch_hits(index, pairs, request), fmt, tag, explain)
        else:
            print_result(query or "", index.execute(request), request, fmt, tag)
    sys.stdout.flush()  # a closed pipe shows up here, inside the CLI's BrokenPipe handling


SHOW_EPILOG = EXIT_CODES_HELP + """

An unknown ID or URL exits 2; no corpus yet exits 3.

\b
Example:
  aesthetics show 3f2a9c0e1b7d4a55
  aesthetics show https://clinic.example/rhinoplasty-recovery --format json
  aesthetics show 3f2a9c0e1b7d4a55 --raw > page.html
  aesthetics show 3f2a9c0e1b7d4a55 --history
"""


def _show_text(doc: Document) -> list[str]:
    title = doc.title or "(untitled)"
    lines = [title, "=" * min(max(display_width(title), 3), 100)]
    facts = [("id", doc.id), ("url", doc.url), ("site", doc.site), ("author", doc.author),
             ("published", doc.published), ("modified", doc.modified),
             ("language", doc.language), ("category", doc.category),
             ("description", doc.description), ("fetched", doc.fetched_at),
             ("updated", doc.updated_at), ("indexed", doc.indexed_at),
             ("duplicate group", doc.dup_group)]
    lines += [f"{name + ':':<16} {value}" for name, value in facts if value]
    if doc.deleted:
        lines.append(f"{'status:':<16} DELETED (tombstone since {doc.deleted_at}); "
                     "kept for the record, not searchable")

    def counted(ids: list[str]) -> str:
        return ", ".join(f"{i} ({doc.mentions[i]})" if doc.mentions.get(i) else i for i in ids)

    lines.append(f"{'procedures:':<16} {counted(doc.procedures) or '-'}")
    lines.append(f"{'risks:':<16} {counted(doc.risks) or '-'}")
    if doc.evidence:
        lines.append("evidence:")
        lines += [f"  - {e.procedure} / {e.risk}: {e.sentence}" for e in doc.evidence]
    lines += ["", doc.text]
    return lines


@click.command(epilog=SHOW_EPILOG)
@click.argument("ident", metavar="ID|URL")
@format_option("text", "json", default="text")
@click.option("--raw", is_flag=True, help="Print the stored HTML of the page instead.")
@click.option("--history", is_flag=True, help="Print the earlier text versions, oldest first.")
@data_dir_option
def show(ident: str, fmt: str, raw: bool, history: bool) -> None:
    """Show one document: metadata, procedures, risks with their evidence, and full text.

    ID is a document id (as in search results) or its URL.
    """
    from corpus.store import Store

    if raw and history:
        raise BadInputError("--raw and --history cannot be combined: pick one")
    with Store.open(app().data_dir, create=False) as store:
        doc = store.get_document(ident)
        if raw:
            page = store.find_page(doc.url if doc else ident)
            if page is None or page.html is None:
                if doc is None:
                    raise BadInputError(f"no document or page with id or URL {ident!r}")
                raise BadInputError(f"{ident}: no stored HTML (the document was imported, "
                                    "not crawled)")
            if fmt == "json":
                click.echo(to_json(asdict(page)))
            else:
                click.echo(page.html, nl=not page.html.endswith("\n"))
            return
        if doc is None:
            raise BadInputError(f"no document with id or URL {ident!r} "
                                "(ids are listed by `aesthetics search`)")
        if history:
            _print_history(doc, store.history(doc.id), fmt)
            return
    if fmt == "json":
        click.echo(to_json(asdict(doc)))
    else:
        click.echo("\n".join(_show_text(doc)))


def _print_history(doc: Document, versions: list, fmt: str) -> None:
    current = {"since": doc.updated_at, "content_hash": doc.content_hash, "title": doc.title,
               "text": doc.text}
    if fmt == "json":
        click.echo(to_json({"id": doc.id, "url": doc.url,
                            "versions": [asdict(v) for v in versions], "current": current}))
        return
    count = len(versions)
    click.echo(f"{doc.title or '(untitled)'} [{doc.id}]: {count} earlier "
               f"version{'s' if count != 1 else ''}")
    for n, version in enumerate(versions, 1):
        click.echo(f"\n=== version {n} of {count}, replaced {version.changed_at} "
                   f"(hash {version.content_hash[:12]})")
        click.echo(version.title)
        click.echo(version.text)
    click.echo(f"\n=== current, since {doc.updated_at} (hash {doc.content_hash[:12]})")
    click.echo(doc.title)
    click.echo(doc.text)


def _read_queries(path: Path) -> list[tuple[str, str]]:
    from indexer.queries import read_queries

    try:
        return read_queries(path)
    except BadInputError as exc:
        raise BadInputError(f"--queries: {exc}") from None
