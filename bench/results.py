"""Append a benchmark's result to bench/RESULTS.md with the facts needed to compare runs.

Every section carries the date, the exact command, and the machine (CPU count, Python,
versions of the packages that matter), because these machines are shared and noisy:
a number without its context cannot be compared with the next one.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PACKAGES = ("scrapy", "whoosh-reloaded", "trafilatura", "tantivy", "jieba", "datasketch",
            "scrapy-redis", "lxml")


def machine_facts() -> str:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return (f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}; "
            + ", ".join(versions))


def command_line() -> str:
    """The command as a user would retype it."""
    argv = list(sys.argv)
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        name = spec.name.removesuffix(".__main__")
        return " ".join(["python -m", name, *argv[1:]])
    return " ".join(["python", *argv])


def record(title: str, body: str, *, command: str | None = None, path: Path = RESULTS) -> Path:
    """Append one dated section; sections written by earlier runs are never touched."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if not path.exists():
        path.write_text("# Benchmark results\n\nEach section is appended by a script in bench/; "
                        "the command that produced it is given with it.\n", encoding="utf-8")
    section = (f"\n## {title} — {stamp}\n\nCommand: `{command or command_line()}`  \n"
               f"Machine: {machine_facts()}\n\n{body.rstrip()}\n")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(section)
    return path
