"""A word vocabulary for the text tasks: normalization, tokens, ids, and a plain-text asset.

Normalization (`normalize`), the one place it is defined:

1. Unicode NFKC (compatibility forms folded: full-width letters, ligatures such as "ﬁ",
   superscript digits), then the typographic apostrophes ’ ‘ ʼ become ``'`` and the Unicode
   hyphens U+2010/U+2011 become ``-``;
2. lower case (``str.lower``, not ``casefold``: "ß" stays "ß").

Tokens (`tokenize`): a *word* is a run of letters and digits, with single apostrophes or
hyphens inside it (``don't``, ``man's``, ``t-shirt``, ``5-year-old`` are one word each);
everything else that is not white space is punctuation, one token per character. With
``punctuation="drop"`` (the default, and the captioning choice: BLEU on captions is
conventionally computed without punctuation) punctuation is left out; with ``"split"``
(translation, later tasks) each mark is a token of its own. Control characters are always
dropped. Numbers are words of digits: "3.5" is ``3 5`` (drop) or ``3 . 5`` (split).

Limits: words are separated by spaces or punctuation, so scripts written without spaces
(Chinese, Japanese, Thai) give one token per phrase, and combining marks that NFKC does not
compose (Devanagari vowel signs) split words; such text needs a subword tokenizer.

Ids: ``<pad>`` = 0, ``<start>`` = 1, ``<end>`` = 2, ``<unk>`` = 3, then the words, most
frequent first (ties in code-point order). Words never collide with the special tokens: the
brackets are punctuation, so the text "<end>" is the word ``end``.

The asset (`Vocabulary.save`, `Vocabulary.load`): UTF-8 text, one token per line, line
number (from 0) = id, ending with a newline: an app reads it with a split on newlines. It
holds the tokens only; the normalization is this module's, and the punctuation choice is the
caller's (the task's): pass the same ``punctuation`` to `Vocabulary.load` as to
`Vocabulary.build`. A file that is empty, not UTF-8, or does not start with the four special
tokens in order, or that has an empty line, a token with white space or control characters,
or a repeated token, is refused with a `VocabularyError` naming the file and the line.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from tasks.common.input_files import check_input_file
from zoo.errors import RnnzooError

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
PAD_ID, START_ID, END_ID, UNK_ID = 0, 1, 2, 3
PUNCTUATION_MODES = ("drop", "split")

_WORD = r"[^\W_]+(?:['-][^\W_]+)*"
_TOKEN = re.compile(rf"{_WORD}|[^\w\s]|_", re.UNICODE)
_WORD_ONLY = re.compile(_WORD, re.UNICODE)
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2010": "-",
                       "\u2011": "-"})


class VocabularyError(RnnzooError, ValueError):
    """A vocabulary asset that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def normalize(text: str) -> str:
    """``text`` in NFKC, apostrophes and hyphens folded, lower case (see the module
    docstring); white space and punctuation are kept."""
    return unicodedata.normalize("NFKC", text).translate(_FOLD).lower()


def _check_mode(punctuation: str) -> str:
    if punctuation not in PUNCTUATION_MODES:
        raise ValueError(f"punctuation must be one of {', '.join(PUNCTUATION_MODES)}, got "
                         f"{punctuation!r}")
    return punctuation


def tokenize(text: str, *, punctuation: str = "drop") -> list[str]:
    """The tokens of ``text``: `normalize`, then words (and, with ``punctuation="split"``,
    one token per punctuation mark); control characters are dropped."""
    pattern = _WORD_ONLY if _check_mode(punctuation) == "drop" else _TOKEN
    tokens = pattern.findall(normalize(text))
    if punctuation == "split":
        tokens = [t for t in tokens if len(t) > 1 or unicodedata.category(t) != "Cc"]
    return tokens


def normalized_text(text: str, *, punctuation: str = "drop") -> str:
    """The tokens of ``text`` joined by single spaces: the form `Vocabulary.decode` returns,
    so references and model outputs can be compared (BLEU) as the same kind of text."""
    return " ".join(tokenize(text, punctuation=punctuation))


def _problem_in_token(token: str) -> str | None:
    if not token:
        return "is empty"
    if any(c.isspace() for c in token):
        return "contains white space"
    if any(unicodedata.category(c) == "Cc" for c in token):
        return "contains control characters"
    return None


