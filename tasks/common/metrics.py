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
