"""index / eval: build the search index from the corpus, and measure its ranking.

Whoosh is imported only inside the commands, so ``aesthetics --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from corpus.errors import EXIT_CODES_HELP
from search_cli.options import app, data_dir_option, format_option
from search_cli.output import emit, emit_object, info, progress


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--rebuild", is_flag=True,
              help="Rebuild from scratch into a new directory, then swap it in atomically.")
@click.option("--wait", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for another index writer before giving up (exit 4).")
@format_option("table", "json")
@data_dir_option
def index(rebuild: bool, wait: float, fmt: str) -> None:
    """Update the search index with documents added, changed or deleted since the last run.

    Near-duplicate copies are grouped first (search shows one hit per group). Searches keep
    working while the index is updated; a killed run leaves the previous index usable.

    \b
    Example:
      aesthetics index
      aesthetics index --rebuild --format json
    """
    from indexer.build import update_index

    report = update_index(app().data_dir, rebuild=rebuild, progress=progress, wait=wait)
    progress("")
    emit_object(asdict(report) | {"seconds": round(report.seconds, 3)}, fmt)
    info(f"{'rebuilt' if report.rebuilt else 'updated'} index: {report.added} added, "
         f"{report.updated} updated, {report.deleted} deleted, {report.total} documents")


@click.command("eval", epilog=EXIT_CODES_HELP)
@click.option("--queries", "queries_path", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help='Queries: JSONL lines {"_id": ..., "text": ...} (or TSV id<TAB>text).')
@click.option("--qrels", "qrels_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Relevance judgments: BEIR TSV (query-id, corpus-id, score) or TREC qrels.")
@click.option("--metric", "metrics", multiple=True,
              help="ir-measures metric, repeatable (default: nDCG@10, R@100, AP).")
@click.option("--depth", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Documents retrieved per query.")
@format_option("table", "json")
@data_dir_option
def eval_cmd(queries_path: str, qrels_path: str, metrics: tuple[str, ...], depth: int,
             fmt: str) -> None:
    """Evaluate the index's ranking: run the judged queries and compute metrics.

    Only queries that appear in the qrels with a relevant document are run; the others in
    the queries file are ignored, so one queries file serves every split.

    \b
    Example:
      aesthetics import ../shared/benchmarks/ir/med/corpus.jsonl.gz --format beir
      aesthetics index
      aesthetics eval --queries ../shared/benchmarks/ir/med/queries.jsonl \\
          --qrels ../shared/benchmarks/ir/med/qrels/dev.tsv --metric nDCG@10 --metric R@100
    """
    from indexer.evaluate import DEFAULT_METRICS, evaluate, parse_metrics, read_qrels, read_queries
    from indexer.search import Searcher

    names = list(metrics) or list(DEFAULT_METRICS)
    parse_metrics(names)  # fail on a bad metric before any work
    qrels = read_qrels(Path(qrels_path))
    queries = read_queries(Path(queries_path), only=qrels)
    with Searcher(app().data_dir) as searcher:
        result = evaluate(searcher, queries, qrels, names, depth=depth)
    rows = [{"metric": name, "value": round(value, 4)} for name, value in result.metrics.items()]
    if fmt == "json":
        emit_object({"metrics": {r["metric"]: r["value"] for r in rows},
                     "queries": result.queries}, "json")
    else:
        emit(rows, "table", ["metric", "value"])
    info(f"{result.queries} queries evaluated")
