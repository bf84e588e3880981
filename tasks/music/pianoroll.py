"""Piano rolls: JSB chorales data and the frame-level metrics of polyphonic music models.

A chorale is a list of time steps, each the list of sounding MIDI pitches (the format of
Boulanger-Lewandowski et al. 2012, ``jsb-chorales-{quarter,8th,16th}.json``). The model sees
the previous frame (all zeros before the first) and predicts the current one, so every frame
is scored. Autoregressive models (`zoo.music`, ``music-pianoroll-*-ar``) also take the frame
they model as input (data option ``frame_input``): the inputs are then a dict
``{"previous_frame", "frame"}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo.errors import RnnzooError
from zoo.music import FRAME, KEYS, LOWEST_KEY, PREVIOUS_FRAME

RESOLUTIONS = ("quarter", "8th", "16th")
SPLITS = {"train": "train", "validation": "valid", "valid": "valid", "test": "test"}


def jsb_file(path: str | Path, resolution: str = "quarter") -> Path:
    """The JSB json file: ``path`` itself or ``path/jsb-chorales-<resolution>.json``."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}; expected one of "
                         f"{', '.join(RESOLUTIONS)}")
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / f"jsb-chorales-{resolution}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such JSB chorales file (expected "
                                f"jsb-chorales-{resolution}.json or a folder holding it)")
    return path


def read_chorales(path: str | Path, split: str, resolution: str = "quarter") -> list[np.ndarray]:
    """The chorales of ``split`` as piano rolls, each ``[T, 88]`` float32 (0/1).

    Raises `RnnzooError` naming the file for a file that is not the JSB layout or a pitch
    outside the 88 keys.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of train, validation, test")
    file = jsb_file(path, resolution)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RnnzooError(f"{file}: not a JSB chorales json file ({error})") from None
    key = SPLITS[split]
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise RnnzooError(f"{file}: expected a JSON object with a list under {key!r}")
    return [to_pianoroll(chorale, f"{file}: {key}[{i}]") for i, chorale in enumerate(data[key])]


def to_pianoroll(frames: list[list[int]], where: str = "chorale") -> np.ndarray:
    """``[T, 88]`` 0/1 roll of a list of frames of MIDI pitches (21-108)."""
    if not isinstance(frames, list) or not frames:
        raise RnnzooError(f"{where}: expected a non-empty list of frames")
    roll = np.zeros((len(frames), KEYS), np.float32)
    for t, frame in enumerate(frames):
        for pitch in frame:
            if not isinstance(pitch, (int, float)) or not LOWEST_KEY <= pitch < LOWEST_KEY + KEYS:
                raise RnnzooError(f"{where}: frame {t} has pitch {pitch!r}, outside the 88 "
                                  f"piano keys (MIDI {LOWEST_KEY}-{LOWEST_KEY + KEYS - 1})")
            roll[t, int(pitch) - LOWEST_KEY] = 1.0
    return roll


def shifted(roll: np.ndarray) -> np.ndarray:
    """The model input of ``roll``: the previous frame at each step, zeros at the first."""
    return np.concatenate([np.zeros((1, roll.shape[1]), roll.dtype), roll[:-1]])


def transposed(rolls: list[np.ndarray], semitones: int) -> list[np.ndarray]:
    """``rolls`` and their copies transposed by every interval in ``-semitones..+semitones``
    (training-data augmentation); a copy whose notes would leave the 88 keys is left out."""
    if semitones < 0:
        raise ValueError(f"semitones must be >= 0, got {semitones}")
    out = []
    for roll in rolls:
        sounding = np.flatnonzero(roll.any(axis=0))
        low, high = (sounding.min(), sounding.max()) if sounding.size else (0, KEYS - 1)
        for shift in range(-semitones, semitones + 1):
            if shift == 0 or (low + shift >= 0 and high + shift < KEYS):
                out.append(np.roll(roll, shift, axis=1))
    return out


def padded_examples(rolls: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(inputs, targets, weights)``: ``[N, T, 88]``, ``[N, T, 88]``, ``[N, T]`` padded to
    the longest roll; weights are 1 on real steps and 0 on padding."""
    length = max(len(r) for r in rolls)
    inputs = np.zeros((len(rolls), length, KEYS), np.float32)
    targets = np.zeros_like(inputs)
    weights = np.zeros((len(rolls), length), np.float32)
    for i, roll in enumerate(rolls):
        inputs[i, : len(roll)] = shifted(roll)
        targets[i, : len(roll)] = roll
        weights[i, : len(roll)] = 1.0
    return inputs, targets, weights


