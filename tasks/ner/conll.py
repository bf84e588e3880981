"""Reading CoNLL-style named-entity files: one token per line, the token first and its entity
tag last (CoNLL-2003: ``token POS chunk NER``), sentences separated by empty lines.

Lines starting with ``-DOCSTART-`` (document breaks) are skipped and end the sentence. Tags
are ``O`` or ``B-TYPE`` / ``I-TYPE``. Both IOB schemes are read: IOB1 (CoNLL-2003's original
files, ``B-`` only between two adjacent entities of one type) is converted to IOB2 (every
entity starts with ``B-``; the ``conll2003_ner`` copy in ../shared/data is already IOB2), so
that models and seqeval always see IOB2. The file is read as strict UTF-8
(`tasks.common.text_lines`); a line with one column, a tag that is not IOB, or a file
without a sentence raises a `ConllError` ``<file>:<line>: <problem>``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tasks.common.text_lines import TextInputError, read_text_lines

DOCSTART = "-DOCSTART-"
_TAG = re.compile(r"^(O|[BI]-\S+)$")


class ConllError(TextInputError):
    """A CoNLL file that cannot be read (``<file>:<line>: <problem>``)."""


@dataclass(frozen=True)
class Sentence:
    """Tokens and their IOB2 tags; ``line``: the line number of its first token."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    line: int


def to_iob2(tags: list[str]) -> list[str]:
    """IOB1 or IOB2 tags as IOB2: an ``I-X`` that does not continue an ``X`` entity becomes
    ``B-X`` (IOB2 input comes back unchanged)."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-"):
            previous = out[i - 1] if i else "O"
            if previous == "O" or previous[2:] != tag[2:]:
                tag = "B-" + tag[2:]
        out.append(tag)
    return out


def read_conll(path: str | os.PathLike) -> list[Sentence]:
    """The sentences of a CoNLL file (see the module docstring), tags in IOB2."""
    path = Path(path)
    lines = read_text_lines(path, kind="CoNLL file", keep_empty=True)
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    first = 0

    def close() -> None:
        if tokens:
            sentences.append(Sentence(tuple(tokens), tuple(to_iob2(tags)), first))
            tokens.clear()
            tags.clear()

    for number, line in lines:
        columns = line.split()
        if not columns:
            close()
            continue
        if columns[0] == DOCSTART:
            close()
            continue
        if len(columns) < 2:
            raise ConllError(path, f"expected a token and its tag (e.g. 'token POS chunk NER'), "
                                   f"got one column {columns[0]!r}", number)
        tag = columns[-1]
        if not _TAG.match(tag):
            raise ConllError(path, f"tag {tag!r} (the last column) is not O, B-TYPE or I-TYPE",
                             number)
        if not tokens:
            first = number
        tokens.append(columns[0])
        tags.append(tag)
    close()
    if not sentences:
        raise ConllError(path, "holds no sentences (token and tag lines separated by empty "
                               "lines)")
    return sentences


SPLIT_FILES = {"train": ("train.txt",), "validation": ("valid.txt", "dev.txt", "validation.txt"),
               "test": ("test.txt",)}


def split_file(folder: str | os.PathLike, split: str) -> Path:
    """The file of ``split`` (train, validation, test) in a CoNLL folder (``train.txt``,
    ``valid.txt`` or ``dev.txt``, ``test.txt``); a single file is every split itself."""
    folder = Path(folder).expanduser()
    if folder.is_file():
        return folder
    if split == "valid":
        split = "validation"
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_FILES)}")
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such CoNLL folder or file")
    for name in SPLIT_FILES[split]:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder}: no {' or '.join(SPLIT_FILES[split])} for the {split} "
                            "split")
