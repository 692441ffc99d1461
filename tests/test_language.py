"""Language of unmarked pages: script rules for CJK, py3langid for everything else.

The samples are our own paragraphs (tests/data/language_samples.json); a page that gets no
language cannot be found with ``--lang``, and one that gets a wrong language is hidden, so the
tests check both that each sample is named and that scraps too small to judge are not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.clean import clean
from indexer.metadata import _identifier, detect_language

SAMPLES = json.loads((Path(__file__).parent / "data" / "language_samples.json")
                     .read_text(encoding="utf-8"))["samples"]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_every_sample_language_is_found(sample: dict) -> None:
    assert detect_language(sample["text"]) == sample["lang"]


def test_samples_cover_the_languages_we_expect() -> None:
    langs = {s["lang"] for s in SAMPLES}
    assert {"en", "fr", "de", "es", "it", "pt", "ru", "zh", "ja", "ko"} <= langs


@pytest.mark.parametrize("text", [
    "", "   \n\t ", "12345 678", "2024-05-01 10:32", "$499 — 30% off", "Botox", "FAQ",
    "隆鼻", "Read more >>", "© 2024 All rights reserved", "Home | About | Contact",
    "Home > Blog > Injectables > Botox", "PRP PDO HIFU RF IPL CO2 LED",
    "Previous Next Share on Facebook Share on Twitter", "-- ... !!! ??? ###",
])
def test_short_numeric_or_empty_text_has_no_language(text: str) -> None:
    assert detect_language(text) is None


def test_chinese_with_english_terms_stays_chinese() -> None:
    text = ("热玛吉（Thermage FLX）和超声刀（Ultherapy HIFU）都属于紧致类项目。"
            "Thermage用的是射频，HIFU用的是聚焦超声，两者作用的深度不同。"
            "做之前最好请医生评估皮肤松弛程度，再决定选择哪一种。")
    assert detect_language(text) == "zh"


def test_japanese_and_korean_by_script_even_with_latin_terms() -> None:
    ja = ("ヒアルロン酸フィラーとボトックスの違いについて説明します。ボトックスは筋肉の動きを"
          "抑えるもので、Juvederm などのフィラーはボリュームを足すものです。")
    ko = "보톡스와 필러는 목적이 다릅니다. Botox는 근육을 이완시키고 필러는 꺼진 부위를 채웁니다."
    assert detect_language(ja) == "ja"
    assert detect_language(ko) == "ko"


def test_a_few_words_of_navigation_do_not_outvote_the_article() -> None:
    french = " ".join(s["text"] for s in SAMPLES if s["lang"] == "fr")
    assert detect_language("Home About Contact Login\n" + french) == "fr"


def test_long_text_is_judged_on_its_first_five_thousand_characters() -> None:
    german = " ".join(s["text"] for s in SAMPLES if s["lang"] == "de")
    spanish = " ".join(s["text"] for s in SAMPLES if s["lang"] == "es")
    text = (german + " ") * (5000 // len(german) + 1) + spanish * 20
    assert detect_language(text) == "de"


def test_the_model_is_loaded_once() -> None:
    assert _identifier() is _identifier()


def test_unmarked_french_page_gets_french_from_the_cleaner() -> None:
    paragraphs = "".join(f"<p>{s['text']}</p>" for s in SAMPLES if s["lang"] == "fr")
    html = (f"<html><head><title>Rhinoplastie : la convalescence</title></head><body>"
            f"<article><h1>Rhinoplastie : la convalescence</h1>{paragraphs}</article>"
            f"</body></html>")
    assert clean(html, "https://esthetique.example/rhinoplastie.html").language == "fr"


def test_markup_language_still_wins_over_detection() -> None:
    # The site says Spanish; the text is Portuguese. Markup is the site's own word, so it stays.
    paragraphs = "".join(f"<p>{s['text']}</p>" for s in SAMPLES if s["lang"] == "pt")
    html = (f'<html lang="es-ES"><head><title>Rinoplastia</title></head><body><article>'
            f"<h1>Rinoplastia</h1>{paragraphs}</article></body></html>")
    assert clean(html, "https://estetica.example/rinoplastia.html").language == "es"
