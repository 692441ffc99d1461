"""The one home of domain errors.

Every error a user can cause or meet maps to one exit code, so the CLI can translate
them in a single place (``search_cli.main``) and scripts can rely on the numbers:

====  ==========================================================
code  meaning
====  ==========================================================
0     success (also: a search with zero hits)
1     unexpected error (short message; traceback only with --debug)
2     usage or bad input: bad file, bad query syntax, unknown field, bad date
3     nothing to work on yet: no corpus, no index
4     busy: a lock is held by another process beyond the wait time
====  ==========================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_NOTHING_YET = 3
EXIT_BUSY = 4

EXIT_CODES_HELP = (
    "Exit codes: 0 ok (also zero hits), 1 unexpected error, 2 usage or bad input, "
    "3 nothing to work on yet (no corpus / no index), 4 busy (a lock is held)."
)


class AestheticsError(Exception):
    """Base of every error we expect; the message is shown to the user as is."""

    exit_code = EXIT_UNEXPECTED


class BadInputError(AestheticsError):
    """The user gave us something we cannot use: a bad file, query, field or date."""

    exit_code = EXIT_USAGE


class QuerySyntaxError(BadInputError):
    """A query that cannot be parsed; the message points at the problem."""


class CorpusFileError(BadInputError):
    """The database file is not ours, is corrupt, or comes from a newer release."""


class NothingYetError(AestheticsError):
    """There is nothing to work on yet (no corpus, no index); the message says what builds it."""

    exit_code = EXIT_NOTHING_YET


class BusyError(AestheticsError):
    """Another process holds a lock we need; the message names the holder."""

    exit_code = EXIT_BUSY


class StorageError(AestheticsError):
    """The data dir cannot be written (read-only, disk full, permissions); nothing was half-written."""

    exit_code = EXIT_UNEXPECTED
