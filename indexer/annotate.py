"""Which procedures and which risks an article speaks of, and the sentences that tie them.

The matcher works on tokens, not raw characters: English words are lower-cased and reduced by
a small suffix stripper (plural, -ing, -ed, final -e), so "bruise", "bruised" and "bruising"
are one form and word boundaries come for free; every Chinese character is its own token, so
Chinese forms match without spaces; traditional characters are folded to simplified first.
All surface forms of the vocabulary live in one token trie and overlapping matches are settled
longest first ("fat embolism" beats "embolism", "non-surgical rhinoplasty" is a filler, and
ignore-phrases like "acne scars" swallow the "scar" that would otherwise be a risk).

Precision over recall: a procedure named once in passing in a long article is kept in
``mentions`` but not listed as one of the article's procedures (see ``_main_procedures``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from corpus.models import Evidence
from indexer.vocabulary import Vocabulary, load_vocabulary, to_simplified

# Tunables for listing procedures (measured on tests/data/annotation_set.jsonl, see
# bench/annotation.py): a procedure not named in the title is listed when it is among the
# most mentioned, or mentioned at least MIN_MENTIONS times and at least MIN_SHARE of the top.
MIN_MENTIONS = 2
MIN_SHARE = 0.3
MAX_EVIDENCE_PER_PAIR = 3  # example sentences kept per (procedure, risk)
MAX_GAP = 5  # tokens a "..." in a vocabulary form may stand for
MAX_SENTENCE_CHARS = 400  # evidence longer than this is cut (a run-on "sentence" is a list)

_IGNORE = "\0ignore"
_END = "\0"
_GAP = "\0gap"
_GAP_RE = re.compile(r"\s*(?:\.\.\.|…)\s*")  # "injury to ... nerve": a gap of 1..MAX_GAP tokens
_TOKEN_RE = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PARAGRAPH_RE = re.compile(r"\n\s*\n|\n")
# Sentences, and the list items that run on inside one: "rhinoplasty: swelling; facelift:
# hematoma", "1) Botox - headache 2) fillers - lumps", "• peel: redness • laser: burns".
# One pattern, so a paragraph is cut in a single pass.
_ITEM_SPLIT_RE = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])|\s(?=\(?\d{1,2}[.)](?:\s|$))|[•▪●]")
HEADING_CHARS = 80  # a line this short, naming a procedure and no risk, can head a section
# A short line ending like a sentence is a one-line paragraph, not a heading; a question is
# kept as one because FAQ pages head their sections with questions ("What about Botox?").
_SENTENCE_ENDS = (".", "!", "。", "！", "；", ";")
# Cues that, right before a risk, say it does not happen ("leaves no scar", "不会过敏").
_NEGATIONS = [("no",), ("without",), ("not",), ("never",), ("zero",), ("free", "of"),
              ("不", "会"), ("没", "有"), ("无",), ("不",), ("未",)]
_CONSONANTS = set("bdgkmnprt")  # doubled before -ing/-ed ("scarring"); not l, s, f, z ("swelling")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately small English suffix stripper: both the vocabulary and the text go
    through it, so it only has to be consistent, not linguistically right."""
    if len(word) <= 3 or not word.isascii():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ing") and len(word) >= 6:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and not word.endswith("eed") and len(word) >= 5:
        word = _undouble(word[:-2])
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) >= 4:
        word = word[:-1]
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return word


def _negated(toks: list[str], start: int) -> bool:
    """True when a negation cue ends right before ``start`` ("leaves no scar"), or a
    "no risk of" style cue ends a few tokens before it ("no risk of rejection or allergy")."""
    if any(tuple(toks[max(0, start - len(cue)):start]) == cue for cue in _NEGATIONS):
        return True
    window = _SEP + _SEP.join(toks[max(0, start - _WIDE_WINDOW - _WIDE_CUE_MAX):start]) + _SEP
    return any(cue in window for cue in _WIDE_NEGATION_TEXTS)


