"""Note sequences from MIDI folders: splits, model encoding, loss and metrics.

A piece is ``[N, 3]`` notes (pitch, step, duration), see `tasks.music.midi`. The model input
at position t is note t-1 encoded as ``one_hot(pitch, 128) ++ [step, duration]`` (all zeros
before the first note, the *start* vector); the target is note t. So every note of a piece is
predicted, the first from the start vector alone, and generation from scratch starts there.

Splits: the MIDI files of the folder (``*.mid``/``*.midi``, any depth) in sorted order of
their path relative to the folder; file i is ``test`` when ``i % 10 == 9`` (every tenth
file), ``validation`` when ``i % 10 == 8``, ``train`` otherwise.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tasks.music.midi import read_many
from zoo.music import DURATION, NOTE_FEATURES, PITCHES, STEP

SPLITS = ("train", "validation", "test")


def midi_files(folder: str | os.PathLike) -> list[Path]:
    """Every ``.mid``/``.midi`` file under ``folder``, sorted by relative path."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of MIDI files")
    files = [p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file()]
    if not files:
        raise FileNotFoundError(f"{folder}: no .mid or .midi files in it")
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def split_files(files: list[Path], split: str) -> list[Path]:
    """The files of ``split``: test every tenth (i % 10 == 9), validation i % 10 == 8."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    keep = {"test": lambda i: i % 10 == 9, "validation": lambda i: i % 10 == 8,
            "train": lambda i: i % 10 < 8}[split]
    return [f for i, f in enumerate(files) if keep(i)]


@lru_cache(maxsize=8)
def _read_split(folder: str, split: str, mode: str, strict: bool,
                limit: int | None) -> tuple[np.ndarray, ...]:
    files = split_files(midi_files(folder), split)
    if limit is not None:
        files = files[:limit]
    report = lambda line: print(f"note: {line}", file=sys.stderr, flush=True)  # noqa: E731
    arrays, _ = read_many(files, mode=mode, strict=strict, report=report)
    if not arrays:
        raise ValueError(f"{folder}: no usable MIDI file in the {split} split")
    return tuple(arrays)


def read_pieces(folder: str | os.PathLike, split: str, *, mode: str = "melody",
                strict: bool = False, limit: int | None = None) -> list[np.ndarray]:
    """The pieces of ``split`` as ``[N, 3]`` notes (cached per process); bad files are
    skipped with a note on stderr, or raise with ``strict``. ``limit``: first files only."""
    folder = str(Path(folder).expanduser().resolve())
    return list(_read_split(folder, split, mode, bool(strict), limit))


def encode_inputs(notes: np.ndarray) -> np.ndarray:
    """``[N, 130]`` model inputs of ``[N, 3]`` notes: the start vector, then notes 0..N-2."""
    notes = np.asarray(notes, np.float32).reshape(-1, 3)
    inputs = np.zeros((len(notes), NOTE_FEATURES), np.float32)
    previous = notes[:-1]
    rows = np.arange(1, len(notes))
    inputs[rows, previous[:, 0].astype(np.int64)] = 1.0
    inputs[rows, STEP] = previous[:, 1]
    inputs[rows, DURATION] = previous[:, 2]
    return inputs


def encode_note(note: np.ndarray | None) -> np.ndarray:
    """``[130]`` input vector of one note (the start vector for None)."""
    vector = np.zeros(NOTE_FEATURES, np.float32)
    if note is not None:
        vector[int(note[0])] = 1.0
        vector[STEP], vector[DURATION] = note[1], note[2]
    return vector


def chunks(pieces: list[np.ndarray], length: int, stride: int | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(inputs [M, length, 130], targets [M, length, 3], weights [M, length])`` of windows
    of ``length`` notes every ``stride`` (default ``length``) of every piece; each window's
    inputs hold the true previous notes, the last window of a piece is zero-padded."""
    if length < 1:
        raise ValueError(f"window length must be positive, got {length}")
    stride = stride or length
    if not 1 <= stride <= length:
        raise ValueError(f"stride must be in [1, {length}], got {stride}")
    inputs, targets, weights = [], [], []
    for notes in pieces:
        encoded = encode_inputs(notes)
        for start in range(0, max(len(notes) - length, 0) + stride, stride):
            n = min(length, len(notes) - start)
            x = np.zeros((length, NOTE_FEATURES), np.float32)
            y = np.zeros((length, 3), np.float32)
            w = np.zeros(length, np.float32)
            x[:n], y[:n], w[:n] = encoded[start:start + n], notes[start:start + n], 1.0
            inputs.append(x), targets.append(y), weights.append(w)
    return np.stack(inputs), np.stack(targets), np.stack(weights)


