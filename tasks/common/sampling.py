"""Drawing one token from logits: temperature, top-k, one seeded uniform draw.

One sampling rule serves music (`tasks.music.sampling`) and text generation
(`tasks.textgen.sampling`): ``softmax(logits / temperature)`` cut to the ``top_k`` largest,
then the inverse CDF of one ``rng.random()`` draw. Drawing exactly one uniform number per token
from one ``numpy.random.Generator`` is what lets two backends (Keras, TFLite) of the same model
generate the same sequence from the same seed.
"""

from __future__ import annotations

import numpy as np


def check_sampling(temperature: float, top_k: int | None) -> None:
    """`ValueError` unless ``0 < temperature <= 100`` and ``top_k`` is None or >= 0."""
    if isinstance(temperature, bool) or not (isinstance(temperature, (int, float))
                                             and 0 < temperature <= 100):
        raise ValueError(f"temperature must be in (0, 100], got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 0):
        raise ValueError(f"top_k must be a non-negative integer (0: all), got {top_k!r}")


def sample_logits(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
                  top_k: int | None = None) -> int:
    """One index from ``softmax(logits / temperature)`` restricted to the ``top_k`` largest
    (all for None or 0), by inverse CDF of one ``rng.random()`` draw. Logits of -inf (masked
    tokens) are never drawn."""
    logits = np.asarray(logits, np.float64) / temperature
    if top_k and top_k < len(logits):
        cut = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits >= cut, logits, -np.inf)
    probs = np.exp(logits - logits.max())
    cdf = np.cumsum(probs / probs.sum())
    index = int(min(np.searchsorted(cdf, rng.random(), side="right"), len(cdf) - 1))
    while not np.isfinite(logits[index]) and index > 0:  # the flat tail after the last token
        index -= 1
    return index
