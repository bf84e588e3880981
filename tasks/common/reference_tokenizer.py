"""A stand-alone reference of the word tokenization and id mapping of rnnzoo's text models.

Copy this one file into an app that runs an exported ``.tflite`` text model: it needs only the
Python standard library and the export's ``assets/vocabulary.txt`` (and the settings in
``assets/tokenizer.json``). It does what `tasks.common.vocabulary` does for the models (a test
holds the two to the same output):

1. normalize: Unicode NFKC; the apostrophes U+2019, U+2018, U+02BC -> ``'``; the hyphens
   U+2010, U+2011 -> ``-``; lower case (``str.lower``);
2. tokens: runs of letters and digits with single inner ``'`` or ``-`` (``don't``,
   ``5-year-old``); with ``punctuation="split"`` every other non-space character is a token
   of its own (control characters dropped), with ``"drop"`` they are left out;
3. ids: the line number (from 0) of the token in ``vocabulary.txt``, ``<unk>`` (3) for others;
4. a model input: the first ``max_length`` ids, right-padded with ``<pad>`` (0).

Usage::

    tokenizer = ReferenceTokenizer.from_files("assets/vocabulary.txt", "assets/tokenizer.json")
    ids = tokenizer.model_input("a gripping, funny film")   # list of max_length ints
"""

from __future__ import annotations

import json
import re
import unicodedata

_WORD = r"[^\W_]+(?:['-][^\W_]+)*"
_SPLIT = re.compile(rf"{_WORD}|[^\w\s]|_", re.UNICODE)
_DROP = re.compile(_WORD, re.UNICODE)
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2010": "-",
                       "\u2011": "-"})
PAD_ID, UNK_ID = 0, 3


def reference_tokens(text: str, punctuation: str = "split") -> list[str]:
    """The tokens of ``text`` (steps 1 and 2 of the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD).lower()
    if punctuation == "drop":
        return _DROP.findall(text)
    return [t for t in _SPLIT.findall(text) if len(t) > 1 or unicodedata.category(t) != "Cc"]


class ReferenceTokenizer:
    """Text -> ids with a vocabulary (a list of tokens, id = index)."""

    def __init__(self, tokens: list[str], *, punctuation: str = "split",
                 max_length: int | None = None):
        self.index = {token: i for i, token in enumerate(tokens)}
        self.punctuation = punctuation
        self.max_length = max_length

    @classmethod
    def from_files(cls, vocabulary_txt: str, tokenizer_json: str) -> ReferenceTokenizer:
        """The tokenizer of an export's (or preset's) ``assets/``."""
        with open(vocabulary_txt, encoding="utf-8") as handle:
            tokens = handle.read().split("\n")[:-1]
        with open(tokenizer_json, encoding="utf-8") as handle:
            settings = json.load(handle)
        return cls(tokens, punctuation=settings["punctuation"],
                   max_length=settings["max_length"])

    def ids(self, text: str) -> list[int]:
        """The id of every token of ``text``."""
        return [self.index.get(t, UNK_ID) for t in reference_tokens(text, self.punctuation)]

    def model_input(self, text: str) -> list[int]:
        """The first ``max_length`` ids of ``text``, right-padded with 0."""
        ids = self.ids(text)[:self.max_length]
        return ids + [PAD_ID] * (self.max_length - len(ids))
