"""export / import / stats: moving documents in and out of the corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from corpus import Store
from corpus.export import import_documents, read_beir, read_export, write_export
from search_cli.options import app, data_dir_option, format_option
from search_cli.output import emit_object, info


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="jsonl (lossless, re-importable) or csv.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@data_dir_option
def export(fmt: str, output: str | None) -> None:
    """Export every live document (tombstones excluded).

    Fields: id, url, site, title, author, published, language, category, text,
    procedures, risks, fetched_at, content_hash.

    \b
    Examples:
      aesthetics export > corpus.jsonl
      aesthetics export --format csv -o corpus.csv
    """
    with Store.open(app().data_dir, create=False) as store:
        if output:
            tmp = Path(output + ".part")
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                n = write_export(store, fh, fmt)
            tmp.replace(output)  # never leave a half-written export under the real name
        else:
            n = write_export(store, sys.stdout, fmt)
    info(f"exported {n} documents", quiet=not output)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "beir"]), default="jsonl",
              show_default=True, help="jsonl = our own export; beir = corpus.jsonl[.gz] with _id, title, text.")
@data_dir_option
def import_cmd(file: str, fmt: str) -> None:
    """Import documents: our JSONL export (lossless round trip) or a BEIR corpus.

    BEIR ``_id`` values become document ids, so TREC runs use the collection's ids.
    Run `aesthetics index` afterwards to make them searchable.

    \b
    Examples:
      aesthetics import corpus.jsonl
      aesthetics import ../shared/benchmarks/ir/scifact/corpus.jsonl.gz --format beir
    """
    reader = read_beir if fmt == "beir" else read_export
    with Store.open(app().data_dir) as store:
        run = store.start_run("import", {"file": str(file), "format": fmt})
        try:
            counts = import_documents(store, reader(Path(file)))
        except BaseException:
            store.finish_run(run, "failed")
            raise
        run.counts = counts
        store.finish_run(run)
    info("imported: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing")


@click.command()
@format_option("table", "json")
@data_dir_option
def stats(fmt: str) -> None:
    """Documents per site, language and procedure; near-duplicate groups; last runs.

    \b
    Examples:
      aesthetics stats
      aesthetics stats --format json | jq .procedures
    """
    with Store.open(app().data_dir, create=False) as store:
        data = store.stats()
    if fmt == "table":
        data["runs"] = [{k: r[k] for k in ("id", "kind", "started", "finished", "outcome")}
                        for r in data["runs"]]
    emit_object(data, fmt)
