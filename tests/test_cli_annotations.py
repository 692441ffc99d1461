"""vocab / procedures / risks through the real CLI over a real corpus annotated by our Annotator."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from corpus import Document, Store
from indexer.annotate import Annotator

ARTICLES = [
    ("http://s.test/rhino-1", "My rhinoplasty recovery",
     "Swelling after rhinoplasty lasts months. Bruising under the eyes fades in two weeks.\n\n"
     "My surgeon said infection is rare."),
    ("http://s.test/rhino-2", "隆鼻术后恢复",
     "隆鼻术后第一周肿胀明显。假体隆鼻还可能出现感染和假体移位。"),
    ("http://s.test/filler", "Dermal filler safety",
     "Filler injected into an artery causes vascular occlusion. Dermal filler can also bruise."
     " Unlike a rhinoplasty, filler needs no surgery."),
    ("http://s.test/clinic", "Opening hours", "Our clinic is open on Saturdays."),
]


@pytest.fixture
def corpus_dir(data_dir: Path) -> Path:
    annotator = Annotator.load(data_dir)
    with Store.open(data_dir) as store:
        for n, (url, title, text) in enumerate(ARTICLES):
            note = annotator.annotate(text, title)
            store.save_document(Document(
                id=f"d{n}", url=url, site="s.test", title=title, text=text,
                procedures=note.procedures, risks=note.risks, mentions=note.mentions,
                evidence=note.evidence))
    return data_dir


def test_risks_profile_json(cli, corpus_dir: Path) -> None:
    result = cli("--data-dir", str(corpus_dir), "risks", "nose job", "--format", "json")
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output)
    assert profile["procedure"] == "rhinoplasty"
    assert profile["documents"] == 2  # the filler article only names it in passing
    risks = {r["risk"]: r for r in profile["risks"]}
    assert risks["swelling"]["documents"] == 2
    assert risks["infection"]["documents"] == 2
    assert risks["swelling"]["severity"] == "common"
    assert risks["infection"]["severity"] == "serious"
    assert "vascular-occlusion" not in risks  # said of filler, not of rhinoplasty
    urls = {e["url"] for e in risks["swelling"]["examples"]}
    assert urls == {"http://s.test/rhino-1", "http://s.test/rhino-2"}
    assert any("Swelling after rhinoplasty" in e["sentence"] for e in risks["swelling"]["examples"])


def test_risks_accepts_chinese_and_prints_a_table(cli, corpus_dir: Path) -> None:
    result = cli("--data-dir", str(corpus_dir), "risks", "隆鼻")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Rhinoplasty (rhinoplasty): 2 documents")
    assert "implant-malposition" in result.output
    assert "http://s.test/rhino-2" in result.output


def test_risks_unknown_procedure_suggests(cli, corpus_dir: Path) -> None:
    result = cli("--data-dir", str(corpus_dir), "risks", "rhinoplsty")
    assert result.exit_code == 2
    assert "did you mean rhinoplasty" in result.output


def test_risks_rejects_a_risk_name(cli, corpus_dir: Path) -> None:
    result = cli("--data-dir", str(corpus_dir), "risks", "swelling")
    assert result.exit_code == 2
    assert "is a risk" in result.output


def test_risks_without_corpus_is_nothing_yet(cli, data_dir: Path) -> None:
    assert cli("--data-dir", str(data_dir), "risks", "rhinoplasty").exit_code == 3


def test_documents_without_evidence_count_their_risks(cli, data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        store.save_document(Document(id="x", url="http://s.test/x", text="imported",
                                     procedures=["facelift"], risks=["hematoma"]))
    profile = json.loads(cli("--data-dir", str(data_dir), "risks", "facelift",
                             "--format", "json").output)
    assert [(r["risk"], r["documents"], r["examples"]) for r in profile["risks"]] == [
        ("hematoma", 1, [])]


def test_procedures_counts(cli, corpus_dir: Path) -> None:
    result = cli("--data-dir", str(corpus_dir), "procedures", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["procedure"]: r for r in json.loads(result.output)}
    assert rows["rhinoplasty"]["documents"] == 2
    assert rows["rhinoplasty"]["mentioned_in"] == 3
    assert rows["hyaluronic-acid-filler"]["documents"] == 1
    assert rows["rhinoplasty"]["group"] == "facial surgery"
    assert "liposuction" not in rows
    first = json.loads(result.output)[0]
    assert first["procedure"] == "rhinoplasty"


def test_procedures_csv_and_all(cli, corpus_dir: Path) -> None:
    result = cli("--data-dir", str(corpus_dir), "procedures", "--all", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) >= 40
    assert {r["procedure"]: r["documents"] for r in rows}["liposuction"] == "0"


def test_vocab_json_includes_user_terms(cli, data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "vocabulary.toml").write_text(
        '[risks.dry-mouth]\nname = "Dry mouth"\nseverity = "common"\nsynonyms = ["口干"]\n',
        encoding="utf-8")
    result = cli("--data-dir", str(data_dir), "vocab", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["procedures"]) >= 40
    risks = {r["id"]: r for r in data["risks"]}
    assert risks["dry-mouth"]["synonyms"] == ["Dry mouth", "口干"]
    assert "隆鼻" in {p["id"]: p for p in data["procedures"]}["rhinoplasty"]["synonyms"]


def test_vocab_table_and_kind_filter(cli, data_dir: Path) -> None:
    result = cli("--data-dir", str(data_dir), "vocab", "--kind", "risk")
    assert result.exit_code == 0
    assert "capsular-contracture" in result.output and "rhinoplasty" not in result.output


def test_vocab_bad_user_file_exits_2(cli, data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "vocabulary.toml").write_text(
        '[risks.dry-mouth]\nname = "Dry mouth"\nseverity = "mild"\n', encoding="utf-8")
    result = cli("--data-dir", str(data_dir), "vocab")
    assert result.exit_code == 2
    assert "vocabulary.toml, line 1, [risks.dry-mouth]: field 'severity'" in result.output


@pytest.mark.parametrize("command", ["vocab", "procedures", "risks"])
def test_help_has_examples(cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Example" in result.output


def test_real_entry_point_errors_go_to_stderr(corpus_dir: Path) -> None:
    from tests.conftest import run_aesthetics

    bad = run_aesthetics("risks", "blepharoplsty", data_dir=corpus_dir)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "did you mean blepharoplasty" in bad.stderr
    good = run_aesthetics("risks", "rhinoplasty", "--format", "json", data_dir=corpus_dir)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["procedure"] == "rhinoplasty"
