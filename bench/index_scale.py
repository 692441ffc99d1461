"""Index build speed, query latency and indexing memory at scale, with tantivy-py as reference.

The SciFact corpus is replicated with distinct ids (``<id>-r<k>``) up to each size. Each build
runs in its own child process so its peak RSS is its own. Whoosh is measured through our real
path: ``update_index`` (near-duplicate hashing included — the replicas are exact copies, so it
also exercises large duplicate groups) and ``Searcher.search`` (top 10 with snippets and
folded copies, as the CLI asks), once without the decoded-postings cache ("no-cache": each
query decodes its posting lists, like a one-shot CLI search) and once with it (a long-lived
Searcher, as the Python API and a shell session keep). tantivy-py gets the same documents and queries (title + text,
English stemming, top 10) in the same run.

Queries: "short" = NFCorpus queries of 2-5 words (researcher style); "long" = SciFact claims.

Peak RSS is the build child's ``ru_maxrss`` taken right after ``update_index``, before any
query: it covers the corpus import too (~40 MB at 100k documents, below the indexing peak).
Indexing memory should stay nearly flat as the corpus grows (see indexer/build.py): its floor
is the imports (~90 MB, mostly datasketch's scipy) plus Whoosh's posting pool (WRITER_MB).

Run:  python bench/index_scale.py --sizes 10000 100000      (appends to bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
IR_DIR = REPO.parent / "shared" / "benchmarks" / "ir"
N_QUERIES = 100


def _source() -> list[dict]:
    with gzip.open(IR_DIR / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def replicated(size: int):
    """``size`` documents: the SciFact corpus repeated, ids made distinct."""
    source = _source()
    for n in range(size):
        doc = source[n % len(source)]
        yield f"{doc['_id']}-r{n // len(source)}", doc.get("title") or "", doc.get("text") or ""


def queries() -> tuple[list[str], list[str]]:
    rng = random.Random(7)

    def read(name: str) -> list[str]:
        with (IR_DIR / name / "queries.jsonl").open(encoding="utf-8") as fh:
            return [json.loads(line)["text"] for line in fh]

    short = [q for q in read("nfcorpus") if 2 <= len(q.split()) <= 5]
    long = [q for q in read("scifact") if len(q.split()) >= 8]
    return rng.sample(short, N_QUERIES), rng.sample(long, N_QUERIES)


def _latency(run, texts: list[str]) -> dict:
    run(texts[0])  # warm caches once
    times = []
    for text in texts:
        start = time.perf_counter()
        run(text)
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}


# ---------------------------------------------------------------------- children
def child_whoosh(size: int, workdir: Path) -> dict:
    from corpus import Document, Store
    from corpus.export import import_documents
    from indexer.build import update_index
    from indexer.search import Searcher, SearchRequest

    data_dir = workdir / f"whoosh-{size}"
    with Store.open(data_dir) as store:
        import_documents(store, (Document(id=i, url=f"bench:{i}", title=t, text=x, site="bench")
                                 for i, t, x in replicated(size)))
    start = time.perf_counter()
    update_index(data_dir)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    short, long = queries()
    row = {"engine": "whoosh", "docs": size, "build_s": round(seconds, 1),
           "docs_per_s": round(size / seconds), "peak_rss_mb": round(rss)}
    # first without the decoded-postings cache (every query decodes its posting lists, as a
    # one-shot CLI search does), then as a long-lived Searcher (API, shell session) runs
    for suffix, cache in (("_cold", 0), ("", None)):
        kwargs = {} if cache is None else {"posting_cache_bytes": cache}
        with Searcher(data_dir, **kwargs) as searcher:
            def run(text: str, searcher=searcher) -> None:
                searcher.search(SearchRequest(text, limit=10))

            row["short" + suffix] = _latency(run, short)
            row["long" + suffix] = _latency(run, long)
    return row


def child_tantivy(size: int, workdir: Path) -> dict:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("text", stored=True, tokenizer_name="en_stem")
    schema = builder.build()
    path = workdir / f"tantivy-{size}"
    path.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(schema, path=str(path))
    start = time.perf_counter()
    writer = index.writer(heap_size=128_000_000, num_threads=1)
    for doc_id, title, text in replicated(size):
        writer.add_document(tantivy.Document(id=doc_id, title=title, text=text))
    writer.commit()
    writer.wait_merging_threads()
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index.reload()
    searcher = index.searcher()
    short, long = queries()

    def run(text: str) -> None:
        clean = " ".join(re.findall(r"\w+", text))
        query = index.parse_query(clean, ["title", "text"])
        for _score, address in searcher.search(query, 10).hits:
            searcher.doc(address)

    return {"engine": "tantivy", "docs": size, "build_s": round(seconds, 1),
            "docs_per_s": round(size / seconds), "peak_rss_mb": round(rss),
            "short": _latency(run, short), "long": _latency(run, long)}


# ---------------------------------------------------------------------- parent
def _child(engine: str, size: int, workdir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", engine, "--sizes", str(size),
                          "--workdir", str(workdir)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--child", choices=["whoosh", "tantivy"], help=argparse.SUPPRESS)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        run = child_whoosh if args.child == "whoosh" else child_tantivy
        print(json.dumps(run(args.sizes[0], args.workdir)))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="aesthetics-scale-"))
    rows = []
    try:
        for size in args.sizes:
            for engine in ("tantivy", "whoosh"):
                row = _child(engine, size, workdir)
                print(row, flush=True)
                rows.append(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lines = ["| engine | docs | build s | docs/s | peak RSS MB | short p50/p95 ms | long p50/p95 ms "
             "| no-cache short p50/p95 | no-cache long p50/p95 |",
             "|---|---|---|---|---|---|---|---|---|"]

    def cell(r: dict, key: str) -> str:
        return f"{r[key]['p50_ms']} / {r[key]['p95_ms']}" if key in r else "-"

    for r in rows:
        lines.append(f"| {r['engine']} | {r['docs']} | {r['build_s']} | {r['docs_per_s']} | "
                     f"{r['peak_rss_mb']} | {cell(r, 'short')} | {cell(r, 'long')} | "
                     f"{cell(r, 'short_cold')} | {cell(r, 'long_cold')} |")
    table = "\n".join(lines) + "\n\n" + latency_chart(rows)
    print(table)
    if not args.no_append:
        from bench.results import record

        record("Index scale: Whoosh vs tantivy-py (bench/index_scale.py)", table)
    return 0


def latency_chart(rows: list[dict], width: int = 50) -> str:
    """Whoosh's p95 latency against corpus size as text bars, so the growth curve is
    visible at a glance in RESULTS.md (no plotting library needed)."""
    series = [(kind, r["docs"], r[kind]["p95_ms"]) for r in rows if r["engine"] == "whoosh"
              for kind in ("short", "long") if kind in r]
    if not series:
        return ""
    top = max(ms for _, _, ms in series) or 1.0
    out = ["```", f"Whoosh p95 latency by corpus size (bar = {top / width:.1f} ms per #)"]
    for kind, docs, ms in series:
        out.append(f"{kind:>5} {docs:>7,} docs |{'#' * max(1, round(ms / top * width)):<{width}}| "
                   f"{ms:.1f} ms")
    out.append("```")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
