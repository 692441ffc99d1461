"""export / import / stats and the CLI's shared conventions, through CliRunner and a subprocess."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

from corpus import Document, Store
from search_cli.main import COMMANDS
from tests.conftest import run_aesthetics


def seed(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        store.save_document(Document(
            id="a1", url="http://s.test/a1", site="s.test", title="Rhinoplasty, recovery",
            text='Swelling lasts "weeks",\nthen fades.\n隆鼻 恢复期', procedures=["rhinoplasty"],
            risks=["swelling"], published="2024-03-05", language="en",
            fetched_at="2024-03-06T00:00:00+00:00"), when="2024-03-06T00:00:00+00:00")
        store.save_document(Document(id="a2", url="http://s.test/a2", site="s.test", title="Gone",
                                     text="old"))
        store.tombstone("a2")


def test_export_import_export_is_byte_identical(cli, data_dir: Path, tmp_path: Path) -> None:
    seed(data_dir)
    first = cli("--data-dir", str(data_dir), "export")
    assert first.exit_code == 0
    rows = [json.loads(line) for line in first.output.splitlines()]
    assert [r["id"] for r in rows] == ["a1"]  # tombstones are not exported
    assert rows[0]["procedures"] == ["rhinoplasty"]
    dump = tmp_path / "dump.jsonl"
    dump.write_text(first.output, encoding="utf-8")
    other = tmp_path / "other"
    assert cli("import", str(dump), "--data-dir", str(other)).exit_code == 0
    second = cli("--data-dir", str(other), "export")
    assert second.output == first.output


def test_export_csv_quotes_commas_and_newlines(cli, data_dir: Path, tmp_path: Path) -> None:
    seed(data_dir)
    out = tmp_path / "out.csv"
    assert cli("--data-dir", str(data_dir), "export", "--format", "csv", "-o", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0]["title"] == "Rhinoplasty, recovery"
    assert rows[0]["text"].startswith('Swelling lasts "weeks",\nthen')


def test_import_beir_keeps_ids(cli, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "mini" / "corpus.jsonl.gz"
    path.parent.mkdir()
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"_id": "MED-1", "title": "T", "text": "filler necrosis"}) + "\n")
        fh.write(json.dumps({"_id": "MED-2", "title": "", "text": "botox ptosis"}) + "\n")
    assert cli("--data-dir", str(data_dir), "import", str(path), "--format", "beir").exit_code == 0
    with Store.open(data_dir) as store:
        assert store.get_document("MED-2").text == "botox ptosis"
        assert store.get_document("MED-1").site == "mini"


def test_bad_import_file_is_exit_2_with_line(cli, data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "url": "u", "text": "t"}\n{not json\n')
    result = cli("--data-dir", str(data_dir), "import", str(bad))
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output


def test_stats_json_and_missing_corpus(cli, data_dir: Path) -> None:
    result = cli("--data-dir", str(data_dir), "stats")
    assert result.exit_code == 3 and "no corpus" in result.output
    seed(data_dir)
    data = json.loads(cli("--data-dir", str(data_dir), "stats", "--format", "json").output)
    assert data["documents"] == 1 and data["tombstones"] == 1
    assert data["procedures"] == {"rhinoplasty": 1}


def test_every_command_has_help_with_example(cli) -> None:
    main_help = cli("--help").output
    assert "Exit codes" in main_help
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        result = cli(name, "--help")
        assert result.exit_code == 0, name
        assert "Example" in result.output, f"{name} --help has no example"
        assert f"aesthetics {name}" in readme, f"README does not mention `aesthetics {name}`"


def test_env_var_selects_data_dir_in_subprocess(data_dir: Path) -> None:
    seed(data_dir)
    proc = run_aesthetics("export", env={"AESTHETICS_DATA_DIR": str(data_dir)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["id"] == "a1"
