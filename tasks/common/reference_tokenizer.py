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

Two more mappings, for the other text models (tests hold each against the library too):

* `ReferenceCharacters` (character models, ``assets/characters.json``: textgen): Unicode NFC
  (lower case where the file says ``"lowercase": true``), each code point's index in
  ``tokens``, ``<unk>`` (1) for others.
* `ReferenceTaggerInput` (the named-entity tagger, ``assets/tokenizer.json`` of mapping
  ``rnnzoo-ner-v1`` beside ``vocab.txt``, ``characters.json`` and ``labels.txt``): the
  sentence split as CoNLL text is (`tagger_tokens`: abbreviations such as ``U.S.``, runs of
  letters and digits with inner ``.``, ``'``, ``-`` or ``&``, every other mark alone); a word's
  id is that of its key (step 1 above, then every digit ``0``: ``1996`` and ``2001`` share
  one) in ``vocab.txt``, ``<unk>`` (3) for others; its characters are mapped as
  `ReferenceCharacters` does, case kept; the first ``max_length`` tokens and each token's
  first ``max_word_length`` characters, padded with 0. The model returns one tag id per
  token (line number in ``labels.txt``).
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


CHAR_UNK_ID = 1
_TAGGER_TOKEN = re.compile(r"(?:[^\W_]\.){2,}|[^\W_]+(?:[.'&-][^\W_]+)*|\S")
_DIGIT = re.compile(r"\d")


class ReferenceCharacters:
    """Text -> character ids with a character vocabulary (``characters.json``)."""

    def __init__(self, tokens: list[str], *, lowercase: bool = False):
        self.index = {token: i for i, token in enumerate(tokens)}
        self.lowercase = lowercase

    @classmethod
    def from_file(cls, characters_json: str) -> ReferenceCharacters:
        """The mapping of a ``characters.json`` asset (its ``tokens`` and ``lowercase``)."""
        with open(characters_json, encoding="utf-8") as handle:
            data = json.load(handle)
        return cls(data["tokens"], lowercase=bool(data.get("lowercase", False)))

    def ids(self, text: str) -> list[int]:
        """The id of each character of ``text`` after NFC (and lower case if so saved)."""
        text = unicodedata.normalize("NFC", text)
        if self.lowercase:
            text = text.lower()
        return [self.index.get(c, CHAR_UNK_ID) for c in text]


def tagger_tokens(text: str) -> list[tuple[str, int, int]]:
    """``(token, start, end)`` of each token of a sentence, offsets into ``text``."""
    return [(m.group(), m.start(), m.end()) for m in _TAGGER_TOKEN.finditer(text)]


def tagger_word_key(token: str) -> str:
    """The key a token is looked up by in ``vocab.txt``: normalized, digits as ``0``."""
    return _DIGIT.sub("0", unicodedata.normalize("NFKC", token).translate(_FOLD).lower())


class ReferenceTaggerInput:
    """A sentence -> the tagger's ``words`` [max_length] and ``chars`` [max_length,
    max_word_length] inputs, and its tag ids -> tags."""

    def __init__(self, words: list[str], characters: ReferenceCharacters, labels: list[str],
                 *, max_length: int, max_word_length: int):
        self.words = {token: i for i, token in enumerate(words)}
        self.characters = characters
        self.labels = labels
        self.max_length = max_length
        self.max_word_length = max_word_length

    @classmethod
    def from_folder(cls, assets: str) -> ReferenceTaggerInput:
        """The mapping of an export's (or preset's) ``assets/`` folder."""
        def path(name: str) -> str:
            return f"{assets}/{name}"

        with open(path("tokenizer.json"), encoding="utf-8") as handle:
            settings = json.load(handle)
        if settings.get("mapping") != "rnnzoo-ner-v1":
            raise ValueError(f"{path('tokenizer.json')}: mapping {settings.get('mapping')!r} "
                             "is not rnnzoo-ner-v1")

        def lines(name: str) -> list[str]:
            with open(path(settings[name]), encoding="utf-8") as handle:
                return handle.read().split("\n")[:-1]

        return cls(lines("vocabulary"), ReferenceCharacters.from_file(path(settings["characters"])),
                   lines("labels"), max_length=settings["max_length"],
                   max_word_length=settings["max_word_length"])

    def model_input(self, text: str) -> dict[str, list]:
        """``{"words": [max_length ints], "chars": [max_length x max_word_length ints]}``."""
        tokens = [token for token, _, _ in tagger_tokens(text)][:self.max_length]
        words = [self.words.get(tagger_word_key(t), UNK_ID) for t in tokens]
        chars = [self.characters.ids(t)[:self.max_word_length] for t in tokens]
        padding = self.max_length - len(tokens)
        return {"words": words + [PAD_ID] * padding,
                "chars": [row + [PAD_ID] * (self.max_word_length - len(row))
                          for row in chars + [[]] * padding]}

    def tags(self, tag_ids: list[int], text: str) -> list[str]:
        """The tag of each token of ``text`` (the model's output cut to its tokens)."""
        count = min(len(tagger_tokens(text)), self.max_length)
        return [self.labels[int(i)] for i in tag_ids[:count]]
