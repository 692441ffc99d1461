"""The Whoosh schema: which document fields are searchable, filterable, sortable or stored.

Field names are the query syntax (``title:``, ``procedure:``, ``risk:``, ``site:``, ``lang:``),
so the query parser needs no alias table. Ranking weights are applied at query time
(``indexer.rank``), not baked in here, so they can be tuned without re-indexing.
"""

from __future__ import annotations

from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema

from indexer.analysis import make_analyzer

# Fields a user may name in a query, mapped to the schema field they search.
QUERY_FIELDS = ("title", "text", "procedure", "risk", "site", "lang")
# Free text is searched in these fields (weights in indexer.rank.RankParams).
TEXT_FIELDS = ("title", "text")


def build_schema() -> Schema:
    """A fresh schema; the analyzer is pickled into the index, so changing it needs --rebuild."""
    analyzer = make_analyzer()
    return Schema(
        id=ID(stored=True, unique=True, sortable=True),
        url=ID(stored=True),
        site=ID(stored=True),  # lowercased by indexer.build.index_fields
        # spelling=True keeps unstemmed words aside for "did you mean" suggestions.
        title=TEXT(analyzer=analyzer, stored=True, phrase=True),
        text=TEXT(analyzer=analyzer, stored=True, phrase=True, spelling=True),
        category=ID(stored=True),
        procedure=KEYWORD(stored=True, commas=True, lowercase=True, scorable=False),
        risk=KEYWORD(stored=True, commas=True, lowercase=True, scorable=False),
        lang=ID(stored=True),  # lowercased like site
        published=DATETIME(stored=True, sortable=True),
        content_hash=STORED(),
        # Near-duplicate group: the group's smallest doc id, or the doc's own id when alone.
        group=ID(stored=True, sortable=True),
    )
