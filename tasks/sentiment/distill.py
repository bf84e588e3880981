"""Distillation on unlabeled text: ``rnnzoo train sentiment --teacher PRESET ... --unlabeled
PATH`` trains on the labelled training split plus unlabeled sentences whose targets are the
teachers' mean probabilities (Hinton et al. 2015's knowledge distillation from an ensemble,
used as self-training on in-domain text). One student reaches about the accuracy of the
ensemble it learned from, at the size and speed of one model.

Unlabeled text (``--unlabeled``): a folder of sentiment datasets (``../shared/data/sentiment``,
labels ignored) gives the sentences of the polarity reviews and the UCI sentences of their
training splits (`tasks.sentiment.data`); a text file gives its non-empty lines. Sentences
equal to a validation or test text of the labelled data, or to an SST-2 dev or test sentence
in the folder (the language model's rule, `lm.corpus`), are left out, and so are sentences of
fewer than `MIN_WORDS` words.

Targets: the labelled examples as one-hot rows, the unlabeled ones as the teachers' mean
``[negative, positive]`` probabilities; `LabelOrProbabilityCrossentropy` takes either (the
validation split keeps its integer labels).

Each teacher's probabilities are cached (``<cache>/teachers/<key>.npy``, `zoo.download.
cache_home`; the key is the sha256 of the teacher's config, weights and the sentences), so
students of other seeds or settings from the same teachers and text skip the labelling.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import keras
import numpy as np

from tasks.common.text_lines import TextInputError, read_text_lines
from tasks.common.vocabulary import Vocabulary
from tasks.sentiment.encoding import PUNCTUATION, encode_texts
from tasks.sentiment.lm import _key, _sources, held_out_keys, unlabeled_texts

MIN_WORDS = 3
NO_REVIEW = -1
CLASSES = 2
CACHE_DIR = "teachers"


@keras.saving.register_keras_serializable(package="rnnzoo")
class LabelOrProbabilityCrossentropy(keras.losses.Loss):
    """Cross-entropy against integer labels ``[batch]`` (sparse) or probability rows
    ``[batch, classes]`` (soft targets), told apart by the targets' rank."""

    def __init__(self, name: str = "label_or_probability_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        if len(y_true.shape) == len(y_pred.shape):
            return keras.losses.categorical_crossentropy(y_true, y_pred)
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)


def unlabeled_sentences(path: str | Path, held_out: list[str] = ()) -> list[str]:
    """The unlabeled sentences at ``path`` (see the module docstring), without those equal
    to a ``held_out`` text (the labelled data's validation and test texts, and the texts
    trained on with labels; punctuation and case ignored); a note on stderr counts those
    left out."""
    return unlabeled_with_review_labels(path, held_out)[0]


def unlabeled_with_review_labels(path: str | Path, held_out: list[str] = (),
                                 ) -> tuple[list[str], np.ndarray]:
    """`unlabeled_sentences` and, for each, the label of the polarity review it was taken
    from (1 positive, 0 negative; -1 for a sentence of no review)."""
    path = Path(path)
    held_out = {_key(text) for text in held_out}
    if path.is_file():
        texts = [line for _, line in read_text_lines(path, kind="text")]
        labels = [NO_REVIEW] * len(texts)
    elif path.is_dir():
        sources = _sources(path)
        if not (sources["polarity"] or sources["uci"]):
            raise TextInputError(path, "no unlabeled text: expected polarity reviews or UCI "
                                       "sentences in the folder or its subfolders, or a text "
                                       "file")
        held_out |= held_out_keys(sources)
        sentences, reviews, review_labels = unlabeled_texts(sources, "train")
        texts = [sentence for review in reviews for sentence in review] + sentences
        labels = [label for review, label in zip(reviews, review_labels)
                  for _ in review] + [NO_REVIEW] * len(sentences)
    else:
        raise FileNotFoundError(f"{path}: no such file or folder")
    kept = [i for i, t in enumerate(texts)
            if len(t.split()) >= MIN_WORDS and _key(t) not in held_out]
    if len(kept) < len(texts):
        print(f"note: {len(texts) - len(kept)} of {len(texts)} unlabeled sentence(s) left out "
              f"(fewer than {MIN_WORDS} words, or a labelled, validation or test text)",
              file=sys.stderr)
    if not kept:
        raise TextInputError(path, "no unlabeled sentences left")
    return [texts[i] for i in kept], np.asarray([labels[i] for i in kept], np.int32)


