"""Deterministic seeds for training runs."""

from __future__ import annotations

import keras
import tensorflow as tf


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy, TensorFlow and Keras' global seed generator with ``seed``.

    ``deterministic=True`` also turns on `tf.config.experimental.enable_op_determinism`, which
    makes every op pick a deterministic kernel (and so disables XLA auto-compilation in Keras).
    It is process-wide and cannot be turned off again, so it is opt-in. On CPU the same seed
    and data already give the same weights without it.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
