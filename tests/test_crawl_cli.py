"""`aesthetics crawl` argument handling that needs no crawl: help, usage errors, the lock."""

from __future__ import annotations

from pathlib import Path

from corpus.lock import DataDirLock


def test_help_has_an_example(cli) -> None:
    result = cli("crawl", "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and "--sources" in result.output


def test_no_urls_and_no_sources_is_a_usage_error(cli, data_dir: Path) -> None:
    result = cli("--data-dir", str(data_dir), "crawl")
    assert result.exit_code == 2 and "give start URLs or --sources" in result.output


def test_not_a_url_is_bad_input(cli, data_dir: Path) -> None:
    result = cli("--data-dir", str(data_dir), "crawl", "clinic.example")
    assert result.exit_code == 2 and "not an http(s) URL" in result.output


def test_busy_when_another_crawl_holds_the_lock(cli, data_dir: Path) -> None:
    with DataDirLock(data_dir, "crawl", command="aesthetics crawl"):
        result = cli("--data-dir", str(data_dir), "crawl", "http://127.0.0.1:9/")
    assert result.exit_code == 4
    assert "crawl lock" in result.output and "held by PID" in result.output
