"""Token and character ids of the tagger, from vocabularies built on the training sentences.

Words: the key of a token is `tasks.common.vocabulary.normalize` (NFKC, apostrophes folded,
lower case) with every digit replaced by ``0`` (``1996-08-22`` and ``2001-01-30`` share one
id); the word vocabulary holds the keys seen at least ``min_count`` times (default 2, so that
``<unk>`` is trained on the rare words), padding is id 0 and unknown words id 3
(`tasks.common.vocabulary.Vocabulary`). Characters: the token as written (NFC, case kept:
capitals mark names), `tasks.common.characters.CharVocabulary`, padding 0 and unknown 1.
Tags: ``O`` first, then ``B-`` and ``I-`` of every entity type of the training data, sorted.

Lengths: a sentence is cut to ``max_length`` tokens and a token to ``max_word_length``
characters (its first ones); cuts are counted in `TruncationReport` s and printed once per
file on stderr. Every example is padded to those lengths: ``{"words": int32 [max_length],
"chars": int32 [max_length, max_word_length]}`` and int32 tag ids ``[max_length]`` (0 at
padding; the model's mask is ``words != 0``).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tasks.common.characters import CharVocabulary
from tasks.common.text_lines import TruncationReport
from tasks.common.vocabulary import SPECIALS, Vocabulary, normalize
from tasks.ner.conll import Sentence

MAX_LENGTH, MAX_WORD_LENGTH, MIN_COUNT, CHAR_MIN_COUNT = 128, 20, 2, 1
_DIGIT = re.compile(r"\d")


def word_key(token: str) -> str:
    """The word-vocabulary key of ``token``: normalized, lower case, digits as 0."""
    return _DIGIT.sub("0", normalize(token))


def build_words(sentences: Iterable[Sentence], min_count: int = MIN_COUNT) -> Vocabulary:
    """The word vocabulary of training ``sentences`` (keys seen ``min_count`` times)."""
    counts = Counter(word_key(t) for s in sentences for t in s.tokens)
    keys = sorted((k for k, n in counts.items() if n >= min_count and k not in SPECIALS
                   and k and not any(c.isspace() or unicodedata.category(c) == "Cc"
                                     for c in k)), key=lambda k: (-counts[k], k))
    return Vocabulary((*SPECIALS, *keys), punctuation="split")


def build_characters(sentences: Iterable[Sentence],
                     min_count: int = CHAR_MIN_COUNT) -> CharVocabulary:
    """The character vocabulary of training ``sentences`` (case kept)."""
    return CharVocabulary.build((t for s in sentences for t in s.tokens), min_count=min_count)


def build_tags(sentences: Iterable[Sentence]) -> list[str]:
    """``O`` then ``B-X`` and ``I-X`` of every entity type X of ``sentences``, sorted."""
    types = {t[2:] for s in sentences for t in s.tags if t != "O"}
    return ["O", *sorted(f"{p}-{x}" for x in types for p in "BI")]


@dataclass
class Encoder:
    """Turns sentences into the model's padded id arrays."""

    words: Vocabulary
    characters: CharVocabulary
    tags: Sequence[str]
    max_length: int = MAX_LENGTH
    max_word_length: int = MAX_WORD_LENGTH

    def __post_init__(self):
        self._tag_ids = {t: i for i, t in enumerate(self.tags)}

    def token_ids(self, tokens: Sequence[str], sentences: TruncationReport | None = None,
                  words: TruncationReport | None = None, where: str | None = None):
        """``(word ids [max_length], char ids [max_length, max_word_length])`` of one
        sentence's tokens, cut and padded."""
        if sentences is not None:
            sentences.add(len(tokens), where)
        tokens = list(tokens)[:self.max_length]
        word_ids = np.zeros(self.max_length, np.int32)
        char_ids = np.zeros((self.max_length, self.max_word_length), np.int32)
        for i, token in enumerate(tokens):
            word_ids[i] = self.words.id(word_key(token))
            chars = self.characters.encode(token)
            if words is not None:
                words.add(len(chars), where)
            chars = chars[:self.max_word_length]
            char_ids[i, :len(chars)] = chars
        return word_ids, char_ids

    def tag_ids(self, tags: Sequence[str], where: str = "") -> np.ndarray:
        """Tag ids ``[max_length]`` (0 at padding); a tag the model does not know is refused."""
        ids = np.zeros(self.max_length, np.int32)
        for i, tag in enumerate(list(tags)[:self.max_length]):
            if tag not in self._tag_ids:
                raise ValueError(f"{where}: tag {tag!r} is not one of the model's tags "
                                 f"({', '.join(self.tags)})")
            ids[i] = self._tag_ids[tag]
        return ids

    def encode(self, sentences: Sequence[Sentence], source: str = "") -> tuple[dict, np.ndarray]:
        """``({"words", "chars"}, tags)`` arrays of ``sentences``, with truncations reported
        on stderr."""
        cut_sentences = TruncationReport(self.max_length)
        cut_words = TruncationReport(self.max_word_length)
        words = np.zeros((len(sentences), self.max_length), np.int32)
        chars = np.zeros((len(sentences), self.max_length, self.max_word_length), np.int32)
        tags = np.zeros((len(sentences), self.max_length), np.int32)
        for n, sentence in enumerate(sentences):
            where = f"{source}:{sentence.line}"
            words[n], chars[n] = self.token_ids(sentence.tokens, cut_sentences, cut_words, where)
            tags[n] = self.tag_ids(sentence.tags, where)
        for report, what, unit in ((cut_sentences, "sentences", "tokens"),
                                   (cut_words, "tokens", "characters")):
            message = report.message(what, unit)
            if message:
                print(f"note: {source}: {message}", file=sys.stderr, flush=True)
        return {"words": words, "chars": chars}, tags


TOKENIZER_MAPPING = "rnnzoo-ner-v1"


def tokenizer_json(max_length: int, max_word_length: int) -> str:
    """The tagger's ``tokenizer.json`` asset: how an app turns a sentence into the model's
    inputs with the assets beside it (`tasks.common.reference_tokenizer.ReferenceTaggerInput`
    does it with the standard library only; a test holds it to this module)."""
    settings = {
        "mapping": TOKENIZER_MAPPING,
        "vocabulary": "vocab.txt", "characters": "characters.json", "labels": "labels.txt",
        "tokens": "CoNLL-style: abbreviations such as U.S., runs of letters/digits with inner "
                  ". ' - or &, every other non-space character alone",
        "word_key": "NFKC; U+2019 U+2018 U+02BC -> '; U+2010 U+2011 -> -; str.lower; every "
                    "digit -> 0; id = line of vocab.txt, 3 (<unk>) if absent",
        "characters_key": "NFC, case kept; id = index in characters.json tokens, 1 if absent",
        "inputs": {"words": f"int32 [{int(max_length)}]",
                   "chars": f"int32 [{int(max_length)}, {int(max_word_length)}]"},
        "pad_id": 0, "padding": "right", "max_length": int(max_length),
        "max_word_length": int(max_word_length),
        "truncation": f"the first {int(max_length)} tokens, each token's first "
                      f"{int(max_word_length)} characters",
        "outputs": "one tag id per token (line of labels.txt; IOB2)",
        "reference": "tasks/common/reference_tokenizer.py (standard library only)",
    }
    return json.dumps(settings, indent=1, ensure_ascii=False) + "\n"
