"""Shared option decorators, so every command spells --data-dir and --format the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click


@dataclass
class AppContext:
    data_dir_arg: str | None = None
    debug: bool = False

    @property
    def data_dir(self) -> Path:
        from corpus.paths import resolve_data_dir

        return resolve_data_dir(self.data_dir_arg)


def _set_data_dir(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.ensure_object(AppContext).data_dir_arg = value
    return value


def data_dir_option(func: Callable) -> Callable:
    """``--data-dir DIR`` on a subcommand; overrides the group's and $AESTHETICS_DATA_DIR."""
    return click.option(
        "--data-dir", type=click.Path(file_okay=False), expose_value=False, is_eager=True,
        callback=_set_data_dir,
        help="Data directory (default: $AESTHETICS_DATA_DIR, else the XDG user data dir).",
    )(func)


def format_option(*choices: str, default: str = "table") -> Callable[[Callable], Callable]:
    """``--format`` with the given choices; machine formats never carry decoration."""
    choices = choices or ("table", "json", "jsonl", "csv")

    def decorate(func: Callable) -> Callable:
        machine = "/".join(c for c in choices if c not in ("table", "text"))
        human = "a human table" if "table" in choices else "plain text"
        return click.option(
            "--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
            help=f"Output format: {human}, or machine-readable {machine}.",
        )(func)

    return decorate


def app(ctx: click.Context | None = None) -> AppContext:
    ctx = ctx or click.get_current_context()
    return ctx.ensure_object(AppContext)
