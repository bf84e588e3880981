"""Parallel sentences for translation: reading, checking, splitting and encoding.

Two layouts (``--data``):

* a folder of parallel files ``<split>.<language>`` or ``<split>.<language>.gz``, one
  sentence per line, line ``i`` of the source file translated by line ``i`` of the target
  file (Multi30k: ``train``, ``val`` and ``test_2016_flickr``; the test file set is a data
  option, ``test_set``);
* a tab-separated file (or a folder holding one ``.txt``/``.tsv`` file) of
  ``source<TAB>target`` lines, further columns ignored (Tatoeba's ``fra.txt``: English then
  French; ``reverse`` swaps the columns). It has no split: every pair goes to train,
  validation or test by a hash of its source sentence (80/10/10), so a sentence and its
  alternative translations stay in one part, and the held-out parts never change.

Every file is read as strict UTF-8 (`tasks.common.text_lines`); a line that is not UTF-8, an
empty sentence, a line without a tab, or parallel files with different line counts raise a
`TranslationDataError` naming the file (and line).

Encoding (`encode`): the joint subword model (`tasks.common.subwords`) maps each side to ids;
the source is cut to ``max_source_length`` ids and padded with 0 to that length (the model's
fixed source length), the target becomes ``<start> y1 .. yn`` (input ``tokens``) and
``y1 .. yn <end>`` (the target) of ``max_length`` ids. Cut sentences are counted and reported
on stderr (`tasks.common.text_lines.TruncationReport`); a cut target has no ``<end>``.
"""

from __future__ import annotations

import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.common.subwords import END_ID, START_ID, Subwords
from tasks.common.text_lines import TextInputError, TruncationReport, read_text_lines
from zoo.errors import RnnzooError

SPLITS = ("train", "validation", "test")
SPLIT_FILES = {"train": "train", "validation": "val"}
TEST_SET = "test_2016_flickr"
TABLE_SUFFIXES = (".txt", ".tsv")
HELD_OUT = {"validation": (80, 90), "test": (90, 100)}  # hash buckets of 100; the rest train
MAX_SOURCE_LENGTH, MAX_LENGTH = 40, 40


class TranslationDataError(RnnzooError, ValueError):
    """Parallel data that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class Pairs:
    """Source and target sentences of one split, with where each pair came from."""

    sources: list[str]
    targets: list[str]
    where: list[str]  # "<source file>:<line>"
    target_where: list[str] | None = None  # "<target file>:<line>" when another file

    def __len__(self) -> int:
        return len(self.sources)

    def head(self, count: int) -> Pairs:
        """The first ``count`` pairs."""
        return Pairs(self.sources[:count], self.targets[:count], self.where[:count],
                     None if self.target_where is None else self.target_where[:count])


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def _parallel_file(folder: Path, name: str, language: str) -> Path:
    for candidate in (folder / f"{name}.{language}", folder / f"{name}.{language}.gz"):
        if candidate.is_file():
            return candidate
    raise TranslationDataError(f"{folder}: no file {name}.{language} or {name}.{language}.gz "
                               f"(a folder of parallel files holds <split>.<language>[.gz])")


def _table_file(path: Path) -> Path | None:
    """The tab-separated file ``path`` names (itself, or the one table in a folder)."""
    if path.is_file():
        return path
    tables = sorted(p for p in path.iterdir() if p.suffix in TABLE_SUFFIXES and p.is_file())
    return tables[0] if len(tables) == 1 else None


def _read_parallel(source_file: Path, target_file: Path) -> Pairs:
    left = read_text_lines(source_file, kind="source text", keep_empty=True)
    right = read_text_lines(target_file, kind="target text", keep_empty=True)
    if len(left) != len(right):
        raise TranslationDataError(
            f"{source_file} has {len(left):,} lines but {target_file} has {len(right):,}: "
            f"parallel files hold one sentence per line on both sides")
    sources, targets, where, target_where = [], [], [], []
    for (number, source), (_, target) in zip(left, right):
        for text, path in ((source, source_file), (target, target_file)):
            if not text.strip():
                raise TranslationDataError(f"{path}:{number}: empty sentence (every line "
                                           f"of a parallel file is one sentence)")
        sources.append(source.strip())
        targets.append(target.strip())
        where.append(f"{source_file.name}:{number}")
        target_where.append(f"{target_file.name}:{number}")
    return Pairs(sources, targets, where, target_where)


def _bucket(sentence: str) -> int:
    return zlib.crc32(" ".join(sentence.lower().split()).encode("utf-8")) % 100


def _read_table(path: Path, split: str, reverse: bool) -> Pairs:
    lines = read_text_lines(path, kind="sentence pairs")
    low, high = HELD_OUT.get(split, (None, None))
    sources, targets, where = [], [], []
    for number, line in lines:
        columns = line.split("\t")
        if len(columns) < 2:
            raise TranslationDataError(f"{path}:{number}: expected source<TAB>target, found no "
                                       f"tab")
        source, target = columns[0].strip(), columns[1].strip()
        if reverse:
            source, target = target, source
        if not source or not target:
            side = "source" if not source else "target"
            raise TranslationDataError(f"{path}:{number}: empty {side} sentence")
        bucket = _bucket(source)
        held = any(lo <= bucket < hi for lo, hi in HELD_OUT.values())
        if (split == "train" and held) or (split != "train" and not low <= bucket < high):
            continue
        sources.append(source)
        targets.append(target)
        where.append(f"{path.name}:{number}")
    return Pairs(sources, targets, where)


def read_pairs(path: str | os.PathLike, split: str, *, source: str = "en", target: str = "de",
               test_set: str = TEST_SET, reverse: bool = False,
               max_pairs: int | None = None) -> Pairs:
    """The sentence pairs of ``split`` (train, validation, test) at ``path`` (see the module
    docstring): ``source``/``target`` languages and ``test_set`` name the parallel files,
    ``reverse`` swaps a table's columns; ``max_pairs``: only the first pairs (quick runs)."""
    _check_split(split)
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder of sentence pairs")
    table = _table_file(path)
    if table is not None and (path.is_file()
                              or not any(path.glob(f"{SPLIT_FILES['train']}.{source}*"))):
        pairs = _read_table(table, split, reverse)
    elif path.is_dir():
        name = SPLIT_FILES.get(split, test_set)
        pairs = _read_parallel(_parallel_file(path, name, source),
                               _parallel_file(path, name, target))
    else:
        raise TranslationDataError(f"{path}: neither a folder of parallel files nor a "
                                   f"tab-separated file of pairs")
    if not len(pairs):
        raise TranslationDataError(f"{path}: no sentence pairs in the {split} split")
    if max_pairs is not None:
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be positive, got {max_pairs}")
        pairs = pairs.head(max_pairs)
    return pairs


