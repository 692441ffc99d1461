"""The click group ``aesthetics``: wiring only.

Commands are loaded lazily from ``COMMANDS`` so that ``aesthetics search`` never imports
Scrapy, and every domain error is turned into its exit code here, in one place.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from corpus.errors import EXIT_CODES_HELP, EXIT_UNEXPECTED, AestheticsError
from search_cli.options import AppContext

# command name -> (module, attribute, one-line summary shown in --help without importing)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("search_cli.commands.demo", "demo", "Crawl, index and search the bundled sample site."),
    "crawl": ("search_cli.commands.crawl", "crawl", "Crawl sites into the corpus (Scrapy)."),
    "worker": ("search_cli.commands.worker", "worker", "Run a distributed crawl worker on Redis."),
    "refresh": ("search_cli.commands.refresh", "refresh", "Re-crawl known sources; report changes."),
    "schedule": ("search_cli.commands.refresh", "schedule", "Print or install a refresh schedule."),
    "history": ("search_cli.commands.refresh", "history", "List past crawl/refresh/index runs."),
    "changes": ("search_cli.commands.refresh", "changes", "List documents changed since a date."),
    "extract": ("search_cli.commands.extract", "extract", "Run the cleaner on saved HTML or a URL."),
    "index": ("search_cli.commands.index", "index", "Update (or rebuild) the search index."),
    "search": ("search_cli.commands.search", "search", "Search articles; filter by procedure, risk, site, date."),
    "eval": ("search_cli.commands.index", "eval_cmd", "Evaluate ranking against qrels (nDCG, recall, MAP)."),
    "show": ("search_cli.commands.search", "show", "Show one document with metadata and annotations."),
    "risks": ("search_cli.commands.annotations", "risks", "Risk profile of a procedure across the corpus."),
    "procedures": ("search_cli.commands.annotations", "procedures", "Procedures with document counts."),
    "vocab": ("search_cli.commands.annotations", "vocab", "Print the merged procedure/risk vocabulary."),
    "export": ("search_cli.commands.corpus", "export", "Export every live document as JSONL or CSV."),
    "import": ("search_cli.commands.corpus", "import_cmd", "Import our JSONL export or a BEIR corpus."),
    "stats": ("search_cli.commands.corpus", "stats", "Corpus counts per site, language, procedure."),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _summary = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AestheticsError as exc:
            _fail(ctx, str(exc), exc.exit_code, exc)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place that catches everything
            _fail(ctx, f"unexpected error: {type(exc).__name__}: {exc}", EXIT_UNEXPECTED, exc)


def _fail(ctx: click.Context, message: str, code: int, exc: BaseException) -> None:
    if ctx.ensure_object(AppContext).debug:
        import traceback

        traceback.print_exception(exc)
    click.echo(f"Error: {message}", err=True)
    ctx.exit(code)


def _quiet_broken_pipe() -> None:
    """`aesthetics search … | head` closes our stdout early: exit quietly, no traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


@click.group(cls=LazyGroup, epilog=EXIT_CODES_HELP + """

\b
Examples:
  aesthetics demo
  aesthetics crawl https://example.org/ --max-pages 200
  aesthetics search "nose job swelling" --procedure rhinoplasty
  aesthetics refresh --format json
""")
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="AESTHETICS_DATA_DIR",
              help="Data directory (default: $AESTHETICS_DATA_DIR, else the XDG user data dir).")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.version_option(package_name="aesthetics-search")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None, debug: bool) -> None:
    """Crawl, clean, annotate and search cosmetic-surgery and medical-aesthetics articles."""
    obj = ctx.ensure_object(AppContext)
    obj.data_dir_arg = obj.data_dir_arg or data_dir
    obj.debug = debug


def main() -> None:
    cli(prog_name="aesthetics")
