"""``python -m bench [NAME ...|all]``: run benchmarks by name; each prints a table and appends
a dated section to bench/RESULTS.md. Timings are ratios against a reference run in the same
process, since absolute numbers on a shared 2-core machine are noise."""

from __future__ import annotations

import importlib
import sys

# name -> (module, extra arguments)
BENCHES: dict[str, tuple[str, list[str]]] = {
    "crawl": ("bench.crawl", []),
    "extraction": ("bench.extraction", []),
    "annotation": ("bench.annotation", []),
    "ir": ("bench.ir", []),
    "index": ("bench.index_scale", []),
    "query": ("bench.index_scale", []),
    "startup": ("bench.startup", []),
    "refresh": ("bench.refresh", []),
    "distributed": ("bench.distributed", []),
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(BENCHES), "or all")
        print("extra arguments after the name go to that benchmark, e.g. python -m bench ir --collections med")
        return 0
    name, rest = args[0], args[1:]
    if name == "all":
        names = list(dict.fromkeys(m for m, _ in BENCHES.values()))
        status = 0
        for module in names:
            print(f"\n=== {module} ===", flush=True)
            status |= _run(module, [])
        return status
    if name not in BENCHES:
        print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)} or all", file=sys.stderr)
        return 2
    module, extra = BENCHES[name]
    return _run(module, extra + rest)


def _run(module: str, argv: list[str]) -> int:
    mod = importlib.import_module(module)
    saved = sys.argv
    sys.argv = [f"{module.replace('.', '/')}.py", *argv]
    try:
        return int(mod.main(argv) or 0)
    finally:
        sys.argv = saved


if __name__ == "__main__":
    sys.exit(main())
