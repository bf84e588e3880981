"""Character sequences of a plain-text corpus for ``textgen``.

A corpus is one UTF-8 text file (``--data`` names it, or a folder holding exactly one
``.txt``), read strictly (`tasks.common.text_lines.read_text`: bytes that are not UTF-8 stop
with ``<file>:<line>``), NFC-normalized, and split by position into contiguous parts: the
first ``1 - validation - test`` of its characters train, then ``validation``, then ``test``
(default 0.9 / 0.1 / 0, the split of char-rnn and nanoGPT on tinyshakespeare, which has no
test part). The character vocabulary is built from the training part only
(`tasks.common.characters.CharVocabulary`), or given (``characters``: a model's own tokens).

Examples are windows of ``length + 1`` characters: inputs the first ``length`` ids, targets
the ``length`` ids after them (int32). Training windows start every ``stride`` characters
(default ``length``); validation and test windows never overlap, so every character of those
parts after the first is a target once (a tail shorter than a window is left out).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tasks.common.characters import CharVocabulary, normalize_characters
from tasks.common.text_lines import TextInputError, read_text

SPLITS = ("train", "validation", "test")
DEFAULTS = {"length": 128, "validation": 0.1, "test": 0.0}


def find_file(path: str | os.PathLike | None) -> Path:
    """The text file ``path`` names: the file itself, or the only ``.txt`` in a folder."""
    if path is None:
        raise ValueError("task textgen needs --data FILE.txt (or a folder with one .txt file)")
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if len(files) != 1:
            listing = ", ".join(f.name for f in files[:6]) or "none"
            raise TextInputError(path, f"a folder with {len(files)} .txt files ({listing}); "
                                       "give --data the text file")
        return files[0]
    return path


@dataclass(frozen=True)
class Corpus:
    """A text split into parts (``parts[split]``: its characters) and its vocabulary."""

    path: Path
    text: str
    parts: dict[str, str]
    vocabulary: CharVocabulary


def _check_fraction(name: str, value: float, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < 1:
        raise ValueError(f"{name} must be a fraction in [{low:g}, 1), got {value!r}")
    return float(value)


@lru_cache(maxsize=4)
def _read(path: Path, mtime: float) -> str:
    return normalize_characters(read_text(path, "text"))


def corpus(path: str | os.PathLike | None, *, validation: float = DEFAULTS["validation"],
           test: float = DEFAULTS["test"], characters: tuple[str, ...] | None = None) -> Corpus:
    """Read and split the corpus at ``path`` (see the module docstring)."""
    validation = _check_fraction("validation fraction", validation, 0.0)
    test = _check_fraction("test fraction", test, 0.0)
    if validation + test >= 1:
        raise ValueError(f"validation ({validation:g}) and test ({test:g}) fractions leave no "
                         "training text")
    file = find_file(path)
    if not file.exists():
        raise FileNotFoundError(f"{file}: no such text file")
    text = _read(file.resolve(), file.stat().st_mtime)
    n = len(text)
    end_train = int(round(n * (1 - validation - test)))
    end_validation = int(round(n * (1 - test)))
    parts = {"train": text[:end_train], "validation": text[end_train:end_validation],
             "test": text[end_validation:]}
    if characters is not None:
        vocabulary = CharVocabulary(list(characters))
    else:
        if not parts["train"]:
            raise TextInputError(file, f"{n:,} characters: no training text")
        vocabulary = CharVocabulary.build(parts["train"])
    return Corpus(file, text, parts, vocabulary)


def split_ids(data: Corpus, split: str, length: int) -> np.ndarray:
    """The ids of one part of ``data``; a `TextInputError` naming the file when the part is
    shorter than one window of ``length + 1`` characters."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    part = data.parts[split]
    if split == "test" and not part:
        raise ValueError(f"{data.path}: no test part (test fraction 0: this corpus is split "
                         "train/validation only, as char-rnn and nanoGPT split it); score "
                         "--split validation, or train with --test-fraction")
    if len(part) < length + 1:
        raise TextInputError(data.path, f"{len(data.text):,} characters; its {split} part has "
                                        f"{len(part):,}, fewer than one sequence of length "
                                        f"{length} + 1 (use a longer text or a smaller "
                                        "--length)")
    return np.asarray(data.vocabulary.encode(part), np.int32)


def check_length(length: int, name: str = "length") -> int:
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"{name} must be a positive integer, got {length!r}")
    return length


def windows(ids: np.ndarray, length: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs [W, length], targets [W, length])`` of the windows of ``length + 1`` ids that
    start every ``stride`` ids."""
    starts = np.arange(0, len(ids) - length, stride)
    index = starts[:, None] + np.arange(length + 1)[None, :]
    block = ids[index]
    return block[:, :-1], block[:, 1:]


def arrays(path, split: str = "train", *, length: int = DEFAULTS["length"],
           stride: int | None = None, validation: float = DEFAULTS["validation"],
           test: float = DEFAULTS["test"], characters=None) -> tuple[np.ndarray, np.ndarray]:
    """The windows of ``split`` as numpy (see `load` for the options)."""
    length = check_length(length)
    stride = length if stride is None or split != "train" else check_length(stride, "stride")
    data = corpus(path, validation=validation, test=test,
                  characters=None if characters is None else tuple(characters))
    return windows(split_ids(data, split, length), length, stride)


def load(path: str | os.PathLike | None, split: str = "train", *,
         length: int = DEFAULTS["length"], stride: int | None = None,
         validation: float = DEFAULTS["validation"], test: float = DEFAULTS["test"],
         characters: list[str] | None = None):
    """Unbatched ``(inputs [length], targets [length])`` int32 windows of ``split``.

    ``length``: characters per example; ``stride``: characters between training windows
    (default ``length``); ``validation``, ``test``: fractions of the text at its end;
    ``characters``: the vocabulary's tokens (default: built from the training part).
    """
    import tensorflow as tf

    inputs, targets = arrays(path, split, length=length, stride=stride, validation=validation,
                             test=test, characters=characters)
    return tf.data.Dataset.from_tensor_slices((inputs, targets))


def representative(path: str | os.PathLike | None, n: int, *,
                   length: int = DEFAULTS["length"], stride: int | None = None,
                   validation: float = DEFAULTS["validation"], test: float = DEFAULTS["test"],
                   characters: list[str] | None = None) -> list[np.ndarray]:
    """Up to ``n`` training windows ``[1, length]``, spread evenly over the training part."""
    inputs, _ = arrays(path, "train", length=length, validation=validation, test=test,
                       characters=characters)
    picks = np.unique(np.linspace(0, len(inputs) - 1, num=min(n, len(inputs))).round()
                      .astype(int))
    return [inputs[i:i + 1] for i in picks]


def training_vocabulary(path: str | os.PathLike | None, *,
                        validation: float = DEFAULTS["validation"],
                        test: float = DEFAULTS["test"]) -> CharVocabulary:
    """The character vocabulary of the training part of the corpus at ``path``."""
    return corpus(path, validation=validation, test=test).vocabulary
