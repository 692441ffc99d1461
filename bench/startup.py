"""Cold start of `aesthetics search`, measured against bare Python in the same run.

A researcher runs dozens of searches from a shell, so the time before the first result
matters more than the query itself. Every number here is a difference to `python -c pass`
timed alternately with it (the machine is shared and noisy; an absolute time means little).
Goal: under 0.3 s above bare Python.

Cases, each a fresh interpreter:
- ``search --help``: the CLI alone (no Whoosh, no corpus);
- ``search QUERY``: a real query on the fixture corpus (tests/sites/searchcorpus), indexed
  into a temporary data dir first, and a Chinese query with a filter;
- ``show ID``: one document from the corpus, no index.

It also runs the query once under ``python -X importtime`` and lists the top-level packages
that cost the most to import, so a regression points at its cause.

Usage:  python bench/startup.py [--runs N] [--query TEXT] [--no-record]
Appends a dated section to bench/RESULTS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CORPUS = REPO / "tests" / "sites" / "searchcorpus" / "articles.jsonl"
GOAL = 0.3
ENTRY = "from search_cli.main import main; main()"


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("AESTHETICS_DATA_DIR", None)
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
    return elapsed


def measure(cases: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Run every case ``runs`` times, interleaved with the bare-Python reference, so drifting
    machine load hits reference and cases alike. One untimed warm-up fills the file cache."""
    env = _env()
    times: dict[str, list[float]] = defaultdict(list)
    bare = [sys.executable, "-c", "pass"]
    for cmd in cases.values():
        _timed(cmd, env)
    for _ in range(runs):
        times["python -c pass"].append(_timed(bare, env))
        for name, cmd in cases.items():
            times[name].append(_timed(cmd, env))
    return times


def import_costs(cmd: list[str], top: int = 8) -> list[tuple[str, float]]:
    """Import time per top-level package (sum of its modules' own times, ``-X importtime``),
    most expensive first."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True,
                          text=True, env=_env())
    per_package: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _cumulative_us, name = line.split(":", 1)[1].split("|")
        per_package[name.strip().split(".")[0]] += int(self_us) / 1e6
    return sorted(per_package.items(), key=lambda kv: -kv[1])[:top]


def build_data_dir(root: Path) -> Path:
    from corpus import Store
    from corpus.export import import_documents, read_export
    from indexer.build import update_index

    data_dir = root / "data"
    with Store.open(data_dir) as store:
        import_documents(store, read_export(CORPUS))
    update_index(data_dir)
    return data_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per case (default 10)")
    parser.add_argument("--query", default="rhinoplasty swelling", help="query to time")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        data_dir = build_data_dir(Path(tmp))
        base = [sys.executable, "-c", ENTRY, "--data-dir", str(data_dir)]
        cases = {
            "search --help": [*base, "search", "--help"],
            f"search {args.query!r}": [*base, "search", args.query, "--format", "json"],
            "search '血管栓塞' --lang zh": [*base, "search", "血管栓塞", "--lang", "zh"],
            "show rhino-recovery": [*base, "show", "rhino-recovery"],
        }
        times = measure(cases, args.runs)
        costs = import_costs(cases[f"search {args.query!r}"])

    bare = statistics.median(times["python -c pass"])
    rows = []
    for name in ["python -c pass", *cases]:
        med = statistics.median(times[name])
        extra = med - bare
        verdict = "" if name == "python -c pass" else ("ok" if extra < GOAL else "OVER GOAL")
        rows.append((name, med, min(times[name]), extra, verdict))

    lines = ["| case | median s | min s | above bare python s | goal < 0.3 s |",
             "|------|---------:|------:|--------------------:|--------------|"]
    lines += [f"| `{n}` | {m:.3f} | {lo:.3f} | {x:+.3f} | {v} |" for n, m, lo, x, v in rows]
    lines += ["", "Slowest imports of the query run (`-X importtime`, own time summed per "
              "top-level package):", ""]
    lines += [f"- {name}: {secs * 1000:.0f} ms" for name, secs in costs]
    report = "\n".join(lines)
    print(report)

    if not args.no_record:
        from bench.results import record

        path = record("Startup of `aesthetics search`",
                      f"{args.runs} runs per case, interleaved with the reference\n\n{report}")
        print(f"\nappended to {path.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
