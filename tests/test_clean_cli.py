"""``aesthetics extract`` on saved files and on live pages served by a real local HTTP server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_aesthetics

FIXTURES = Path(__file__).resolve().parent / "sites" / "extraction"


def test_extract_file_as_json(cli) -> None:
    page = FIXTURES / "portal_zh" / "page.html"
    expected = json.loads((FIXTURES / "portal_zh" / "page.json").read_text(encoding="utf-8"))
    result = cli("extract", str(page), "--url", expected["url"], "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"url", "title", "author", "published", "language", "category",
                         "description", "text", "is_article"}
    assert data["url"] == expected["url"]
    assert data["title"] == expected["title"] and data["published"] == "2024-03-05"
    assert data["language"] == "zh" and data["category"] == "眼部整形"
    assert data["text"] == expected["text"] and data["is_article"] is True


def test_extract_text_format_and_several_files(cli) -> None:
    result = cli("extract", str(FIXTURES / "portal_en" / "page.html"),
                 str(FIXTURES / "listing" / "page.html"))
    assert result.exit_code == 0, result.output
    assert "title: What to expect after hyaluronic acid filler" in result.output
    assert "category: Injectables and fillers" in result.output
    assert "is_article: False" in result.output
    assert "Mild swelling is the most common reaction." in result.output

    as_json = cli("extract", str(FIXTURES / "portal_en" / "page.html"),
                  str(FIXTURES / "listing" / "page.html"), "--format", "json")
    assert [d["is_article"] for d in json.loads(as_json.output)] == [True, False]


def test_missing_file_is_bad_input(cli, tmp_path: Path) -> None:
    result = cli("extract", str(tmp_path / "nope.html"))
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_help_has_example(cli) -> None:
    result = cli("extract", "--help")
    assert result.exit_code == 0 and "Example" in result.output


@pytest.fixture
def live_site(tmp_path: Path, site_server):
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(FIXTURES / "portal_zh" / "page.html", root / "zh.html")
    shutil.copy(FIXTURES / "blog_jsonld" / "page.html", root / "blog.html")
    (root / "_routes.json").write_text(json.dumps({
        "/gbk.html": {"file": "/zh.html", "encode": "gbk", "content_type": "text/html"},
        "/gz.html": {"file": "/blog.html", "gzip": True},
        "/moved": {"redirect": "/blog.html", "status": 301},
        "/huge.html": {"size": 12_000_000},
        "/broken.html": {"status": 500},
    }), encoding="utf-8")
    return site_server(root)


def test_extract_live_urls(cli, live_site) -> None:
    result = cli("extract", live_site.url("/zh.html"), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["title"] == "双眼皮手术后多久消肿" and data["url"] == live_site.url("/zh.html")

    gbk = json.loads(cli("extract", live_site.url("/gbk.html"), "--format", "json").output)
    assert gbk["title"] == "双眼皮手术后多久消肿" and "冷敷" in gbk["text"]

    gz = json.loads(cli("extract", live_site.url("/gz.html"), "--format", "json").output)
    assert gz["author"] == "Dana Whitfield"

    moved = json.loads(cli("extract", live_site.url("/moved"), "--format", "json").output)
    assert moved["url"] == live_site.url("/blog.html")


@pytest.mark.parametrize(("path", "message"), [
    ("/huge.html", "larger than 10 MB"), ("/broken.html", "HTTP 500"), ("/missing.html", "HTTP 404"),
])
def test_extract_live_errors_are_clear(cli, live_site, path: str, message: str) -> None:
    result = cli("extract", live_site.url(path))
    assert result.exit_code == 2
    assert message in result.output


def test_unreachable_url_is_bad_input(cli) -> None:
    result = cli("extract", "http://127.0.0.1:9/nothing.html")
    assert result.exit_code == 2 and "cannot fetch" in result.output


def test_real_entry_point(tmp_path: Path) -> None:
    proc = run_aesthetics("extract", str(FIXTURES / "portal_en" / "page.html"), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["category"] == "Injectables and fillers"
    missing = run_aesthetics("extract", str(tmp_path / "none.html"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
