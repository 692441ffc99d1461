"""The corpus store: every fetched page, its cleaned document and its history, in SQLite."""

from corpus.errors import (
    AestheticsError,
    BadInputError,
    BusyError,
    CorpusFileError,
    NothingYetError,
    QuerySyntaxError,
    StorageError,
)
from corpus.models import Document, Evidence, HistoryEntry, Page, Run
from corpus.paths import resolve_data_dir
from corpus.store import Store

__all__ = [
    "AestheticsError", "BadInputError", "BusyError", "CorpusFileError", "NothingYetError",
    "QuerySyntaxError", "StorageError", "Document", "Evidence", "HistoryEntry", "Page", "Run",
    "Store", "resolve_data_dir",
]
