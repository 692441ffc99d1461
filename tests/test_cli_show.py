"""`aesthetics show`: one document with metadata, annotations, raw HTML and history.

Needs only the corpus (no index): documents, pages and history are written through the
real Store into a tmp SQLite file, then read back through CliRunner and a subprocess.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from corpus import Document, Evidence, Page, Store
from tests.conftest import run_aesthetics

URL = "https://clinic-notes.test/articles/rhinoplasty-recovery-weeks"
HTML = ("<html><head><title>Rhinoplasty recovery</title></head><body><nav>Home</nav>"
        "<article><h1>Rhinoplasty recovery</h1><p>Swelling fades slowly.</p></article>"
        "</body></html>")


@pytest.fixture
def corpus_dir(data_dir: Path) -> Path:
    with Store.open(data_dir) as store:
        store.upsert_page(Page(url=URL, site="clinic-notes.test", status=200, html=HTML,
                               content_type="text/html", fetched_at="2024-05-01T08:00:00+00:00"))
        store.save_document(Document(
            id="rhino1", url=URL, site="clinic-notes.test",
            title="Rhinoplasty recovery", author="Dr. Imke Vasquez", published="2023-05-14",
            language="en", category="Facial surgery",
            text="Swelling peaks on day two.\nBruising fades in a week.",
            procedures=["rhinoplasty"], risks=["swelling", "bruising"],
            mentions={"rhinoplasty": 4, "swelling": 2, "bruising": 1},
            evidence=[Evidence("rhinoplasty", "swelling", "Swelling peaks on day two.")]),
            when="2024-05-01T08:00:00+00:00")
        # A new text version: the first one goes to history.
        store.save_document(Document(
            id="rhino1", url=URL, site="clinic-notes.test",
            title="Rhinoplasty recovery, updated", author="Dr. Imke Vasquez",
            published="2023-05-14", language="en", category="Facial surgery",
            text="Swelling peaks on day three.\nBruising fades in ten days.",
            procedures=["rhinoplasty"], risks=["swelling", "bruising"],
            mentions={"rhinoplasty": 4, "swelling": 2, "bruising": 1},
            evidence=[Evidence("rhinoplasty", "swelling", "Swelling peaks on day three.")]),
            when="2024-06-01T08:00:00+00:00")
        store.save_document(Document(
            id="zh1", url="beir:mini/zh1", site="beauty-journal.test",
            title="玻尿酸填充前要了解的几种风险", language="zh",
            text="注射后常见的反应是局部肿胀和轻微淤青。", procedures=["hyaluronic-acid-filler"]))
        store.save_document(Document(id="gone1", url="https://x.test/gone", title="Gone",
                                     text="Withdrawn article."))
        store.tombstone("gone1", when="2024-07-01T00:00:00+00:00")
    return data_dir


@pytest.fixture
def show(cli: Callable[..., Result], corpus_dir: Path) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        return cli("--data-dir", str(corpus_dir), "show", *args)

    return run


def test_help_has_example_and_exit_codes(cli) -> None:
    result = cli("show", "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout and "Exit codes" in result.stdout


def test_text_shows_metadata_annotations_evidence_and_text(show) -> None:
    result = show("rhino1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Rhinoplasty recovery, updated\n=====")
    for needle in (f"url:             {URL}", "published:       2023-05-14",
                   "author:          Dr. Imke Vasquez", "category:        Facial surgery",
                   "procedures:      rhinoplasty (4)", "risks:           swelling (2), bruising (1)",
                   "  - rhinoplasty / swelling: Swelling peaks on day three.",
                   "Swelling peaks on day three.\nBruising fades in ten days."):
        assert needle in out


def test_url_works_as_well_as_id(show) -> None:
    assert show(URL).stdout == show("rhino1").stdout


def test_json_is_the_whole_document(show) -> None:
    result = show("rhino1", "--format", "json")
    data = json.loads(result.stdout)
    assert data["id"] == "rhino1" and data["procedures"] == ["rhinoplasty"]
    assert data["evidence"] == [{"procedure": "rhinoplasty", "risk": "swelling",
                                 "sentence": "Swelling peaks on day three."}]
    assert data["mentions"]["rhinoplasty"] == 4 and data["deleted"] is False


def test_raw_prints_the_stored_html(show) -> None:
    assert show("rhino1", "--raw").stdout == HTML + "\n"
    page = json.loads(show(URL, "--raw", "--format", "json").stdout)
    assert page["html"] == HTML and page["status"] == 200


def test_raw_of_an_imported_document_is_a_clear_error(show) -> None:
    result = show("zh1", "--raw")
    assert result.exit_code == 2 and "no stored HTML" in result.stderr


def test_history_lists_earlier_versions_and_the_current_one(show) -> None:
    out = show("rhino1", "--history").stdout
    assert "1 earlier version" in out
    assert out.index("Swelling peaks on day two.") < out.index("Swelling peaks on day three.")
    assert "replaced 2024-06-01T08:00:00+00:00" in out
    data = json.loads(show("rhino1", "--history", "--format", "json").stdout)
    assert [v["title"] for v in data["versions"]] == ["Rhinoplasty recovery"]
    assert data["current"]["title"] == "Rhinoplasty recovery, updated"


def test_tombstone_is_shown_as_deleted(show) -> None:
    out = show("gone1").stdout
    assert "DELETED" in out and "2024-07-01" in out


@pytest.mark.parametrize(("args", "needle"), [
    (["nope"], "'nope'"),
    (["https://nowhere.test/x"], "nowhere.test"),
    (["nope", "--raw"], "'nope'"),
    (["rhino1", "--raw", "--history"], "--raw"),
])
def test_bad_input_exits_2_naming_it(show, args: list[str], needle: str) -> None:
    result = show(*args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr


def test_no_corpus_exits_3(cli, tmp_path: Path) -> None:
    result = cli("--data-dir", str(tmp_path / "empty"), "show", "x")
    assert result.exit_code == 3
    assert not (tmp_path / "empty").exists()  # a read-only command creates nothing


def test_subprocess_utf8_json(corpus_dir: Path) -> None:
    proc = run_aesthetics("show", "zh1", "--format", "json", data_dir=corpus_dir)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == "玻尿酸填充前要了解的几种风险"
    missing = run_aesthetics("show", "missing-id", data_dir=corpus_dir)
    assert missing.returncode == 2 and "'missing-id'" in missing.stderr