class Vocabulary:
    """Words <-> ids with the special tokens ``<pad>`` 0, ``<start>`` 1, ``<end>`` 2,
    ``<unk>`` 3 (see the module docstring).

    ``tokens``: every token in id order, the four special ones first; ``punctuation``: how
    `encode` tokenizes (`tokenize`).
    """

    def __init__(self, tokens: Sequence[str], *, punctuation: str = "drop"):
        tokens = tuple(tokens)
        if tokens[:len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary starts with {', '.join(SPECIALS)}; got "
                             f"{', '.join(map(repr, tokens[:len(SPECIALS)])) or 'nothing'}")
        index: dict[str, int] = {}
        for i, token in enumerate(tokens):
            problem = _problem_in_token(token) if isinstance(token, str) else "is not a string"
            if problem:
                raise ValueError(f"token {i} ({token!r}) {problem}")
            if token in index:
                raise ValueError(f"token {token!r} appears twice (ids {index[token]} and {i})")
            index[token] = i
        self.tokens = tokens
        self.punctuation = _check_mode(punctuation)
        self._index = index

    # building ---------------------------------------------------------------------------
    @classmethod
    def build(cls, texts: Iterable[str], *, min_count: int = 1, max_size: int | None = None,
              punctuation: str = "drop") -> Vocabulary:
        """The vocabulary of ``texts`` (training texts only): every word seen at least
        ``min_count`` times, most frequent first (ties in code-point order), cut to
        ``max_size`` tokens in all (the four special tokens included); other words will be
        ``<unk>``."""
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be a positive integer, got {min_count!r}")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < len(SPECIALS)):
            raise ValueError(f"max_size must be an integer >= {len(SPECIALS)} (the special "
                             f"tokens count), got {max_size!r}")
        if isinstance(texts, str):
            raise TypeError("texts must be an iterable of strings, not one string")
        counts = Counter()
        for text in texts:
            counts.update(tokenize(text, punctuation=punctuation))
        words = sorted((w for w, n in counts.items() if n >= min_count),
                       key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[:max_size - len(SPECIALS)]
        return cls((*SPECIALS, *words), punctuation=punctuation)

    # lookups ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocabulary) and self.tokens == other.tokens
                and self.punctuation == other.punctuation)

    def __hash__(self) -> int:
        return hash((self.tokens, self.punctuation))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, punctuation={self.punctuation!r})"

    @property
    def size(self) -> int:
        """The number of ids (the output width of a model that predicts tokens)."""
        return len(self.tokens)

    def id(self, token: str) -> int:
        """The id of ``token`` (already tokenized), ``<unk>``'s for a word not in it."""
        return self._index.get(token, UNK_ID)

    def token(self, id_: int) -> str:
        """The token of ``id_``; ValueError outside ``0 .. size - 1``."""
        id_ = int(id_)
        if not 0 <= id_ < len(self.tokens):
            raise ValueError(f"token id {id_} is outside this vocabulary (0-{len(self) - 1})")
        return self.tokens[id_]

    # text <-> ids -----------------------------------------------------------------------
    def encode_counted(self, text: str, *, add_start_end: bool = True,
                       max_length: int | None = None) -> tuple[list[int], int]:
        """``(ids, cut)``: the ids of ``text`` (`encode`) and how many ids ``max_length`` cut
        off (words, and ``<end>``): 0 when the text fits, > 0 when it was truncated."""
        ids = [self._index.get(t, UNK_ID) for t in tokenize(text, punctuation=self.punctuation)]
        extra = 2 if add_start_end else 0
        cut = 0
        if max_length is not None:
            if isinstance(max_length, bool) or not isinstance(max_length, int) \
                    or max_length < extra + 1:
                raise ValueError(f"max_length must be an integer >= {extra + 1}, got "
                                 f"{max_length!r}")
            if len(ids) + extra > max_length:
                cut = len(ids) + extra - max_length
                keep = max_length - (1 if add_start_end else 0)
                return ([START_ID, *ids[:keep]] if add_start_end else ids[:keep]), cut
        return ([START_ID, *ids, END_ID] if add_start_end else ids), cut

    def encode(self, text: str, *, add_start_end: bool = True,
               max_length: int | None = None) -> list[int]:
        """The ids of ``text``'s tokens, unknown words as ``<unk>``, between ``<start>`` and
        ``<end>`` when ``add_start_end``.

        ``max_length``: the most ids returned, ``<start>`` and ``<end>`` included. A longer
        text keeps ``<start>`` and its first ``max_length - 1`` words and has *no* ``<end>``
        (it is a true prefix: a model taught on it never learns to stop where the text did
        not). `encode_counted` also says how many ids were cut.
        """
        return self.encode_counted(text, add_start_end=add_start_end, max_length=max_length)[0]

    def decode_tokens(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` up to the first ``<end>``, ``<pad>`` and ``<start>`` left
        out, ``<unk>`` kept as ``"<unk>"``."""
        out = []
        for id_ in ids:
            token = self.token(id_)
            if token == END:
                break
            if token not in (PAD, START):
                out.append(token)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """`decode_tokens` joined by single spaces (the `normalized_text` form)."""
        return " ".join(self.decode_tokens(ids))

    # the asset --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the tokens, one per line in id order, UTF-8, to ``path`` (atomically)."""
        path = Path(path)
        temporary = path.with_name(".partial-" + path.name)
        temporary.write_text("".join(f"{t}\n" for t in self.tokens), encoding="utf-8",
                             newline="\n")
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, punctuation: str = "drop") -> Vocabulary:
        """The vocabulary saved at ``path`` (see the module docstring for what is refused)."""
        _check_mode(punctuation)
        path = check_input_file(path, "vocabulary", VocabularyError)
        data = path.read_bytes()
        data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data  # a byte-order mark
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise VocabularyError(path, f"not UTF-8 text (byte 0x{data[error.start]:02x} at "
                                        f"offset {error.start})") from None
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the final newline
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if not lines:
            raise VocabularyError(path, "holds no tokens")
        for i, special in enumerate(SPECIALS):
            if i >= len(lines) or lines[i] != special:
                got = f"is {lines[i]!r}" if i < len(lines) else "is missing"
                raise VocabularyError(path, f"line {i + 1} {got}, expected {special} (a "
                                            f"vocabulary file starts with {', '.join(SPECIALS)}"
                                            ", one per line)")
        seen: dict[str, int] = {}
        for number, token in enumerate(lines, start=1):
            problem = _problem_in_token(token)
            if problem:
                raise VocabularyError(path, f"line {number}: the token {problem}")
            if token in seen:
                raise VocabularyError(path, f"line {number}: {token!r} repeats line "
                                            f"{seen[token]}")
            seen[token] = number
        return cls(lines, punctuation=punctuation)
