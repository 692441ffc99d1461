"""Evaluate ranking against relevance judgments with ir-measures (no hand-written metrics).

Conventions follow the collections' README: queries without any relevant document are left
out, a query with no results scores 0, the run holds the top 1000 documents per query.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ir_measures

from corpus.errors import BadInputError
from indexer.queries import open_text, read_queries  # noqa: F401 - read_queries is part of this API

DEFAULT_METRICS = ("nDCG@10", "R@100", "AP")
RUN_DEPTH = 1000


@dataclass
class Evaluation:
    """Aggregate metrics of one run plus the latency of each query (seconds)."""

    metrics: dict[str, float]
    queries: int
    latencies: list[float] = field(default_factory=list)


def parse_metrics(names: Iterable[str]) -> list:
    """ir-measures metric objects; a bad name is bad input (exit 2), naming the culprit."""
    parsed = []
    for name in names:
        try:
            parsed.append(ir_measures.parse_measure(name))
        except (ValueError, NameError, SyntaxError, TypeError, AttributeError) as exc:
            raise BadInputError(
                f"unknown metric {name!r} ({exc}); examples: nDCG@10, R@100, AP, P@5, RR") from None
    return parsed


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (header ``query-id corpus-id score``) or TREC qrels (``qid 0 doc rel``)."""
    qrels: dict[str, dict[str, int]] = {}
    with open_text(Path(path)) as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or (lineno == 1 and parts[0] == "query-id"):
                continue
            if len(parts) == 4:
                parts = [parts[0], parts[2], parts[3]]
            if len(parts) != 3:
                raise BadInputError(f"{path}:{lineno}: expected 'query-id corpus-id score'")
            try:
                score = int(float(parts[2]))
            except ValueError:
                raise BadInputError(f"{path}:{lineno}: score {parts[2]!r} is not a number") from None
            qrels.setdefault(parts[0], {})[parts[1]] = score
    if not qrels:
        raise BadInputError(f"{path}: no relevance judgments found")
    return qrels


def evaluate(searcher, queries: list[tuple[str, str]], qrels: dict[str, dict[str, int]],
             metrics: Iterable[str] = DEFAULT_METRICS, depth: int = RUN_DEPTH) -> Evaluation:
    """Run ``queries`` through ``searcher.batch`` and score the run against ``qrels``."""
    measures = parse_metrics(metrics)
    judged = {q: docs for q, docs in qrels.items() if any(v > 0 for v in docs.values())}
    todo = [(q, t) for q, t in queries if q in judged]
    if not todo:
        raise BadInputError("no query in the queries file has a relevance judgment in the qrels")
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    batches = searcher.batch(todo, limit=depth)
    while True:
        start = time.perf_counter()
        try:
            qid, hits = next(batches)
        except StopIteration:
            break
        latencies.append(time.perf_counter() - start)
        # pytrec_eval skips queries absent from the run; an empty answer must count as 0.
        run[qid] = {h.id: h.score for h in hits} or {"__no_result__": 0.0}
    scoring_qrels = {q: judged[q] for q, _ in todo}
    values = ir_measures.calc_aggregate(measures, scoring_qrels, run)
    result = {str(m): float(values.get(m, 0.0)) for m in measures}
    return Evaluation(metrics=result, queries=len(todo), latencies=latencies)
