"""Fixed bases a forecaster learns the change from, and ``--base auto``.

Each candidate is a linear forecast over the standardized window, as coefficients
``[lookback * F + 1, horizon * C]`` (the last row the intercept; the layout of
`tasks.forecasting.data.Prepared.standardized_windows`):

* ``seasonal``: the model's seasonal base (the seasonal-naive forecast; the last value where
  the season is 1 or longer than the lookback) as a selection matrix;
* ``ridge``: the ridge-regression baseline of `tasks.forecasting.data` (fitted on the
  training part);
* ``blend``: their average, a forecast combination.

``auto`` takes the candidate with the lowest MASE on the validation windows, as validation
chooses the epoch (ties: the first of `CANDIDATES`). Nothing of the test part is read.
"""

from __future__ import annotations

import numpy as np

from tasks.forecasting.data import Prepared
from tasks.forecasting.metrics import errors

CANDIDATES = ("seasonal", "ridge", "blend")


def seasonal_coefficients(data: Prepared) -> np.ndarray:
    """The model's seasonal base as coefficients: step ``h`` of target ``c`` copies the
    window's value one season (whole seasons back until it is observed) before it."""
    lookback, horizon, season = data.settings.lookback, data.settings.horizon, data.season
    features, targets = len(data.mean), data.targets
    coefficients = np.zeros((lookback * features + 1, horizon * targets))
    for h in range(horizon):
        position = (lookback - 1 if season == 1 or season > lookback
                    else lookback + h - season * (h // season + 1))
        for c in range(targets):
            coefficients[position * features + c, h * targets + c] = 1.0
    return coefficients


def coefficients(data: Prepared, name: str) -> np.ndarray:
    """The coefficients of candidate ``name`` (`CANDIDATES`)."""
    if name == "seasonal":
        return seasonal_coefficients(data)
    if name == "ridge":
        return np.asarray(data.linear, np.float64)
    if name == "blend":
        return (seasonal_coefficients(data) + np.asarray(data.linear, np.float64)) / 2
    raise ValueError(f"unknown base {name!r}; expected one of {', '.join(CANDIDATES)}")


def forecast(data: Prepared, name: str, origins: np.ndarray) -> np.ndarray:
    """Candidate ``name``'s forecast ``[windows, horizon, C]`` in the data's units."""
    c = data.targets
    z = data.standardized_windows(origins) @ coefficients(data, name)
    z = z.reshape(len(origins), data.settings.horizon, c)
    return z * data.std[:c] + data.mean[:c]


def base_errors(data: Prepared, split: str = "validation") -> dict[str, float]:
    """MASE of each candidate on the windows of ``split``."""
    origins = data.origins[split]
    targets = data.references(origins).astype(np.float64)
    return {name: errors(forecast(data, name, origins), targets)["mase"]
            for name in CANDIDATES}


def choose_base(data: Prepared) -> str:
    """The candidate with the lowest validation MASE."""
    scores = base_errors(data)
    return min(CANDIDATES, key=lambda name: scores[name])
