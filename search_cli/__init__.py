"""The ``aesthetics`` command line. Kept import-light: ``aesthetics search`` must start fast,
so commands are loaded lazily and never import Scrapy unless they crawl."""
