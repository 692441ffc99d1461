"""Risk evidence on list-style pages goes to the procedure of its own item or section.

The texts are our own writing, laid out the way ``indexer.clean`` hands pages over: every
heading, list item and table row on a line of its own, without markup.
"""

from __future__ import annotations

import pytest

from indexer.annotate import Annotator

NUMBERED = (
    "Rhinoplasty is the operation our readers ask about most, and we start with it.\n"
    "Five procedures and their risks:\n"
    "1. Rhinoplasty\n"
    "Swelling around the nose can take a year to settle.\n"
    "2. Blepharoplasty\n"
    "Dry eye is common in the first weeks.\n"
    "3. Facelift\n"
    "A hematoma under the skin in the first night is the main worry.\n"
    "4. Liposuction\n"
    "Numbness over the treated area can last months.\n"
    "5. Botox\n"
    "A headache on the first day is not unusual."
)
BULLETS = (
    "Rhinoplasty takes the longest to settle, but every operation has its own list.\n"
    "Rhinoplasty risks to know:\n"
    "swelling that lasts for months\n"
    "bruising under both eyes\n"
    "Blepharoplasty risks to know:\n"
    "dry eye in the first weeks\n"
    "a small asymmetry between the lids\n"
    "Breast augmentation risks to know:\n"
    "capsular contracture years later\n"
    "infection around the implant"
)
HEADED = (
    "Rhinoplasty changes the nose for good, which is why we compare it with two other options.\n"
    "Rhinoplasty\n"
    "Swelling is the slowest thing to go. Breathing through the nose can be hard at first.\n"
    "Facelift\n"
    "Bleeding under the skin can form a hematoma. Injury to a branch of the facial nerve is rare.\n"
    "Thread lift\n"
    "Dimpling of the skin shows in some people. Threads can become infected."
)
INLINE = (
    "Rhinoplasty is first on our list. At a glance: rhinoplasty: swelling, bruising; "
    "blepharoplasty: dry eye; facelift: hematoma; liposuction: seroma.\n"
    "1) Botox - headache 2) Lip fillers - lumps"
)
TABLE = (
    "Rhinoplasty and facelift are our two most-read guides.\n"
    "| Procedure | Main risks |\n"
    "|---|---|\n"
    "| Rhinoplasty | swelling, breathing problems |\n"
    "| Facelift | hematoma, nerve injury |\n"
    "| Blepharoplasty | dry eye |"
)
FAQ = (
    "Lip fillers are what most readers write to us about.\n"
    "What can go wrong with Botox?\n"
    "A drooping eyelid is the side effect people fear most. It wears off in weeks.\n"
    "And with lip fillers?\n"
    "Lumps can be massaged away within a few days.\n"
    "Booking and prices\n"
    "Ask for a written quote."
)
CHINESE = (
    "隆鼻是大家最关心的手术。\n"
    "一、隆鼻\n"
    "术后肿胀可能持续几个月。\n"
    "二、双眼皮\n"
    "术后可能出现两侧不对称。\n"
    "三、吸脂\n"
    "局部麻木可能持续数月。"
)


@pytest.fixture(scope="module")
def annotator() -> Annotator:
    return Annotator.load()


def pairs(annotator: Annotator, text: str, title: str = "") -> set[tuple[str, str]]:
    return {(e.procedure, e.risk) for e in annotator.annotate(text, title).evidence}