def with_review_prior(probabilities: np.ndarray, review_labels: np.ndarray,
                      ratio: float) -> np.ndarray:
    """The teachers' ``[n, 2]`` probabilities moved towards the label of the review each
    sentence comes from: the odds of that label multiplied by ``ratio`` (Bayes' rule with the
    review's label as evidence whose likelihood ratio is ``ratio``; the sentences of no
    review, -1, unchanged)."""
    if not ratio >= 1:
        raise ValueError(f"the review prior's ratio must be 1 or more, got {ratio!r}")
    factor = np.where(review_labels == 1, ratio,
                      np.where(review_labels == 0, 1 / ratio, 1.0)).astype(np.float64)
    positive = probabilities[:, 1].astype(np.float64)
    odds = positive / np.maximum(1 - positive, 1e-12) * factor
    positive = odds / (1 + odds)
    return np.stack([1 - positive, positive], axis=1).astype(np.float32)


def _cache_path(teacher, texts_digest: str) -> Path:
    """Where ``teacher``'s probabilities for the sentences of ``texts_digest`` are cached:
    keyed by its config and the weights of its model as loaded (not its files)."""
    import json

    from zoo.download import cache_home

    key = hashlib.sha256(json.dumps(teacher.config, sort_keys=True).encode("utf-8"))
    for weights in teacher.model.weights:
        key.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weights)).tobytes())
    key.update(texts_digest.encode("ascii"))
    return cache_home() / CACHE_DIR / f"{key.hexdigest()}.npy"


def _cached(path: Path, rows: int) -> np.ndarray | None:
    """The probabilities cached at ``path`` when they are readable and ``[rows, 2]``."""
    try:
        cached = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return cached if cached.shape == (rows, CLASSES) else None


def _label(teacher, texts: list[str], batch_size: int) -> np.ndarray:
    if teacher.card.get("task") != "sentiment":
        raise ValueError(f"--teacher {teacher.name}: a teacher is a sentiment preset, not "
                         f"a {teacher.card.get('task')!r} one")
    config = teacher.config["config"]
    words = Vocabulary(config["vocabulary"], punctuation=PUNCTUATION)
    ids, _ = encode_texts(texts, words, config["max_length"])
    return teacher.model.predict(ids, batch_size=batch_size, verbose=0)


def teacher_probabilities(teachers, texts: list[str], batch_size: int = 512,
                          cache: bool = True) -> np.ndarray:
    """The mean ``[len(texts), 2]`` probabilities of ``teachers`` (loaded sentiment presets),
    each reading ``texts`` with its own vocabulary and length; each teacher's probabilities
    are cached (module docstring) unless ``cache`` is False. Progress goes to stderr."""
    from tasks.common.atomic_files import save_npy_atomic

    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    total = np.zeros((len(texts), CLASSES), np.float64)
    for i, teacher in enumerate(teachers, 1):
        path = _cache_path(teacher, digest) if cache else None
        probabilities = _cached(path, len(texts)) if path is not None else None
        source = "cached"
        if probabilities is None:
            probabilities = _label(teacher, texts, batch_size).astype(np.float32)
            source = "labelled"
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                save_npy_atomic(path, probabilities)
        print(f"  teacher {i}/{len(teachers)} {teacher.path}: {source}", file=sys.stderr,
              flush=True)
        total += probabilities
    return (total / len(teachers)).astype(np.float32)


def distillation_set(train, texts: list[str], probabilities: np.ndarray, vocabulary,
                     max_length: int, seed: int = 0):
    """``train`` (unbatched ``(ids, label)``) with one-hot targets, then ``texts`` encoded
    with ``vocabulary`` with their ``probabilities`` as targets, each part shuffled with
    ``seed``.

    Labelled examples first: the training pipeline shuffles through a buffer (10,000
    examples, `tasks.common.fit`) smaller than the unlabeled text, so every epoch begins with
    the labelled examples mixed with the first teacher-labelled ones and ends on
    teacher-labelled sentences alone. Measured against one full shuffle (SST-2 dev, the
    preset's recipe): see docs/design-notes.md, "Distillation"."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    labelled = list(train.as_numpy_iterator())
    labelled = [labelled[i] for i in rng.permutation(len(labelled))]
    order = rng.permutation(len(texts))
    ids = np.concatenate([np.stack([x for x, _ in labelled]),
                          encode_texts([texts[i] for i in order], vocabulary, max_length)[0]])
    targets = np.concatenate([np.eye(CLASSES, dtype=np.float32)[[y for _, y in labelled]],
                              probabilities[order].astype(np.float32)])
    return tf.data.Dataset.from_tensor_slices((ids, targets))