def load_jsb(path: str | Path, split: str = "train", *, resolution: str = "quarter",
             limit: int | None = None, frame_input: bool = False,
             transpose: int = 0) -> tf.data.Dataset:
    """Unbatched dataset of ``(previous frames [T, 88], frames [T, 88], weights [T])``.

    Every chorale of the split is padded to the split's longest (weights 0 on padding);
    ``limit`` keeps the first ``limit`` chorales (for quick runs and tests). ``transpose``
    (training split only; validation and test are never transposed): each chorale also
    appears transposed by every interval up to that many semitones down and up. ``frame_input``
    (autoregressive models): the inputs are ``{"previous_frame": [T, 88], "frame": [T, 88]}``,
    the second the target frames themselves.
    """
    rolls = read_chorales(path, split, resolution)
    if limit is not None:
        rolls = rolls[:limit]
    if transpose and split == "train":
        rolls = transposed(rolls, transpose)
    inputs, targets, weights = padded_examples(rolls)
    if frame_input:
        inputs = {PREVIOUS_FRAME: inputs, FRAME: targets}
    return tf.data.Dataset.from_tensor_slices((inputs, targets, weights))


def representative_jsb(path: str | Path, n: int = 100, *, resolution: str = "quarter",
                       limit: int | None = None, length: int = 64,
                       frame_input: bool = False, transpose: int = 0) -> list:
    """Up to ``n`` model inputs ``[1, length, 88]`` for int8 calibration: consecutive windows
    of the training chorales' inputs laid end to end (one time length for all; ``transpose``
    is accepted and ignored: calibration sees the chorales as written); with
    ``frame_input``, dicts of those windows and the frames they precede."""
    rolls = read_chorales(path, "train", resolution)[:limit]
    stream = np.concatenate([shifted(roll) for roll in rolls])
    frames = np.concatenate(rolls)
    count = min(n, len(stream) // length)
    windows = [slice(i * length, (i + 1) * length) for i in range(count)]
    if frame_input:
        return [{PREVIOUS_FRAME: stream[w][None], FRAME: frames[w][None]} for w in windows]
    return [stream[w][None] for w in windows]


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)), stable for large |x|."""
    return -np.logaddexp(0.0, -x)


def frame_metrics(logits: np.ndarray, targets: np.ndarray,
                  weights: np.ndarray | None = None) -> dict[str, float]:
    """Frame-level NLL and accuracy of key logits against 0/1 frames.

    ``nll``: nats per time step, the sum over the 88 keys of the Bernoulli NLL averaged over
    all weighted time steps (Chung et al. 2014). ``frame_accuracy``: TP / (TP + FP + FN)
    summed over all frames with keys predicted on where p > 0.5 (Bay et al. 2009, as used by
    Boulanger-Lewandowski et al. 2012).
    """
    logits = np.asarray(logits, np.float64)
    targets = np.asarray(targets, np.float64)
    if logits.shape != targets.shape:
        raise ValueError(f"logits {logits.shape} and targets {targets.shape} differ in shape")
    weights = np.ones(targets.shape[:-1]) if weights is None else np.asarray(weights, np.float64)
    per_step = -(targets * log_sigmoid(logits) + (1 - targets) * log_sigmoid(-logits)).sum(-1)
    steps = float(weights.sum())
    if steps <= 0:
        raise ValueError("no time steps to score")
    on = (logits > 0) & (weights[..., None] > 0)
    truth = (targets > 0.5) & (weights[..., None] > 0)
    tp, fp, fn = int((on & truth).sum()), int((on & ~truth).sum()), int((~on & truth).sum())
    return {"nll": float((per_step * weights).sum() / steps),
            "frame_accuracy": tp / max(tp + fp + fn, 1),
            "steps": int(steps)}


def metric(model_fn, dataset: tf.data.Dataset, batch_size: int = 32) -> dict[str, float]:
    """`frame_metrics` of ``model_fn`` (inputs -> key logits) over a `load_jsb` dataset."""
    logits, targets, weights = [], [], []
    for inputs, target, weight in dataset.batch(batch_size).as_numpy_iterator():
        logits.append(np.asarray(model_fn(inputs), np.float64).reshape(target.shape))
        targets.append(target)
        weights.append(weight)
    if not logits:
        raise ValueError("the evaluation dataset is empty")
    return frame_metrics(np.concatenate(logits), np.concatenate(targets),
                         np.concatenate(weights))
