"""A character vocabulary for the text tasks (character-level language models, the character
features of a word tagger).

Normalization: Unicode NFC (composed forms, so "é" is one character whichever way it was
typed); case is kept unless ``lowercase=True`` (capitals carry meaning for names and for
generated text). A character is one code point after NFC; white space and line ends are
characters like any other.

Ids: ``<pad>`` = 0, ``<unk>`` = 1, then the characters seen at least ``min_count`` times in the
training text, most frequent first (ties in code-point order).

The asset (`CharVocabulary.save`, `CharVocabulary.load`): a UTF-8 JSON object
``{"format": "rnnzoo-characters", "version": 1, "lowercase": false, "tokens": [...]}``, list
index = id. JSON because a newline is itself a character; an app reads it with any JSON parser
and maps each code point of NFC-normalized text to its index, unknown ones to 1. A file that is
not UTF-8 JSON of that shape, whose tokens do not start with ``<pad>``, ``<unk>``, or hold
something other than single characters or a repeat, is refused with a `VocabularyError`
naming the file.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from tasks.common.input_files import check_input_file
from tasks.common.vocabulary import VocabularyError

CHAR_PAD, CHAR_UNK = "<pad>", "<unk>"
CHAR_SPECIALS = (CHAR_PAD, CHAR_UNK)
CHAR_PAD_ID, CHAR_UNK_ID = 0, 1
FORMAT = "rnnzoo-characters"


def normalize_characters(text: str, *, lowercase: bool = False) -> str:
    """``text`` in NFC, lower-cased when ``lowercase``."""
    text = unicodedata.normalize("NFC", text)
    return text.lower() if lowercase else text


class CharVocabulary:
    """Characters <-> ids, ``<pad>`` 0 and ``<unk>`` 1 first (see the module docstring)."""

    def __init__(self, tokens: Sequence[str], *, lowercase: bool = False):
        tokens = tuple(tokens)
        if tokens[:2] != CHAR_SPECIALS:
            raise ValueError(f"a character vocabulary starts with {CHAR_PAD}, {CHAR_UNK}; got "
                             f"{', '.join(map(repr, tokens[:2])) or 'nothing'}")
        index: dict[str, int] = {}
        for i, token in enumerate(tokens):
            if i >= 2 and (not isinstance(token, str) or len(token) != 1):
                raise ValueError(f"token {i} ({token!r}) is not a single character")
            if token in index:
                raise ValueError(f"token {token!r} appears twice (ids {index[token]} and {i})")
            index[token] = i
        self.tokens = tokens
        self.lowercase = bool(lowercase)
        self._index = index

    @classmethod
    def build(cls, texts: Iterable[str], *, min_count: int = 1, max_size: int | None = None,
              lowercase: bool = False) -> CharVocabulary:
        """The characters of ``texts`` (training text only) seen at least ``min_count`` times,
        most frequent first, cut to ``max_size`` ids in all (the two special ones included)."""
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be a positive integer, got {min_count!r}")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < 3):
            raise ValueError(f"max_size must be an integer >= 3, got {max_size!r}")
        if isinstance(texts, str):
            texts = [texts]
        counts: Counter = Counter()
        for text in texts:
            counts.update(normalize_characters(text, lowercase=lowercase))
        chars = sorted((c for c, n in counts.items() if n >= min_count),
                       key=lambda c: (-counts[c], c))
        if max_size is not None:
            chars = chars[:max_size - 2]
        return cls((*CHAR_SPECIALS, *chars), lowercase=lowercase)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, CharVocabulary) and self.tokens == other.tokens
                and self.lowercase == other.lowercase)

    def __hash__(self) -> int:
        return hash((self.tokens, self.lowercase))

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self)} tokens, lowercase={self.lowercase})"

    @property
    def size(self) -> int:
        """The number of ids."""
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """The id of each character of ``text`` (normalized), ``<unk>`` for unseen ones."""
        return [self._index.get(c, CHAR_UNK_ID)
                for c in normalize_characters(text, lowercase=self.lowercase)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``: ``<pad>`` left out, ``<unk>`` as U+FFFD."""
        out = []
        for id_ in ids:
            id_ = int(id_)
            if not 0 <= id_ < len(self.tokens):
                raise ValueError(f"character id {id_} is outside this vocabulary "
                                 f"(0-{len(self) - 1})")
            if id_ == CHAR_UNK_ID:
                out.append("\ufffd")
            elif id_ != CHAR_PAD_ID:
                out.append(self.tokens[id_])
        return "".join(out)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the JSON asset to ``path`` (atomically)."""
        path = Path(path)
        temporary = path.with_name(".partial-" + path.name)
        temporary.write_text(json.dumps({"format": FORMAT, "version": 1,
                                         "lowercase": self.lowercase,
                                         "tokens": list(self.tokens)}, ensure_ascii=False,
                                        indent=0) + "\n", encoding="utf-8")
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharVocabulary:
        """The vocabulary saved at ``path`` (see the module docstring for what is refused)."""
        path = check_input_file(path, "character vocabulary", VocabularyError)
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as error:
            raise VocabularyError(path, f"not UTF-8 text (offset {error.start})") from None
        except json.JSONDecodeError as error:
            raise VocabularyError(path, f"not JSON (line {error.lineno}: {error.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise VocabularyError(path, f"not a character vocabulary (no \"format\": "
                                        f"\"{FORMAT}\")")
        if data.get("version") != 1:
            raise VocabularyError(path, f"version {data.get('version')!r} is not supported "
                                        f"(this rnnzoo reads version 1)")
        tokens = data.get("tokens")
        if not isinstance(tokens, list):
            raise VocabularyError(path, "\"tokens\" is not a list")
        try:
            return cls(tokens, lowercase=bool(data.get("lowercase", False)))
        except ValueError as error:
            raise VocabularyError(path, str(error)) from None
