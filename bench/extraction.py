"""Main-text extraction: our cleaner against plain trafilatura on the shared benchmark pages.

Both run in the same process on the same decoded pages (parsing included in the timing, as a
crawler would pay it), interleaved page by page over a few rounds (best round per page), scored by the benchmark's own ``score.py`` (word 4-gram shingles). The
ratio of docs/s is what we track; absolute speed depends on the machine and its load.

Usage:
    python bench/extraction.py                      # dev set, append a section to RESULTS.md
    python bench/extraction.py --no-append --limit 20 --repeat 1
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO.parent / "shared" / "benchmarks" / "extraction" / "dev"


def load_score_module(dev_dir: Path):
    """The benchmark's own metric code, imported from beside the data (never copied)."""
    path = dev_dir.parent / "score.py"
    spec = importlib.util.spec_from_file_location("extraction_score", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the metric from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_pages(dev_dir: Path, limit: int | None = None) -> tuple[dict, dict[str, str]]:
    """(ground truth, id -> decoded HTML) for the first ``limit`` ids in sorted order."""
    truth = json.loads((dev_dir / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[:limit] if limit else sorted(truth)
    pages = {}
    for page_id in ids:
        raw = gzip.decompress((dev_dir / "html" / f"{page_id}.html.gz").read_bytes())
        pages[page_id] = raw.decode("utf-8", errors="replace")
    return {k: truth[k] for k in ids}, pages


def ours(html: str, url: str) -> str:
    from indexer.clean import clean

    return clean(html, url).text


def trafilatura_plain(html: str, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url, include_comments=False) or ""


def run_all(extractors: dict[str, Callable[[str, str], str]], truth: dict,
            pages: dict[str, str], score, repeat: int) -> list[dict]:
    """Extract every page with every extractor, ``repeat`` rounds, interleaved page by page.

    Each page's time is its fastest round, so a burst of load from other processes on a
    shared machine hits one round of one page instead of one extractor's whole run.
    """
    import random

    for extractor in extractors.values():  # warm imports and caches outside the timing
        for page_id in list(pages)[:3]:
            extractor(pages[page_id], truth[page_id].get("url", ""))
    best = {name: {} for name in extractors}
    predictions: dict[str, dict[str, str]] = {name: {} for name in extractors}
    for _round in range(repeat):
        for pid, html in pages.items():
            for name, extractor in extractors.items():
                start = time.perf_counter()
                predictions[name][pid] = extractor(html, truth[pid].get("url", ""))
                elapsed = time.perf_counter() - start
                best[name][pid] = min(elapsed, best[name].get(pid, elapsed))
    results = []
    for name in extractors:
        metrics = score.evaluate(truth, predictions[name], 0, random.Random(0))
        total = sum(best[name].values())
        metrics["docs_per_s"] = len(pages) / total if total else 0.0
        metrics["name"] = name
        metrics["predictions"] = predictions[name]
        results.append(metrics)
    return results


def per_page(truth: dict, predictions: dict[str, str], score) -> list[tuple[str, float, float]]:
    """(id, precision, recall) for every page, worst F1 first: where to look next."""
    rows = []
    for pid, item in truth.items():
        tp_fp_fn = score.string_shingle_matching(item.get("articleBody", ""), predictions[pid])
        rows.append((pid, score.precision_score(*tp_fp_fn), score.recall_score(*tp_fp_fn)))
    return sorted(rows, key=lambda r: (2 * r[1] * r[2] / (r[1] + r[2])) if r[1] + r[2] else 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help="benchmark part with ground-truth.json and html/ (default: dev)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timing rounds; each page counts its fastest (default 3)")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages of ours")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))

    score = load_score_module(args.dir)
    truth, pages = load_pages(args.dir, args.limit)
    results = run_all({"trafilatura (include_comments=False)": trafilatura_plain,
                       "aesthetics clean()": ours}, truth, pages, score, args.repeat)
    lines = [f"| {'extractor':<36} | F1     | precision | recall | docs/s |",
             f"|{'-' * 38}|--------|-----------|--------|--------|"]
    for m in results:
        lines.append(f"| {m['name']:<36} | {m['f1']:.4f} | {m['precision']:.4f}    | "
                     f"{m['recall']:.4f} | {m['docs_per_s']:6.1f} |")
    base, mine = results
    ratio = mine["docs_per_s"] / base["docs_per_s"] if base["docs_per_s"] else 0.0
    summary = (f"pages: {len(pages)} ({args.dir.name}); F1 ours - trafilatura: "
               f"{mine['f1'] - base['f1']:+.4f}; speed ratio ours/trafilatura: {ratio:.2f}x")
    print("\n".join(lines))
    print(summary)
    if args.worst:
        for pid, p, r in per_page(truth, mine["predictions"], score)[:args.worst]:
            print(f"  {pid[:16]}  P {p:.3f}  R {r:.3f}  {truth[pid].get('url', '')}")
    if not args.no_append:
        from bench.results import record

        command = "python bench/extraction.py" + (f" --limit {args.limit}" if args.limit else "") \
            + (f" --repeat {args.repeat}" if args.repeat != 3 else "")
        record("Extraction: cleaner vs trafilatura", "\n".join(lines) + f"\n\n{summary}",
               command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
