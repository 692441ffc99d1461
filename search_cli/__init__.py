"""The ``aesthetics`` command line. Kept import-light: ``aesthetics search`` must start fast,
so commands are loaded lazily and never import Scrapy unless they crawl.

For notebooks: ``from search_cli import open_index`` returns hits as dataclasses.
"""

from search_cli.api import open_index, search

__all__ = ["open_index", "search"]
