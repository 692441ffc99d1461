"""Where the data lives: ``--data-dir``, else ``$AESTHETICS_DATA_DIR``, else the XDG data dir."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "AESTHETICS_DATA_DIR"
DB_NAME = "corpus.sqlite3"
INDEX_NAME = "index"
LOG_NAME = "crawl.log"
USER_VOCABULARY_NAME = "vocabulary.toml"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Pick the data dir by the documented precedence; it is not created here."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("aesthetics-search", appauthor=False))


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_NAME


def index_path(data_dir: Path) -> Path:
    return data_dir / INDEX_NAME
