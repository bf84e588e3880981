"""Helpers shared by the task metrics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf


def batched_predictions(model_fn: Callable[[np.ndarray], np.ndarray], dataset: tf.data.Dataset,
                        batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model_fn`` over an unbatched ``(inputs, targets)`` dataset.

    Returns the concatenated predictions and targets as numpy arrays.
    """
    predictions, targets = [], []
    for inputs, target in dataset.batch(batch_size).as_numpy_iterator():
        predictions.append(np.asarray(model_fn(inputs)))
        targets.append(target)
    if not predictions:
        raise ValueError("the evaluation dataset is empty")
    return np.concatenate(predictions), np.concatenate(targets)


def classification_metric(model_fn: Callable[[np.ndarray], np.ndarray],
                          dataset: tf.data.Dataset, batch_size: int = 128) -> dict[str, float]:
    """Accuracy, error count and the number of examples of a classifier whose outputs are
    class probabilities (or scores) and whose targets are class indices."""
    probabilities, targets = batched_predictions(model_fn, dataset, batch_size=batch_size)
    predicted = np.argmax(probabilities.reshape(len(targets), -1), axis=-1)
    errors = int(np.sum(predicted != targets))
    return {"accuracy": 1.0 - errors / len(targets), "errors": errors,
            "examples": int(len(targets))}