def _undouble(word: str) -> str:
    if len(word) >= 3 and word[-1] == word[-2] and word[-1] in _CONSONANTS:
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Stemmed tokens of ``text``: English words and single CJK characters (simplified)."""
    return [stem(t) for t in _TOKEN_RE.findall(to_simplified(text).lower())]


_WIDE_NEGATIONS = [tuple(tokens(cue)) for cue in (
    "no risk of", "no chance of", "no danger of", "without any", "without the risk of",
    "不会出现", "没有出现", "不会引起", "不会导致", "不用担心", "无需担心", "看不到", "看不出",
    "不会留")]
_WIDE_WINDOW = 4  # tokens allowed between a wide cue and the risk it negates
_WIDE_CUE_MAX = max(len(cue) for cue in _WIDE_NEGATIONS)
_SEP = "\x01"  # joins tokens so a cue is found by one substring search
_WIDE_NEGATION_TEXTS = [_SEP + _SEP.join(cue) + _SEP for cue in _WIDE_NEGATIONS]


@dataclass
class Annotation:
    """What the annotator found in one document (stored on ``corpus.Document``)."""

    procedures: list[str] = field(default_factory=list)  # canonical ids, most mentioned first
    risks: list[str] = field(default_factory=list)
    mentions: dict[str, int] = field(default_factory=dict)  # id -> count (procedures and risks)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class _Sentence:
    """One list item or sentence: the smallest span a risk is tied to a procedure in."""

    text: str
    paragraph: int
    procedures: list[str]
    risks: list[str]
    heading: bool = False  # part of a line that opens a section (see ``_is_heading``)


class Annotator:
    """Finds vocabulary terms in cleaned article text. Build once, call ``annotate`` per page."""

    def __init__(self, vocabulary: Vocabulary, *, min_mentions: int = MIN_MENTIONS,
                 min_share: float = MIN_SHARE):
        self.vocabulary = vocabulary
        self.min_mentions = min_mentions
        self.min_share = min_share
        self._trie: dict = {}
        for phrase in vocabulary.ignore:
            self._add(phrase, _IGNORE)
        for term in vocabulary.terms():
            for form in term.synonyms:
                self._add(form, term.id)

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Annotator:
        """An annotator over the built-in vocabulary merged with the data dir's own file."""
        return cls(load_vocabulary(data_dir))

    def _add(self, form: str, term_id: str) -> None:
        parts = [toks for toks in (tokens(part) for part in _GAP_RE.split(form)) if toks]
        if not parts:
            return
        node = self._trie
        for n, part in enumerate(parts):
            if n:
                node = node.setdefault(_GAP, {})
            for tok in part:
                node = node.setdefault(tok, {})
        # First registration wins on a clash: ignore-phrases, then procedures, then risks.
        node.setdefault(_END, term_id)

    def _longest(self, node: dict, toks: list[str], j: int, used: tuple[int, ...]):
        """Longest form matching ``toks`` from ``j`` in trie ``node``: (end, id, positions)."""
        best = (j, node[_END], used) if _END in node else None
        options = []
        if j < len(toks) and toks[j] in node:
            options.append(self._longest(node[toks[j]], toks, j + 1, (*used, j)))
        if _GAP in node:
            for k in range(j + 1, min(len(toks), j + MAX_GAP) + 1):
                options.append(self._longest(node[_GAP], toks, k, used))
        for option in options:
            if option is not None and (best is None or option[0] > best[0]):
                best = option
        return best

    def find(self, text: str) -> list[str]:
        """Term ids mentioned in ``text``, in order of appearance.

        Longest match first across the whole text, not just left to right: in "引起皮肤坏死"
        the four-character "皮肤坏死" must win over the "起皮" that starts one character
        earlier. A form with a gap ("injury to ... nerve") only claims the tokens it names,
        so terms inside the gap still count. A risk right after a negation ("no scarring",
        "不会过敏") is not a mention.
        """
        toks = tokens(text)
        candidates = []
        for i in range(len(toks)):
            if toks[i] in self._trie:
                found = self._longest(self._trie[toks[i]], toks, i + 1, (i,))
                if found is not None:
                    candidates.append((i, *found))
        candidates.sort(key=lambda c: (c[0] - c[1], c[0]))
        taken = [False] * len(toks)
        chosen = []
        for start, _end, term_id, positions in candidates:
            if any(taken[p] for p in positions):
                continue
            for p in positions:
                taken[p] = True
            chosen.append((start, term_id))
        chosen.sort()
        procs = self.vocabulary.procedures
        return [term_id for start, term_id in chosen
                if term_id != _IGNORE and (term_id in procs or not _negated(toks, start))]

    def annotate(self, text: str, title: str = "") -> Annotation:
        """Procedures, risks, mention counts and risk evidence of one article."""
        procs = self.vocabulary.procedures
        sentences = list(self._sentences(text))
        title_ids = self.find(title) if title else []
        counts: Counter[str] = Counter(title_ids)
        first_seen: dict[str, int] = {}
        for tid in title_ids:
            first_seen.setdefault(tid, -1)
        for number, sentence in enumerate(sentences):
            for tid in sentence.procedures + sentence.risks:
                counts[tid] += 1
                first_seen.setdefault(tid, number)

        def order(ids: list[str]) -> list[str]:
            return sorted(ids, key=lambda t: (-counts[t], first_seen[t], t))

        proc_ids = [t for t in counts if t in procs]
        main = self._main_procedures(proc_ids, counts, {t for t in title_ids if t in procs})
        risks = order([t for t in counts if t not in procs])
        return Annotation(
            procedures=order(main), risks=risks, mentions=dict(sorted(counts.items())),
            evidence=self._evidence(sentences, order(main)),
        )

    def _main_procedures(self, ids: list[str], counts: Counter[str],
                         in_title: set[str]) -> list[str]:
        """The procedures an article is about, not every one it names.

        A title naming procedures is the strongest signal; otherwise the most mentioned ones
        count. Any other procedure needs repeated mentions and a fair share of the top count.
        """
        if not ids:
            return []
        top = max(counts[t] for t in ids)
        keep = set(in_title) if in_title else {t for t in ids if counts[t] == top}
        keep |= {t for t in ids if counts[t] >= max(self.min_mentions, self.min_share * top)}
        return [t for t in ids if t in keep]

    def _sentences(self, text: str):
        """The text's items in order: paragraphs (lines) cut into sentences, sentences cut
        into run-on list items, each with the procedures and risks it names."""
        procs = self.vocabulary.procedures
        for number, paragraph in enumerate(p for p in _PARAGRAPH_RE.split(text) if p.strip()):
            items = []
            for piece in _ITEM_SPLIT_RE.split(paragraph):
                item = " ".join(piece.split()).rstrip(";")
                if not item:
                    continue
                ids = self.find(item)
                items.append(_Sentence(
                    text=item, paragraph=number,
                    procedures=[t for t in ids if t in procs],
                    risks=[t for t in ids if t not in procs],
                ))
            if _is_heading(paragraph, items):
                for item in items:
                    item.heading = True
            yield from items

    @staticmethod
    def _evidence(sentences: list[_Sentence], main: list[str]) -> list[Evidence]:
        """Attach each risk to the procedure of the smallest span around it that names one.

        List-style pages ("Rhinoplasty" as a heading, then its risks; "facelift: hematoma;
        liposuction: seroma") name each procedure once and its risks in the lines or items
        after it, so the article's main procedure is the wrong default there. The search goes
        outwards, nearest first: the procedures named in the same list item or sentence (all
        of them: "swelling after rhinoplasty and facelift" speaks of both); else the last one
        named earlier in the same paragraph; else the one the current section's heading names
        (a section runs to the next heading; a paragraph naming another procedure in passing
        does not end it); else the article's main procedure.
        """
        out: list[Evidence] = []
        kept: Counter[tuple[str, str]] = Counter()
        last_proc: str | None = None
        section: list[str] = []
        paragraph = -1
        for sentence in sentences:
            if sentence.paragraph != paragraph:
                paragraph, last_proc = sentence.paragraph, None
            if sentence.procedures:
                last_proc = sentence.procedures[-1]
                if sentence.heading:
                    section = list(dict.fromkeys(sentence.procedures))
            if not sentence.risks:
                continue
            targets = list(dict.fromkeys(sentence.procedures))
            if not targets:
                targets = [last_proc] if last_proc else section or main[:1]
            text = sentence.text
            if len(text) > MAX_SENTENCE_CHARS:
                text = text[:MAX_SENTENCE_CHARS - 1].rstrip() + "…"
            for proc in targets:
                for risk in dict.fromkeys(sentence.risks):
                    if kept[(proc, risk)] < MAX_EVIDENCE_PER_PAIR:
                        kept[(proc, risk)] += 1
                        out.append(Evidence(procedure=proc, risk=risk, sentence=text))
        return out


def _is_heading(paragraph: str, items: list[_Sentence]) -> bool:
    """A line that announces a procedure for the lines below it: names one, names no risk,
    and is either a lead-in ending in a colon ("Rhinoplasty risks to know:") or a short line
    not ending like a statement ("2. Blepharoplasty", "一、隆鼻", "And with lip fillers?"):
    the cleaner keeps HTML headings and list items as lines of their own, without markup, so
    shape is all that tells a heading from a one-line paragraph."""
    if not any(item.procedures for item in items) or any(item.risks for item in items):
        return False
    line = paragraph.strip()
    if line.endswith((":", "：")):
        return True
    return len(line) <= HEADING_CHARS and not line.endswith(_SENTENCE_ENDS)