def _check_lengths(max_source_length: int, max_length: int) -> None:
    if max_source_length < 1:
        raise ValueError(f"max_source_length must be positive, got {max_source_length}")
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2 (a token and <end>), got {max_length}")


def encode_source(subwords: Subwords, sentence: str, max_source_length: int,
                  report: TruncationReport | None = None, where: str | None = None) -> np.ndarray:
    """The source ids of ``sentence``, cut to ``max_source_length`` (counted in ``report``)
    and padded with 0 to it."""
    ids = subwords.encode(sentence)
    if report is not None:
        report.add(len(ids), where)
    row = np.zeros(max_source_length, np.int32)
    ids = ids[:max_source_length]
    row[:len(ids)] = ids
    return row


def encode(pairs: Pairs, subwords: Subwords, *, max_source_length: int = MAX_SOURCE_LENGTH,
           max_length: int = MAX_LENGTH, quiet: bool = False) -> tuple[dict, np.ndarray]:
    """``({"source": [n, max_source_length], "tokens": [n, max_length]}, target [n,
    max_length])`` int32 arrays of ``pairs`` (see the module docstring); cut sentences are
    reported on stderr unless ``quiet``."""
    _check_lengths(max_source_length, max_length)
    count = len(pairs)
    source = np.zeros((count, max_source_length), np.int32)
    tokens = np.zeros((count, max_length), np.int32)
    target = np.zeros((count, max_length), np.int32)
    source_report = TruncationReport(max_source_length)
    target_report = TruncationReport(max_length)  # y1 .. yn <end>
    target_where = pairs.target_where or pairs.where
    for i, (src, tgt) in enumerate(zip(pairs.sources, pairs.targets)):
        source[i] = encode_source(subwords, src, max_source_length, source_report,
                                  pairs.where[i])
        ids = [START_ID, *subwords.encode(tgt), END_ID]
        target_report.add(len(ids) - 1, target_where[i])
        ids = ids[:max_length + 1]
        tokens[i, :len(ids) - 1] = ids[:-1]
        target[i, :len(ids) - 1] = ids[1:]
    if not quiet:
        for report, side in ((source_report, "source"), (target_report, "target")):
            message = report.message(f"{side} sentences", "subword ids")
            if message:
                print(f"translation: {message}", file=sys.stderr, flush=True)
    return {"source": source, "tokens": tokens}, target


def training_sentences(pairs: Pairs) -> list[str]:
    """Both sides of the training pairs: what a joint subword model learns from."""
    return [*pairs.sources, *pairs.targets]


__all__ = ["MAX_LENGTH", "MAX_SOURCE_LENGTH", "Pairs", "TextInputError", "TranslationDataError",
           "encode", "encode_source", "read_pairs", "training_sentences"]