@pytest.mark.parametrize("title, text, expected", [
    ("Five procedures and their risks", NUMBERED, {
        ("rhinoplasty", "swelling"), ("blepharoplasty", "dry-eye"), ("facelift", "hematoma"),
        ("liposuction", "numbness"), ("botulinum-toxin", "headache")}),
    ("Which surgery heals fastest? Rhinoplasty and others", BULLETS, {
        ("rhinoplasty", "swelling"), ("rhinoplasty", "bruising"),
        ("blepharoplasty", "dry-eye"), ("blepharoplasty", "asymmetry"),
        ("breast-augmentation", "capsular-contracture"), ("breast-augmentation", "infection")}),
    ("Rhinoplasty, facelift and thread lift compared", HEADED, {
        ("rhinoplasty", "swelling"), ("facelift", "bleeding"), ("facelift", "hematoma"),
        ("facelift", "nerve-damage"), ("thread-lift", "lumps"), ("thread-lift", "infection")}),
    ("Risks at a glance", INLINE, {
        ("rhinoplasty", "swelling"), ("rhinoplasty", "bruising"), ("blepharoplasty", "dry-eye"),
        ("facelift", "hematoma"), ("liposuction", "seroma"), ("botulinum-toxin", "headache"),
        ("lip-augmentation", "lumps")}),
    ("Risk table: rhinoplasty and facelift", TABLE, {
        ("rhinoplasty", "swelling"), ("rhinoplasty", "breathing-problems"),
        ("facelift", "hematoma"), ("facelift", "nerve-damage"), ("blepharoplasty", "dry-eye")}),
    ("Your questions about fillers and Botox", FAQ, {
        ("botulinum-toxin", "eyelid-ptosis"), ("lip-augmentation", "lumps")}),
    ("三种手术的风险", CHINESE, {
        ("rhinoplasty", "swelling"), ("blepharoplasty", "asymmetry"), ("liposuction", "numbness")}),
], ids=["numbered", "bullets", "headed", "inline", "table", "faq", "chinese"])
def test_each_risk_goes_to_the_procedure_of_its_item_or_section(
        annotator: Annotator, title: str, text: str, expected: set[tuple[str, str]]):
    assert pairs(annotator, text, title) == expected


def test_main_procedure_is_still_listed_on_a_list_page(annotator: Annotator):
    # the association changed, not what the article is said to be about
    assert annotator.annotate(NUMBERED, "Five procedures and their risks").procedures[0] == (
        "rhinoplasty")


def test_run_on_items_are_their_own_evidence(annotator: Annotator):
    evidence = {(e.procedure, e.risk): e.sentence for e in annotator.annotate(INLINE).evidence}
    assert evidence[("facelift", "hematoma")] == "facelift: hematoma"
    assert evidence[("lip-augmentation", "lumps")] == "2) Lip fillers - lumps"
    bullets = "• Chemical peel: redness • Laser hair removal: burns"
    assert pairs(annotator, bullets) == {("chemical-peel", "redness"),
                                         ("laser-hair-removal", "burns")}


def test_a_clause_after_a_semicolon_does_not_take_the_risk_before_it(annotator: Annotator):
    text = ("Fat freezing is gentle. A rare side effect called paradoxical adipose hyperplasia "
            "makes the treated fat grow; it is usually corrected with liposuction.")
    assert pairs(annotator, text, "CoolSculpting side effects") == {
        ("cryolipolysis", "paradoxical-hyperplasia")}


def test_a_procedure_named_in_passing_does_not_end_the_section(annotator: Annotator):
    text = ("Rhinoplasty\n"
            "Unlike a facelift, it is done through the nostrils.\n"
            "Swelling around the tip lasts for months.")
    assert pairs(annotator, text, "Nose or face?") == {("rhinoplasty", "swelling")}


def test_the_same_paragraph_beats_the_section_heading(annotator: Annotator):
    text = ("Rhinoplasty\n"
            "Some patients add a facelift on the same day. A hematoma is its main risk.")
    assert pairs(annotator, text) == {("facelift", "hematoma")}


def test_a_one_line_statement_is_not_a_heading(annotator: Annotator):
    text = ("Facelift recovery takes a few weeks.\n"
            "We also offer Botox.\n"
            "Swelling of the cheeks can last a month.")
    assert pairs(annotator, text, "Facelift recovery") == {("facelift", "swelling")}


def test_without_headings_the_main_procedure_still_takes_unattached_risks(
        annotator: Annotator):
    text = "Liposuction shapes the waist.\nBruising fades in two weeks."
    assert pairs(annotator, text, "Liposuction") == {("liposuction", "bruising")}
