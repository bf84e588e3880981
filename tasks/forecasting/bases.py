"""Fixed bases a forecaster learns the change from, and ``--base auto``.

Each candidate is a linear forecast over the standardized window, as coefficients
``[lookback * F + 1, horizon * C]`` (the last row the intercept; the layout of
`tasks.forecasting.data.Prepared.standardized_windows`):

* ``seasonal``: the model's seasonal base (the seasonal-naive forecast; the last value where
  the season is 1 or longer than the lookback) as a selection matrix;
* ``ridge``: the ridge-regression baseline of `tasks.forecasting.data` (fitted on the
  training part);
* ``blend``: their average, a forecast combination.

``auto`` takes the candidate with the lowest MASE (ties: the first of `CANDIDATES`) on
the validation windows, as validation chooses the epoch (``on="validation"``), or on the
last fifth of the training windows with the ridge refitted on the windows before them
(``on="training"``, `tasks.forecasting.data.holdout_linear`), which leaves the validation
windows to score the choice. Nothing of the test part is read.

With ``--scale log`` the candidates are those of the log values (`tasks.forecasting.scaling`):
the functions take the scaling's ``view`` for the coefficients and the untransformed data for
the truth they are scored on.
"""

from __future__ import annotations

import numpy as np

from tasks.forecasting.data import Prepared, holdout_linear
from tasks.forecasting.metrics import errors

CANDIDATES = ("seasonal", "ridge", "blend")
CHOICES = ("validation", "training")  # where auto compares the candidates


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


def _forecast(data: Prepared, coefficients: np.ndarray, origins: np.ndarray) -> np.ndarray:
    c = data.targets
    z = data.standardized_windows(origins) @ coefficients
    z = z.reshape(len(origins), data.settings.horizon, c) * data.std[:c] + data.mean[:c]
    return np.exp(z) if data.scale == "log" else z


def forecast(data: Prepared, name: str, origins: np.ndarray) -> np.ndarray:
    """Candidate ``name``'s forecast ``[windows, horizon, C]`` in the data's units (``data``
    may be a log view: its forecast is mapped back)."""
    return _forecast(data, coefficients(data, name), origins)


def base_errors(data: Prepared, split: str = "validation",
                view: Prepared | None = None) -> dict[str, float]:
    """MASE of each candidate (of ``view``, default ``data``) on the windows of ``split``."""
    view = data if view is None else view
    origins = data.origins[split]
    targets = data.references(origins).astype(np.float64)
    return {name: errors(forecast(view, name, origins), targets)["mase"]
            for name in CANDIDATES}


def holdout_errors(data: Prepared, view: Prepared | None = None) -> dict[str, float]:
    """MASE of each candidate on the last fifth of the training windows, the ridge refitted
    on the training windows before them."""
    view = data if view is None else view
    ridge, origins = holdout_linear(view)
    seasonal = seasonal_coefficients(view)
    candidates = {"seasonal": seasonal, "ridge": ridge, "blend": (seasonal + ridge) / 2}
    targets = data.references(origins).astype(np.float64)
    return {name: errors(_forecast(view, candidates[name], origins), targets)["mase"]
            for name in CANDIDATES}


def choose_base(data: Prepared, view: Prepared | None = None, on: str = "validation") -> str:
    """The candidate with the lowest MASE on the validation windows, or on the training
    windows' last fifth (``on="training"``, `holdout_errors`; validation where the training
    part has no complete window)."""
    if on not in CHOICES:
        raise ValueError(f"unknown choice {on!r}; expected one of {', '.join(CHOICES)}")
    if on == "training" and len(holdout_linear(data if view is None else view)[1]):
        scores = holdout_errors(data, view)
    else:  # validation, or no complete training window to hold out
        scores = base_errors(data, view=view)
    return min(CANDIDATES, key=lambda name: scores[name])
