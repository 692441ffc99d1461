"""Text analysis for the index: how article text and queries become terms.

One analyzer serves indexing, querying and snippet marking, so a query word always meets
the same form it was indexed under:

    tokens (words; CJK runs as overlapping bigrams) | lowercase | accent fold | stop | stem

Why each step:
- Whoosh's default tokenizer turns a run of Chinese characters into one token, so a Chinese
  query of two characters never matches a sentence. Overlapping character bigrams make every
  substring of two or more characters findable without a dictionary. Measured on the Chinese
  sentences of our demo/test pages (``python bench/ir.py --cjk``, 147 queries): bigrams recall
  1.000 / R-precision 1.000, jieba 0.823 / 0.719 (its segmentation of a query and of the text
  disagree), so ``CJK_MODE`` defaults to bigrams; jieba stays available.
- Accent folding lets "botox" find "Botóx" and "melasma" find "mélasma".
- A short stop list (English function words only): BM25's idf already mutes common words,
  and short lists keep words such as "after" and "over" that matter in researchers' phrases.
- Porter stemming: no stemming lost 0.02 nDCG@10 on NFCorpus and MED; Snowball (Porter2)
  was within +-0.01 of Porter, mixed in sign, so we keep the classic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from whoosh.analysis import (
    CharsetFilter,
    LowercaseFilter,
    StemFilter,
    StopFilter,
    Token,
    Tokenizer,
)
from whoosh.lang.porter import stem as porter_stem
from whoosh.support.charset import accent_map

# Scripts written without spaces between words: Han, kana, Hangul syllables.
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_RUN = re.compile(f"[{CJK_CHARS}]")
# Either a run of CJK characters, or a word (letters/digits, dotted parts kept: "3.5", "e.g").
TOKEN_PATTERN = re.compile(
    rf"(?P<cjk>[{CJK_CHARS}]+)|(?P<word>[^\W{CJK_CHARS}]+(?:\.[^\W{CJK_CHARS}]+)*)")

# Tunable: "bigram" (dictionary-free, best recall) or "jieba" (dictionary words + their bigrams).
CJK_MODE = "bigram"

# A short English stop list tuned for retrieval (see module docstring). Single letters and the
# commonest function words only; the measurement is in bench/RESULTS.md.
STOP_WORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have he her his how
i if in into is it its
me my no not of on or our she so such than that the their them then there these they this
those to was we were what when where which while who whom why will with would you your
""".split())


def is_cjk(text: str) -> bool:
    """True if ``text`` contains a CJK character (used to pick phrase vs. term queries)."""
    return _CJK_RUN.search(text) is not None


class WordCJKTokenizer(Tokenizer):
    """Words as Whoosh's tokenizer finds them, but CJK runs split into overlapping bigrams.

    Character offsets are kept exact so snippets can mark the original text; positions are
    consecutive so phrase queries across bigrams work ("隆鼻手术" -> 隆鼻 鼻手 手术).
    """

    def __init__(self, cjk_mode: str = CJK_MODE):
        self.cjk_mode = cjk_mode

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordCJKTokenizer) and other.cjk_mode == self.cjk_mode

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost, token.stopped = 1.0, False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        pos = start_pos
        for match in TOKEN_PATTERN.finditer(value):
            if match.lastgroup == "word":
                pieces = [(match.start(), match.end())]
            else:
                pieces = list(self._cjk_pieces(match.group(), match.start()))
            for start, end in pieces:
                token.text = value[start:end]
                token.boost, token.stopped = 1.0, False
                if keeporiginal:
                    token.original = token.text
                if positions:
                    token.pos = pos
                if chars:
                    token.startchar, token.endchar = start_char + start, start_char + end
                pos += 1
                yield token

    def _cjk_pieces(self, run: str, offset: int) -> Iterator[tuple[int, int]]:
        if self.cjk_mode == "jieba":
            yield from _jieba_pieces(run, offset)
            return
        if len(run) == 1:
            yield offset, offset + 1
            return
        for i in range(len(run) - 1):
            yield offset + i, offset + i + 2


def _jieba_pieces(run: str, offset: int) -> Iterator[tuple[int, int]]:
    """Dictionary words from jieba's search mode (which also emits the words inside long ones)."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    for _word, start, end in jieba.tokenize(run, mode="search"):
        yield offset + start, offset + end


def stem(word: str) -> str:
    """Porter-stem Latin-script words; CJK pieces and numbers pass unchanged."""
    if not word.isascii() or not word.isalpha():
        return word
    return porter_stem(word)


def make_analyzer(*, stop_words: frozenset[str] = STOP_WORDS, stemming: bool = True,
                  cjk_mode: str = CJK_MODE):
    """The analyzer for title and text fields (index and query side alike)."""
    chain = (WordCJKTokenizer(cjk_mode) | LowercaseFilter() | CharsetFilter(accent_map)
             | StopFilter(stoplist=stop_words, minsize=1))
    if stemming:
        chain = chain | StemFilter(stemfn=stem, cachesize=100_000)
    return chain


def analyze(text: str, analyzer=None) -> list[str]:
    """Terms of ``text`` in order (stop words removed), e.g. for free-text queries."""
    analyzer = analyzer or make_analyzer()
    return [t.text for t in analyzer(text)]


def fold(text: str) -> str:
    """Case- and accent-folded text, for comparing surface forms (synonyms, suggestions)."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
