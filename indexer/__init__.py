"""Cleaning, annotation and indexing of stored pages (imports stay lazy: see search_cli)."""
