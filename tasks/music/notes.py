"""Note sequences from MIDI folders: splits, model encoding, loss and metrics.

A piece is ``[N, 3]`` notes (pitch, step, duration), see `tasks.music.midi`. The model input
at position t is note t-1 encoded as ``one_hot(pitch, 128) ++ [step, duration]`` (all zeros
before the first note, the *start* vector); the target is note t. So every note of a piece is
predicted, the first from the start vector alone, and generation from scratch starts there.

The models have two outputs, ``pitch_logits`` and ``step_duration`` (`zoo.music`); datasets give
targets under the same names (`note_targets`) and the loss is one per head (`note_loss`).
Everything that reads model outputs (`split_outputs`) also takes the one ``[..., 130]`` tensor
(128 logits, step, duration) of TFLite files exported before the heads were split.

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
from zoo.music import DURATION, NOTE_FEATURES, PITCH_HEAD, PITCHES, STEP, TIMING_HEAD

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


def note_targets(targets: np.ndarray) -> dict[str, np.ndarray]:
    """Targets by output name of ``[..., 3]`` notes: ``pitch_logits`` the pitch (int32
    ``[...]``), ``step_duration`` the step and duration (``[..., 2]``)."""
    targets = np.asarray(targets, np.float32)
    return {PITCH_HEAD: targets[..., 0].astype(np.int32), TIMING_HEAD: targets[..., 1:]}


def split_targets(targets) -> tuple[np.ndarray, np.ndarray]:
    """``(pitch [...], timing [..., 2])`` of `note_targets` or of ``[..., 3]`` notes."""
    if isinstance(targets, dict):
        return np.asarray(targets[PITCH_HEAD]), np.asarray(targets[TIMING_HEAD])
    targets = np.asarray(targets)
    return targets[..., 0], targets[..., 1:]


def split_outputs(outputs) -> tuple[np.ndarray, np.ndarray]:
    """``(pitch logits [..., 128], step and duration [..., 2])`` of a note model's outputs:
    a dict by output name, or the ``[..., 130]`` tensor of files exported before the split."""
    if isinstance(outputs, dict):
        missing = {PITCH_HEAD, TIMING_HEAD} - set(outputs)
        if missing:
            raise ValueError(f"note model outputs lack {sorted(missing)} (got "
                             f"{sorted(outputs)})")
        return np.asarray(outputs[PITCH_HEAD]), np.asarray(outputs[TIMING_HEAD])
    outputs = np.asarray(outputs)
    if outputs.shape[-1] != NOTE_FEATURES:
        raise ValueError(f"a note model output has {PITCHES} pitch logits, step and duration "
                         f"({NOTE_FEATURES} values), got shape {outputs.shape}")
    return outputs[..., :PITCHES], outputs[..., PITCHES:]


def load_notes(path: str | os.PathLike, split: str = "train", *, mode: str = "melody",
               window: int = 64, eval_length: int = 1024, strict: bool = False,
               limit: int | None = None) -> tf.data.Dataset:
    """Unbatched dataset of ``(inputs [L, 130], targets, weights [L])``, the targets by
    output name (`note_targets`: ``pitch_logits`` ``[L]``, ``step_duration`` ``[L, 2]``).

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
    inputs, targets, weights = arrays
    return tf.data.Dataset.from_tensor_slices((inputs, note_targets(targets), weights))


def representative_notes(path: str | os.PathLike, n: int = 100, *, mode: str = "melody",
                         window: int = 64, eval_length: int = 1024, strict: bool = False,
                         limit: int | None = None) -> list[np.ndarray]:
    """Up to ``n`` training windows ``[1, window, 130]`` for int8 calibration (options as
    `load_notes`; ``eval_length``, for validation and test pieces, does not apply)."""
    pieces = read_pieces(path, "train", mode=mode, strict=strict, limit=limit)
    inputs, _, _ = chunks(pieces, window)
    return [inputs[i:i + 1] for i in range(min(n, len(inputs)))]


@keras.saving.register_keras_serializable(package="rnnzoo")
class TimingLoss(keras.losses.Loss):
    """``weight`` times the squared error of step and duration summed over the two (``y_true``
    and ``y_pred`` ``[..., 2]``), per note."""

    def __init__(self, weight: float = 1.0, name: str = "timing_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = float(weight)

    def call(self, y_true, y_pred):
        ops = keras.ops
        error = ops.square(y_pred - ops.cast(y_true, y_pred.dtype))
        return self.weight * ops.sum(error, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "weight": self.weight}


def note_loss(timing_weight: float = 1.0) -> dict[str, keras.losses.Loss]:
    """The loss by output name: pitch cross-entropy (from logits) on ``pitch_logits``, and
    `TimingLoss` on ``step_duration``; Keras adds them, so a note costs its pitch NLL plus
    ``timing_weight`` times its step and duration squared errors (as one loss on a
    concatenated output did)."""
    return {PITCH_HEAD: keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                   name="pitch_loss"),
            TIMING_HEAD: TimingLoss(timing_weight)}


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def note_metrics(outputs, targets, weights: np.ndarray | None = None) -> dict[str, float]:
    """``pitch_nll`` (nats per note), ``pitch_accuracy`` (argmax), ``step_mae`` and
    ``duration_mae`` (seconds; predictions below 0 count as 0, as generation clips them).

    ``outputs``: as `split_outputs` takes them; ``targets``: as `split_targets` does."""
    logits, timing = (np.asarray(a, np.float64) for a in split_outputs(outputs))
    true_pitch, true_timing = split_targets(targets)
    weights = (np.ones(true_pitch.shape) if weights is None
               else np.asarray(weights, np.float64))
    mask = weights > 0
    if not mask.any():
        raise ValueError("no notes to score")
    logits, timing = logits[mask], np.maximum(timing[mask], 0.0)
    pitch, true_timing = true_pitch[mask].astype(np.int64), true_timing[mask]
    log_probs = log_softmax(logits)
    return {"pitch_nll": float(-log_probs[np.arange(len(pitch)), pitch].mean()),
            "pitch_accuracy": float((logits.argmax(axis=-1) == pitch).mean()),
            "step_mae": float(np.abs(timing[:, 0] - true_timing[:, 0]).mean()),
            "duration_mae": float(np.abs(timing[:, 1] - true_timing[:, 1]).mean()),
            "notes": int(mask.sum())}


def metric(model_fn, dataset: tf.data.Dataset, batch_size: int = 16) -> dict[str, float]:
    """`note_metrics` of ``model_fn`` (inputs -> outputs as `split_outputs` takes them) over a
    `load_notes` dataset."""
    heads, pitches, timings = [], [], []
    for inputs, target, weight in dataset.batch(batch_size).as_numpy_iterator():
        keep = weight > 0
        logits, timing = split_outputs(model_fn(inputs))
        pitch, true_timing = split_targets(target)
        heads.append((logits[keep], timing[keep]))
        pitches.append(pitch[keep])
        timings.append(true_timing[keep])
    if not heads:
        raise ValueError("the evaluation dataset is empty")
    outputs = {PITCH_HEAD: np.concatenate([h[0] for h in heads]),
               TIMING_HEAD: np.concatenate([h[1] for h in heads])}
    targets = {PITCH_HEAD: np.concatenate(pitches), TIMING_HEAD: np.concatenate(timings)}
    return note_metrics(outputs, targets)
