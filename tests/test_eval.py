"""Evaluation workflow: BEIR import -> index -> eval with ir-measures, and its bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.errors import BadInputError
from indexer.evaluate import parse_metrics, read_qrels, read_queries

MED = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "ir" / "med"


@pytest.mark.skipif(not MED.exists(), reason="shared MED collection not available")
def test_med_end_to_end_through_the_cli(data_dir: Path, cli) -> None:
    dd = ["--data-dir", str(data_dir)]
    assert cli("import", str(MED / "corpus.jsonl.gz"), "--format", "beir", *dd).exit_code == 0
    assert cli("index", *dd).exit_code == 0
    result = cli("eval", "--queries", str(MED / "queries.jsonl"), "--qrels",
                 str(MED / "qrels" / "dev.tsv"), "--metric", "nDCG@10", "--metric", "R@100",
                 "--format", "json", *dd)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["queries"] == 15
    assert payload["metrics"]["nDCG@10"] > 0.55  # plain BM25 measures ~0.62 here
    assert 0 < payload["metrics"]["R@100"] <= 1
    table = cli("eval", "--queries", str(MED / "queries.jsonl"), "--qrels",
                str(MED / "qrels" / "dev.tsv"), *dd)
    assert "nDCG@10" in table.stdout and "AP" in table.stdout


def test_eval_without_index_is_nothing_yet(tmp_path: Path, data_dir: Path, cli) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"_id": "1", "text": "nose"}\n')
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n")
    result = cli("eval", "--queries", str(queries), "--qrels", str(qrels),
                 "--data-dir", str(data_dir))
    assert result.exit_code == 3 and "aesthetics index" in result.output
    assert "Example" in cli("eval", "--help").output


def test_readers_and_errors(tmp_path: Path) -> None:
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\nq2\td3\t1\n")
    assert read_qrels(qrels) == {"q1": {"d1": 2, "d2": 0}, "q2": {"d3": 1}}
    trec = tmp_path / "qrels.trec"
    trec.write_text("q1 0 d1 1\n")
    assert read_qrels(trec) == {"q1": {"d1": 1}}
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"_id": "q1", "text": "a"}\n{"_id": "q9", "text": "b"}\n')
    assert read_queries(queries, only={"q1"}) == [("q1", "a")]
    queries.write_text("{broken\n")
    with pytest.raises(BadInputError, match="q.jsonl:1"):
        read_queries(queries)
    qrels.write_text("q1 d1 high\n")
    with pytest.raises(BadInputError, match="not a number"):
        read_qrels(qrels)
    with pytest.raises(BadInputError, match="unknown metric 'nDCG@ten'"):
        parse_metrics(["nDCG@ten"])
