"""Annotation quality and speed on our labelled set.

Quality: micro precision / recall / F1 of the procedures and risks the annotator lists, against
``tests/data/annotation_set.jsonl`` (short English and Chinese texts we wrote and labelled by
hand before tuning the matcher; items marked ``"split": "heldout"`` were written after the
tuning and never used for it, so their numbers are the honest estimate). Speed: articles per second, as a ratio to a naive reference
measured in the same run (one ``str.count`` per surface form), never as an absolute number.

Usage:  python bench/annotation.py [--set FILE] [--no-record] [--show-errors] [--sweep]
Appends a dated section to bench/RESULTS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indexer.annotate import Annotator  # noqa: E402

DEFAULT_SET = REPO / "tests" / "data" / "annotation_set.jsonl"


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: set[str], truth: set[str]) -> None:
        self.tp += len(predicted & truth)
        self.fp += len(predicted - truth)
        self.fn += len(truth - predicted)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_set(path: Path = DEFAULT_SET) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate(annotator: Annotator, items: list[dict]) -> tuple[dict[str, Score], list[str]]:
    """Scores for procedures, risks and both together, plus one line per wrong label."""
    scores = {"procedures": Score(), "risks": Score(), "all": Score()}
    errors = []
    for item in items:
        note = annotator.annotate(item["text"], item.get("title", ""))
        for kind, predicted in (("procedures", note.procedures), ("risks", note.risks)):
            pred, truth = set(predicted), set(item[kind])
            scores[kind].add(pred, truth)
            scores["all"].add(pred, truth)
            for extra in sorted(pred - truth):
                errors.append(f"{item['id']}: false {kind[:-1]} {extra}")
            for missed in sorted(truth - pred):
                errors.append(f"{item['id']}: missed {kind[:-1]} {missed}")
    return scores, errors


def _naive(forms: list[str], text: str) -> int:
    low = text.lower()
    return sum(low.count(f) for f in forms)


def speed_ratio(annotator: Annotator, items: list[dict], rounds: int = 20) -> tuple[float, float]:
    """(annotator articles/s, ratio to the naive substring counter)."""
    forms = [f.lower() for t in annotator.vocabulary.terms() for f in t.synonyms]
    texts = [(i["title"], i["text"]) for i in items] * rounds
    start = time.perf_counter()
    for title, text in texts:
        _naive(forms, title + "\n" + text)
    naive = time.perf_counter() - start
    start = time.perf_counter()
    for title, text in texts:
        annotator.annotate(text, title)
    ours = time.perf_counter() - start
    return len(texts) / ours, naive / ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="labelled JSONL file")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--show-errors", action="store_true", help="list every wrong label")
    parser.add_argument("--sweep", action="store_true",
                        help="also score procedures for other listing thresholds")
    args = parser.parse_args(argv)
    items = load_set(args.set)
    annotator = Annotator.load(None)
    scores, errors = evaluate(annotator, items)
    rate, ratio = speed_ratio(annotator, items)
    langs = sorted({i["id"].split("-")[0] for i in items})
    splits = {}
    for item in items:
        splits.setdefault(item.get("split", "dev"), []).append(item)
    lines = [f"labelled texts: {len(items)} ({', '.join(langs)}; "
             + ", ".join(f"{len(v)} {k}" for k, v in splits.items()) + ")",
             "| texts | labels | precision | recall | F1 | tp | fp | fn |",
             "|---|---|---|---|---|---|---|---|"]
    table = [("all", scores)] + [(name, evaluate(annotator, part)[0])
                                 for name, part in splits.items()]
    for name, part_scores in table:
        for kind, s in part_scores.items():
            lines.append(f"| {name} | {kind} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | "
                         f"{s.tp} | {s.fp} | {s.fn} |")
    lines.append(f"speed: {rate:.0f} short articles/s, {ratio:.2f}x the speed of a naive "
                 "str.count over all surface forms (measured in the same run)")
    if args.sweep:
        lines += ["", "Procedure listing thresholds (min_mentions, min_share), all texts:",
                  "| min_mentions | min_share | precision | recall | F1 |", "|---|---|---|---|---|"]
        for mentions in (1, 2, 3):
            for share in (0.0, 0.2, 0.3, 0.5):
                swept = Annotator(annotator.vocabulary, min_mentions=mentions, min_share=share)
                s = evaluate(swept, items)[0]["procedures"]
                lines.append(f"| {mentions} | {share} | {s.precision:.3f} | {s.recall:.3f} | "
                             f"{s.f1:.3f} |")
    print("\n".join(lines))
    if args.show_errors:
        print("\n".join(errors) or "no errors")
    if not args.no_record:
        from bench.results import record

        record("Annotation quality", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
