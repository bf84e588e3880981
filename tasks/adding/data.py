"""Data for the adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015 form).

Each example is T steps of (value, marker): values uniform in [0, 1), markers 1 at exactly
two steps (one in each half of the sequence) and 0 elsewhere. The target is the sum of the
two marked values. Always predicting 1.0 gives the baseline MSE of 1/6 (the variance of the
sum of two uniform values).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

BASELINE_MSE = 1.0 / 6.0
SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}
DEFAULT_SIZES = {"train": 20_000, "validation": 2_000, "test": 10_000}


def generate(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(inputs [n, length, 2], targets [n, 1])`` as float32 arrays."""
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")
    if n < 1:
        raise ValueError(f"number of examples must be positive, got {n}")
    rng = np.random.default_rng(seed)
    values = rng.random((n, length), dtype=np.float32)
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length), dtype=np.float32)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)
    return np.stack([values, markers], axis=-1), targets


def load(path: str | None = None, split: str = "train", *, length: int = 100,
         size: int | None = None, train_size: int | None = None, seed: int = 0) -> tf.data.Dataset:
    """Unbatched dataset of ``(sequence [length, 2], sum [1])`` for one split.

    ``path`` is ignored (the data is generated); each split has its own fixed seed, offset by
    ``seed``, so train, validation and test never share examples. ``size`` sets the number of
    examples of this split; ``train_size`` that of the train split only.
    """
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_SEEDS)}")
    n = size if size is not None else DEFAULT_SIZES[split]
    if split == "train" and train_size is not None and size is None:
        n = train_size
    inputs, targets = generate(n, length, seed=1000 * seed + SPLIT_SEEDS[split])
    return tf.data.Dataset.from_tensor_slices((inputs, targets))


def representative(path: str | None = None, n: int = 100, *, length: int = 100,
                   size: int | None = None, train_size: int | None = None,
                   seed: int = 0) -> list[np.ndarray]:
    """``n`` training inputs, each of shape ``[1, length, 2]``, for int8 calibration.

    Takes the options of `load`; ``size`` and ``train_size`` (how many examples a split has)
    do not apply, as ``n`` says how many to make.
    """
    inputs, _ = generate(n, length, seed=1000 * seed + SPLIT_SEEDS["train"])
    return [inputs[i : i + 1] for i in range(n)]