def load_notes(path: str | os.PathLike, split: str = "train", *, mode: str = "melody",
               window: int = 64, eval_length: int = 1024, strict: bool = False,
               limit: int | None = None) -> tf.data.Dataset:
    """Unbatched dataset of ``(inputs [L, 130], targets [L, 3], weights [L])``.

    Training windows are ``window`` notes every ``window // 2``; validation and test pieces
    are cut into consecutive windows of ``eval_length`` notes (so every note is scored once,
    with the state of up to ``eval_length`` notes before it).
    """
    pieces = read_pieces(path, split, mode=mode, strict=strict, limit=limit)
    if split == "train":
        arrays = chunks(pieces, window, max(window // 2, 1))
    else:
        longest = max(len(p) for p in pieces)
        arrays = chunks(pieces, min(eval_length, longest))
    return tf.data.Dataset.from_tensor_slices(arrays)


def representative_notes(path: str | os.PathLike, n: int = 100, *, mode: str = "melody",
                         window: int = 64, eval_length: int = 1024, strict: bool = False,
                         limit: int | None = None) -> list[np.ndarray]:
    """Up to ``n`` training windows ``[1, window, 130]`` for int8 calibration (options as
    `load_notes`; ``eval_length``, for validation and test pieces, does not apply)."""
    pieces = read_pieces(path, "train", mode=mode, strict=strict, limit=limit)
    inputs, _, _ = chunks(pieces, window)
    return [inputs[i:i + 1] for i in range(min(n, len(inputs)))]


@keras.saving.register_keras_serializable(package="rnnzoo")
class NoteLoss(keras.losses.Loss):
    """Pitch cross-entropy plus weighted squared errors of step and duration.

    ``y_true`` is ``[..., 3]`` (pitch, step, duration); ``y_pred`` the ``[..., 130]`` model
    output (128 pitch logits, step, duration).
    """

    def __init__(self, timing_weight: float = 1.0, name: str = "note_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.timing_weight = float(timing_weight)

    def call(self, y_true, y_pred):
        ops = keras.ops
        pitch = ops.cast(y_true[..., 0], "int32")
        pitch_loss = keras.losses.sparse_categorical_crossentropy(
            pitch, y_pred[..., :PITCHES], from_logits=True)
        timing = ops.sum(ops.square(y_pred[..., PITCHES:] - y_true[..., 1:]), axis=-1)
        return pitch_loss + self.timing_weight * timing

    def get_config(self) -> dict:
        return {**super().get_config(), "timing_weight": self.timing_weight}


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def note_metrics(outputs: np.ndarray, targets: np.ndarray,
                 weights: np.ndarray | None = None) -> dict[str, float]:
    """``pitch_nll`` (nats per note), ``pitch_accuracy`` (argmax), ``step_mae`` and
    ``duration_mae`` (seconds; predictions below 0 count as 0, as generation clips them)."""
    outputs = np.asarray(outputs, np.float64)
    targets = np.asarray(targets, np.float64)
    weights = np.ones(targets.shape[:-1]) if weights is None else np.asarray(weights, np.float64)
    mask = weights > 0
    if not mask.any():
        raise ValueError("no notes to score")
    logits, timing = outputs[mask][:, :PITCHES], np.maximum(outputs[mask][:, PITCHES:], 0.0)
    truth = targets[mask]
    pitch = truth[:, 0].astype(np.int64)
    log_probs = log_softmax(logits)
    return {"pitch_nll": float(-log_probs[np.arange(len(pitch)), pitch].mean()),
            "pitch_accuracy": float((logits.argmax(axis=-1) == pitch).mean()),
            "step_mae": float(np.abs(timing[:, 0] - truth[:, 1]).mean()),
            "duration_mae": float(np.abs(timing[:, 1] - truth[:, 2]).mean()),
            "notes": int(mask.sum())}


def metric(model_fn, dataset: tf.data.Dataset, batch_size: int = 16) -> dict[str, float]:
    """`note_metrics` of ``model_fn`` (inputs -> ``[.., 130]`` outputs) over a `load_notes`
    dataset."""
    outputs, targets, weights = [], [], []
    for inputs, target, weight in dataset.batch(batch_size).as_numpy_iterator():
        output = np.asarray(model_fn(inputs), np.float64)
        keep = weight > 0
        outputs.append(output[keep])
        targets.append(target[keep])
        weights.append(weight[keep])
    if not outputs:
        raise ValueError("the evaluation dataset is empty")
    return note_metrics(np.concatenate(outputs), np.concatenate(targets), np.concatenate(weights))
