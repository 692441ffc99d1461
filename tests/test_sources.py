"""The sources file: valid files load, every mistake names its line and field (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.errors import BadInputError
from crawler.sources import load_sources, parse_sources, sources_from_urls
from tests.conftest import REPO

GOOD = """\
[defaults]
delay = 0.5
max_depth = 4

[[site]]
name = "clinic-a"
start_urls = ["https://Clinic-A.example/articles/?utm_source=x"]
exclude = ['/tag/']

[[site]]
start_urls = ["http://127.0.0.1:8000/"]
max_depth = 2
[site.rules]
content = "article"
"""


def test_good_file_with_defaults() -> None:
    first, second = parse_sources(GOOD)
    assert first.name == "clinic-a"
    assert first.start_urls == ["https://clinic-a.example/articles/"]
    assert first.allowed_domains == ["clinic-a.example"]
    assert (first.delay, first.max_depth) == (0.5, 4)
    assert first.url_excluded("https://clinic-a.example/tag/x") is not None
    assert second.name == "127.0.0.1:8000" and second.max_depth == 2
    assert second.rules == {"content": "article"}


def test_the_shipped_example_is_valid() -> None:
    sources = load_sources(REPO / "sources.example.toml")
    assert len(sources) >= 2 and all(s.start_urls for s in sources)


@pytest.mark.parametrize(("text", "expected"), [
    ('[[site]]\nname = "a"\nstart_urls = ["https://a.example/"]\nmax_pages = 0\n',
     "line 4, site 'a', field 'max_pages': expected a positive integer"),
    ('[[site]]\nname = "a"\nstart_urls = ["https://a.example/"]\nexlude = ["x"]\n',
     "line 4, site 'a', field 'exlude': unknown field (did you mean 'exclude'?)"),
    ('[[site]]\nstart_urls = ["https://a.example/"]\n\n[[site]]\nname = "b"\n'
     'start_urls = ["ftp://b.example/"]\n', "line 6, site 'b', field 'start_urls'"),
    ('[[site]]\nname = "a"\nstart_urls = ["https://a.example/"]\ninclude = ["(unclosed"]\n',
     "line 4, site 'a', field 'include': bad regular expression"),
    ('[[site]]\nname = "a"\n', "line 1, site 'a': needs start_urls or sitemap_urls"),
    ('[[site]]\nname = "a"\nstart_urls = ["https://a.example/"]\n[[site]]\nname = "a"\n'
     'start_urls = ["https://b.example/"]\n', "field 'name': duplicate site name 'a'"),
    ('[defaults]\ndelay = "slow"\n[[site]]\nstart_urls = ["https://a.example/"]\n',
     "line 2, [defaults], field 'delay'"),
    ('[[site]]\nstart_urls = ["https://a.example/"\n', "not valid TOML"),
    ("", "no sites"),
    ('[site]\nstart_urls = ["https://a.example/"]\n', "[[site]]"),
])
def test_bad_files_name_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(BadInputError) as err:
        parse_sources(text, "s.toml")
    assert expected in str(err.value)


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not found"):
        load_sources(tmp_path / "nope.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[[site]]\nname = "café"\n'.encode("latin-1"))
    with pytest.raises(BadInputError, match="not UTF-8"):
        load_sources(latin)


def test_default_scope_follows_www_and_keeps_local_ports_apart() -> None:
    (www,) = sources_from_urls(["https://www.clinic.example/articles/"])
    assert www.allowed_domains == ["clinic.example"]
    (local,) = sources_from_urls(["http://127.0.0.1:8000/"])
    assert local.allowed_domains == ["127.0.0.1:8000"]
    (named,) = sources_from_urls(["http://localhost/"])
    assert named.allowed_domains == ["localhost"]


def test_urls_on_one_host_share_a_source() -> None:
    sources = sources_from_urls(["http://a.example/x", "http://A.example/y", "http://b.example/"])
    assert [(s.name, s.start_urls) for s in sources] == [
        ("a.example", ["http://a.example/x", "http://a.example/y"]),
        ("b.example", ["http://b.example/"])]
    with pytest.raises(BadInputError, match="not an http"):
        sources_from_urls(["clinic.example"])


def test_cli_bad_sources_file_exits_2(cli, tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "sources.toml"
    bad.write_text('[[site]]\nname = "a"\nstart_urls = ["https://a.example/"]\nmax_depth = -1\n')
    result = cli("--data-dir", str(data_dir), "crawl", "--sources", str(bad))
    assert result.exit_code == 2
    assert "line 4, site 'a', field 'max_depth'" in result.output
    assert not (data_dir / "corpus.sqlite3").exists()  # nothing touched
