"""The built-in vocabulary is complete enough, user files merge over it, bad files fail clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpus.errors import BadInputError
from indexer.vocabulary import GROUPS, SEVERITIES, load_vocabulary


def _write(data_dir: Path, text: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "vocabulary.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _has_cjk(forms: list[str]) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for f in forms for ch in f)


def test_builtin_vocabulary_covers_the_domain_in_both_languages():
    vocab = load_vocabulary()
    assert len(vocab.procedures) >= 40
    assert len(vocab.risks) >= 30
    assert {t.group for t in vocab.procedures.values()} == set(GROUPS)
    assert {t.severity for t in vocab.risks.values()} == set(SEVERITIES)
    for term in vocab.terms():
        assert term.name.split(" (")[0] in term.synonyms
        assert _has_cjk(term.synonyms), f"{term.id} has no Chinese synonym"
    for term in vocab.procedures.values():
        assert term.areas, f"{term.id} has no body areas"


@pytest.mark.parametrize("form, expected", [
    ("nose job", "rhinoplasty"), ("隆鼻", "rhinoplasty"), ("RHINOPLASTY", "rhinoplasty"),
    ("Botox", "botulinum-toxin"), ("肉毒素", "botulinum-toxin"), ("玻尿酸", "hyaluronic-acid-filler"),
    ("double eyelid", "blepharoplasty"), ("双眼皮", "blepharoplasty"), ("微针", "micro-needling"),
    ("micro needling", "micro-needling"), ("tummy tuck", "abdominoplasty"), ("FUE", "hair-transplant"),
    ("vascular occlusion", "vascular-occlusion"), ("失明", "blindness"), ("包膜挛缩", "capsular-contracture"),
])
def test_lookup_by_any_surface_form(form: str, expected: str):
    term = load_vocabulary().lookup(form)
    assert term is not None and term.id == expected


def test_parenthesised_names_give_separate_forms():
    vocab = load_vocabulary()
    term = vocab.term("thromboembolism")
    assert term.name == "Blood clots (DVT / pulmonary embolism)"
    assert {"Blood clots", "DVT", "pulmonary embolism"} <= set(term.synonyms)
    assert not any("(" in s for t in vocab.terms() for s in t.synonyms)
    assert vocab.lookup("abdominoplasty (tummy tuck)").id == "abdominoplasty"


def test_synonym_groups_leave_out_gap_patterns():
    groups = {t.id: t for t in load_vocabulary().synonym_groups()}
    assert len(groups) == len(load_vocabulary().terms())
    assert "nerve injury" in groups["nerve-damage"].synonyms
    assert not any("..." in s for t in groups.values() for s in t.synonyms)
    assert any("..." in s for s in load_vocabulary().term("nerve-damage").synonyms)


def test_suggest_offers_close_ids_for_typos():
    vocab = load_vocabulary()
    assert vocab.lookup("rhinoplsty") is None
    assert "rhinoplasty" in vocab.suggest("rhinoplsty")
    assert "blepharoplasty" in vocab.suggest("blepharoplasti")
    assert vocab.suggest("zzzzqqq") == []


def test_user_file_adds_extends_and_disables_terms(tmp_path: Path):
    data_dir = tmp_path / "data"
    _write(data_dir, """
[procedures.lip-lift]
name = "Lip lift"
group = "facial surgery"
areas = ["upper lip"]
synonyms = ["bullhorn lip lift", "提唇"]

[procedures.rhinoplasty]
synonyms = ["nasal surgery"]

[risks.headache]
enabled = false
""")
    vocab = load_vocabulary(data_dir)
    assert vocab.lookup("提唇").id == "lip-lift"
    rhino = vocab.term("rhinoplasty")
    assert "nasal surgery" in rhino.synonyms and "nose job" in rhino.synonyms
    assert rhino.group == "facial surgery"
    assert vocab.term("headache") is None
    # the built-in vocabulary is untouched for other data dirs
    assert load_vocabulary().term("headache") is not None


def test_user_synonym_moves_a_form_to_the_users_term(tmp_path: Path):
    data_dir = tmp_path / "data"
    _write(data_dir, '[procedures.liquid-nose-job]\nname = "Liquid nose job"\n'
                     'group = "injectables"\nsynonyms = ["non-surgical rhinoplasty"]\n')
    vocab = load_vocabulary(data_dir)
    assert vocab.lookup("non-surgical rhinoplasty").id == "liquid-nose-job"
    assert "non-surgical rhinoplasty" not in vocab.term("hyaluronic-acid-filler").synonyms


def test_no_surface_form_belongs_to_two_builtin_terms():
    from indexer.annotate import tokens

    vocab = load_vocabulary()
    owner: dict[tuple, str] = {}
    for term in vocab.terms():
        for form in term.synonyms:
            key = tuple(tokens(form))
            assert owner.setdefault(key, term.id) == term.id, (form, owner[key], term.id)
    for phrase in vocab.ignore:
        assert tuple(tokens(phrase)) not in owner, phrase


def test_same_id_for_procedure_and_risk_in_user_file(tmp_path: Path):
    data_dir = tmp_path / "data"
    _write(data_dir, '[procedures.x-thing]\nname = "X"\ngroup = "skin"\n'
                     '[risks.x-thing]\nname = "X"\nseverity = "common"\n')
    with pytest.raises(BadInputError, match="'x-thing' is already a procedure id"):
        load_vocabulary(data_dir)


def test_edited_user_file_is_reloaded(tmp_path: Path):
    data_dir = tmp_path / "data"
    path = _write(data_dir, '[risks.swelling]\nsynonyms = ["puffed up"]\n')
    assert "puffed up" in load_vocabulary(data_dir).term("swelling").synonyms
    path.write_text('[risks.swelling]\nsynonyms = ["blown up"]\n', encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    synonyms = load_vocabulary(data_dir).term("swelling").synonyms
    assert "blown up" in synonyms and "puffed up" not in synonyms


@pytest.mark.parametrize("text, expected", [
    ("[procedures.x\nname = 1", "invalid TOML"),
    ("[procedures.lip-lift]\nname = 'Lip lift'\ngroup = 'faces'\n", "line 1, [procedures.lip-lift]: field 'group'"),
    ("\n\n[risks.new-risk]\nname = 'New'\nseverity = 'mild'\n", "line 3, [risks.new-risk]: field 'severity'"),
    ("[risks.new-risk]\nname = 'New'\n", "missing the required field 'severity'"),
    ("[risks.swelling]\nsynonyms = 'puffy'\n", "field 'synonyms' must be a list"),
    ("[risks.swelling]\ncolour = 'red'\n", "unknown field 'colour'"),
    ("[risks.Bad_Id]\nname = 'x'\nseverity = 'common'\n", "id must be lower-case"),
    ("[procedures.swelling]\nname = 'x'\ngroup = 'skin'\n", "'swelling' is already a risk id"),
    ("[treatments.x]\nname = 'x'\n", "unknown section [treatments]"),
])
def test_invalid_user_file_names_file_entry_and_field(tmp_path: Path, text: str, expected: str):
    data_dir = tmp_path / "data"
    path = _write(data_dir, text)
    with pytest.raises(BadInputError) as err:
        load_vocabulary(data_dir)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_user_vocabulary_that_is_a_directory_is_bad_input(tmp_path: Path):
    (tmp_path / "data" / "vocabulary.toml").mkdir(parents=True)
    with pytest.raises(BadInputError, match="is not a file"):
        load_vocabulary(tmp_path / "data")


def test_missing_user_file_means_builtin_only(tmp_path: Path):
    assert load_vocabulary(tmp_path / "nowhere").term("rhinoplasty") is not None
