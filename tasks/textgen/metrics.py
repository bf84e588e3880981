"""The textgen metric: cross-entropy of the next character in nats (and bits) per character."""

from __future__ import annotations

import math

import numpy as np

from tasks.common.task import ModelFn


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax`` over the last axis, in float64."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def metric(model_fn: ModelFn, dataset, batch_size: int = 64) -> dict[str, float]:
    """``nats_per_char`` (mean negative log-likelihood of every target character),
    ``bits_per_char`` (the same in bits), ``accuracy`` (top-1) and ``characters`` scored."""
    total, correct, count = 0.0, 0, 0
    for inputs, targets in dataset.batch(batch_size).as_numpy_iterator():
        logp = log_softmax(model_fn(inputs))
        targets = targets.astype(np.int64)
        total -= float(np.take_along_axis(logp, targets[..., None], axis=-1).sum())
        correct += int((logp.argmax(axis=-1) == targets).sum())
        count += targets.size
    if count == 0:
        raise ValueError("no characters to score (an empty dataset)")
    nats = total / count
    return {"nats_per_char": nats, "bits_per_char": nats / math.log(2),
            "accuracy": correct / count, "characters": count}
