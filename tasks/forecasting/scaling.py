"""``--scale``: forecast a positive, multiplicative series on a log scale.

* ``none``: the model reads and forecasts the values as they are.
* ``log``: the model reads the logarithm of its target columns (covariates as they are),
  standardized with the mean and standard deviation of the *log* values of the training part,
  and its forecast is mapped back with ``exp`` (`zoo.timeseries`, ``scale="log"``). Its bases
  are those of the log values: the seasonal-naive and last-value bases are unchanged, the
  ridge base is a ridge regression refitted on the log window (`log_view`). Values at or below
  zero, which a log cannot read, are raised to a floor: a tenth of the smallest training
  value of the column. Needs positive training values.
* ``auto``: ``log`` where every observed training value of every target is positive and its
  spread grows with its level (`growth`), else ``none``. The rule of Guerrero (1993) for the
  Box-Cox parameter, reduced to a choice between log and none: cut the training part into
  consecutive blocks of one season (of `NONSEASONAL_BLOCK` observations where the season is
  1), and regress the log of each block's standard deviation on the log of its mean. A slope
  ``b`` says the spread grows as ``level ** b``: 0 for additive variation, 1 for
  multiplicative; ``log`` when ``b >= GROWTH_THRESHOLD`` (the Box-Cox parameter ``1 - b``
  nearer 0, the log, than 1, no transform) and the two logs correlate by at least
  `MIN_CORRELATION` (a level that barely moves, as a temperature's yearly mean, gives a
  slope that is noise). Only the training part is read.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tasks.forecasting.data import Prepared, fit_linear

SCALES = ("auto", "log", "none")
GROWTH_THRESHOLD = 0.5
MIN_CORRELATION = 0.5
NONSEASONAL_BLOCK = 12
MIN_BLOCKS = 4
FLOOR_FRACTION = 0.1


def _training_targets(data: Prepared) -> list[np.ndarray]:
    """Each target column's observed values of the training part."""
    end = data.bounds[0]
    return [data.values[:end, c][data.observed[:end, c]] for c in range(data.targets)]


def growth(values: np.ndarray, season: int) -> tuple[float, float] | None:
    """The slope of log(block standard deviation) on log(block mean) over consecutive blocks
    of ``season`` values (`NONSEASONAL_BLOCK` where ``season`` is 1), and the correlation of
    the two logs; None where the values are not all positive, fewer than `MIN_BLOCKS` blocks
    have a spread, or their means do not vary."""
    values = np.asarray(values, np.float64)
    if not values.size or np.any(values <= 0):
        return None
    length = season if season > 1 else NONSEASONAL_BLOCK
    count = len(values) // length
    blocks = values[len(values) - count * length:].reshape(count, length)
    means, spreads = blocks.mean(axis=1), blocks.std(axis=1)
    keep = spreads > 0
    if keep.sum() < MIN_BLOCKS:
        return None
    level, spread = np.log(means[keep]), np.log(spreads[keep])
    if np.ptp(level) <= 0:
        return None
    return float(np.polyfit(level, spread, 1)[0]), float(np.corrcoef(level, spread)[0, 1])


def choose_scale(data: Prepared) -> str:
    """``log`` where every target's training values are positive and their spread grows with
    their level (`growth`: slope >= `GROWTH_THRESHOLD`, correlation >= `MIN_CORRELATION`),
    else ``none``."""
    grows = [growth(values, data.season) for values in _training_targets(data)]
    return "log" if all(g is not None and g[0] >= GROWTH_THRESHOLD and g[1] >= MIN_CORRELATION
                        for g in grows) else "none"


def resolve(data: Prepared, scale: str) -> str:
    """``scale`` with ``auto`` chosen (`choose_scale`); ``log`` of a series with a training
    value at or below zero is a `ValueError`."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    if scale == "auto":
        return choose_scale(data)
    if scale == "log" and any(np.any(v <= 0) for v in _training_targets(data)):
        raise ValueError(f"{data.path}: --scale log needs positive values, and the training "
                         "part of a target has values at or below zero")
    return scale


def floors(data: Prepared) -> list[float]:
    """The floor of each target's log: `FLOOR_FRACTION` of its smallest training value."""
    return [FLOOR_FRACTION * float(values.min()) for values in _training_targets(data)]


def log_view(data: Prepared) -> Prepared:
    """``data`` with the log of its target columns (raised to `floors` first), the scaler of
    the log values of the training part and the ridge baseline refitted on them; the windows
    and split are the same. For the model's scaler and bases; scores need ``data`` itself."""
    c = data.targets
    values = np.array(data.values, np.float64, copy=True)
    values[:, :c] = np.log(np.maximum(values[:, :c], floors(data)))
    end = data.bounds[0]
    mean, std = np.array(data.mean, np.float64), np.array(data.std, np.float64)
    for j in range(c):
        seen = values[:end, j][data.observed[:end, j]]
        mean[j] = float(seen.mean())
        std[j] = float(seen.std()) or 1.0
    view = dataclasses.replace(data, values=values, mean=mean, std=std, linear=None,
                               penalty=None, notes=[], scale="log")
    fit_linear(view)
    return view


def view(data: Prepared, scale: str) -> Prepared:
    """The data the model's scaler and bases are computed from for a resolved ``scale``."""
    return log_view(data) if scale == "log" else data


def inverse(values: np.ndarray, scale: str) -> np.ndarray:
    """Values of a `view` with ``scale`` back in the data's units."""
    return np.exp(values) if scale == "log" else values
