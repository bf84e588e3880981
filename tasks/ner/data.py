"""The ``ner`` datasets: CoNLL files (`tasks.ner.conll`) encoded with the model's vocabularies
(`tasks.ner.encoding`) into unbatched ``({"words", "chars"}, tags)`` examples.

The vocabularies come from the data options that ``rnnzoo train`` stores in the card (the
model's config: ``words``, ``characters``, ``tags``); without them they are built from the
folder's training split, as the training run does.
"""

from __future__ import annotations

import os
from functools import lru_cache

import tensorflow as tf

from tasks.common.characters import CharVocabulary
from tasks.common.vocabulary import Vocabulary
from tasks.ner.conll import Sentence, read_conll, split_file
from tasks.ner.encoding import (
    CHAR_MIN_COUNT,
    MAX_LENGTH,
    MAX_WORD_LENGTH,
    MIN_COUNT,
    Encoder,
    build_characters,
    build_tags,
    build_words,
)


@lru_cache(maxsize=8)
def _sentences(path: str, mtime: float) -> tuple[Sentence, ...]:
    return tuple(read_conll(path))


def sentences(path: str | os.PathLike | None, split: str) -> list[Sentence]:
    """The sentences of ``split`` in the CoNLL folder (or file) ``path``."""
    if path is None:
        raise ValueError("task ner needs --data (a CoNLL folder with train.txt, valid.txt, "
                         "test.txt)")
    file = split_file(path, split)
    return list(_sentences(str(file), file.stat().st_mtime))


def training_sentences(path, with_validation: bool = False) -> list[Sentence]:
    """The training split's sentences, and the validation split's after them with
    ``with_validation`` (the refit of a recipe that validation has chosen)."""
    train = sentences(path, "train")
    return train + sentences(path, "validation") if with_validation else train


def vocabularies(path, *, min_count: int = MIN_COUNT, char_min_count: int = CHAR_MIN_COUNT,
                 with_validation: bool = False) -> dict[str, list[str]]:
    """``{"words", "characters", "tags"}`` built from the training sentences of ``path``
    (`training_sentences`)."""
    train = training_sentences(path, with_validation)
    return {"words": list(build_words(train, min_count).tokens),
            "characters": list(build_characters(train, char_min_count).tokens),
            "tags": build_tags(train)}


def encoder(path, *, words=None, characters=None, tags=None, max_length: int = MAX_LENGTH,
            max_word_length: int = MAX_WORD_LENGTH, min_count: int = MIN_COUNT,
            char_min_count: int = CHAR_MIN_COUNT, with_validation: bool = False) -> Encoder:
    """The `Encoder` of the given vocabularies (built from ``path``'s training sentences,
    `training_sentences`, when not given)."""
    if words is None or characters is None or tags is None:
        built = vocabularies(path, min_count=min_count, char_min_count=char_min_count,
                             with_validation=with_validation)
        words, characters, tags = (words or built["words"], characters or built["characters"],
                                   tags or built["tags"])
    return Encoder(Vocabulary(words, punctuation="split"), CharVocabulary(characters),
                   list(tags), max_length, max_word_length)


_loaded_tags: list[str] = []


def loaded_tags() -> list[str]:
    """The tag names of the most recent `load` (what the metric turns ids into: the Task
    metric receives only a model function and the dataset, and every command loads one
    model's data in a process)."""
    if not _loaded_tags:
        raise ValueError("the ner metric needs data made by tasks.ner.data.load")
    return list(_loaded_tags)


def load(path: str | os.PathLike | None, split: str = "train", *,
         words: list[str] | None = None, characters: list[str] | None = None,
         tags: list[str] | None = None, max_length: int = MAX_LENGTH,
         max_word_length: int = MAX_WORD_LENGTH, min_count: int = MIN_COUNT,
         char_min_count: int = CHAR_MIN_COUNT,
         with_validation: bool = False) -> tf.data.Dataset:
    """Unbatched ``({"words": [T], "chars": [T, C]}, tags [T])`` examples of ``split``.
    ``words``, ``characters``, ``tags``: the model's vocabularies (default: built from the
    training split with ``min_count`` and ``char_min_count``); ``max_length`` tokens per
    sentence and ``max_word_length`` characters per token (longer ones are cut, counted).
    ``with_validation``: the training split holds the validation sentences too."""
    coder = encoder(path, words=words, characters=characters, tags=tags,
                    max_length=max_length, max_word_length=max_word_length,
                    min_count=min_count, char_min_count=char_min_count,
                    with_validation=with_validation)
    source = str(split_file(path, split))
    if split == "train" and with_validation:
        source += f" + {split_file(path, 'validation')}"
        chosen = training_sentences(path, True)
    else:
        chosen = sentences(path, split)
    inputs, ids = coder.encode(chosen, source)
    _loaded_tags[:] = coder.tags
    return tf.data.Dataset.from_tensor_slices((inputs, ids))


def representative(path, n: int = 200, *, words: list[str] | None = None,
                   characters: list[str] | None = None, tags: list[str] | None = None,
                   max_length: int = MAX_LENGTH, max_word_length: int = MAX_WORD_LENGTH,
                   min_count: int = MIN_COUNT, char_min_count: int = CHAR_MIN_COUNT,
                   with_validation: bool = False) -> list[dict]:
    """Up to ``n`` training sentences spread over the split, batch axis 1, for int8
    calibration (options as `load`; the training split proper, ``with_validation`` or
    not)."""
    train = sentences(path, "train")
    picked = train[::max(1, len(train) // max(1, n))][:n]
    coder = encoder(path, words=words, characters=characters, tags=tags,
                    max_length=max_length, max_word_length=max_word_length,
                    min_count=min_count, char_min_count=char_min_count,
                    with_validation=with_validation)
    inputs, _ = coder.encode(picked, str(split_file(path, "train")))
    return [{"words": inputs["words"][i:i + 1], "chars": inputs["chars"][i:i + 1]}
            for i in range(len(picked))]
