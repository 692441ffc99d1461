"""Spiders of the crawler project: one generic site spider drives every source."""
