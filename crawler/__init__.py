"""The Scrapy crawler that fills the corpus. Importing this package does not import Scrapy:
``crawler.siteserver`` (stdlib only) is used by the demo and the tests."""
