"""Quality gate for the cleaner: fail when extraction F1 drops below the pinned floors.

The floors live in ``bench/eval_baseline.json``. Raising them after an improvement is
``python bench/eval_gate.py --update``; lowering them needs ``--allow-regression`` as well,
so a worse cleaner never slips in by a casual re-pin. The file is replaced atomically.
``tests/test_eval_gate.py`` runs the same check on every test run.

Usage:
    python bench/eval_gate.py                 # check, exit 1 below a floor
    python bench/eval_gate.py --update        # pin the current scores (never lower)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASELINE = HERE / "eval_baseline.json"
DEFAULT_DIR = REPO.parent / "shared" / "benchmarks" / "extraction" / "dev"
METRICS = ("f1", "precision", "recall")
MARGIN = 0.002  # floors sit this far below the pinned score: lxml builds differ a hair


def measure(dev_dir: Path = DEFAULT_DIR) -> dict[str, float]:
    """F1, precision and recall of ``indexer.clean`` on every page of ``dev_dir``."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from bench import extraction
    from indexer.clean import clean

    score = extraction.load_score_module(dev_dir)
    truth, pages = extraction.load_pages(dev_dir)
    predictions = {pid: clean(html, truth[pid].get("url", "")).text
                   for pid, html in pages.items()}
    metrics = score.evaluate(truth, predictions, 0, random.Random(0))
    return {name: float(metrics[name]) for name in METRICS} | {"pages": len(pages)}


def load_baseline(path: Path = BASELINE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def failures(measured: dict[str, float], baseline: dict) -> list[str]:
    """One message per metric below its floor (empty when the gate passes)."""
    out = []
    for name in METRICS:
        floor = float(baseline["floors"][name])
        if measured[name] < floor:
            out.append(f"{name} {measured[name]:.4f} is below the pinned floor {floor:.4f}")
    return out


def pin(measured: dict[str, float], baseline: dict | None, allow_regression: bool) -> dict:
    """New baseline from ``measured``; refuses to lower a floor unless allowed."""
    floors = {name: math.floor((measured[name] - MARGIN) * 1000) / 1000 for name in METRICS}
    if baseline and not allow_regression:
        lower = [n for n in METRICS if floors[n] < float(baseline["floors"][n])]
        if lower:
            raise SystemExit(f"refusing to lower the floor of {', '.join(lower)}; "
                             "pass --allow-regression if that is intended")
    return {"benchmark": "shared/benchmarks/extraction/dev", "pages": measured["pages"],
            "measured": {n: round(measured[n], 4) for n in METRICS}, "floors": floors}


def save(baseline: dict, path: Path = BASELINE) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".eval_baseline.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(baseline, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--update", action="store_true", help="pin the measured scores")
    parser.add_argument("--allow-regression", action="store_true",
                        help="with --update: allow floors to go down")
    args = parser.parse_args(argv)
    measured = measure(args.dir)
    print("measured: " + ", ".join(f"{n} {measured[n]:.4f}" for n in METRICS))
    baseline = load_baseline() if BASELINE.exists() else None
    if args.update:
        save(pin(measured, baseline, args.allow_regression))
        print(f"pinned floors in {BASELINE}")
        return 0
    if baseline is None:
        print(f"no baseline at {BASELINE}; run with --update", file=sys.stderr)
        return 1
    problems = failures(measured, baseline)
    for problem in problems:
        print("FAIL: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
