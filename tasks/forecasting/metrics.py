"""Forecast metrics (MAE, RMSE, MASE), the baselines beside them, and the training loss.

Every figure is computed over the observed target values of the windows scored (the
``observed`` channel of the targets, `tasks.forecasting.data`), for the model and for the two
baselines alike, so the three are compared on exactly the same values:

* ``mae``, ``rmse``: in the data's units, over every observed target value (every column,
  step and window);
* ``mase``: the MAE of each target column divided by its MASE scale (the mean absolute
  seasonal difference ``|y_t - y_{t-m}|`` over the training part, Hyndman & Koehler 2006),
  averaged over the columns. Below 1: better than the in-sample seasonal-naive forecast.
* ``seasonal_naive_*`` and ``linear_*``: the same for the seasonal-naive forecast and for the
  ridge-regression (linear autoregressive) baseline;
* with quantile outputs: the point forecast is the median; ``coverage`` is the share of
  observed values between the lowest and the highest quantile, whose nominal share is
  ``interval``; ``pinball`` the mean pinball loss over the quantiles, scaled like MASE.

Quantile levels: a model with ``Q`` quantile outputs forecasts the levels ``(2i + 1) / 2Q``
(`quantile_levels`; the midpoints of Q equal bins, as in QR-DQN), Q odd so that the middle
one is the median: Q = 5 gives 0.1, 0.3, 0.5, 0.7, 0.9 and an 80 % interval.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from tasks.forecasting.data import LINEAR, MASE_SCALE, OBSERVED, SEASONAL_NAIVE, TRUTH


def quantile_levels(count: int) -> np.ndarray:
    """The ``count`` quantile levels ``(2i + 1) / (2 count)``."""
    if count < 1:
        raise ValueError(f"the number of quantiles must be positive, got {count}")
    return (2 * np.arange(count) + 1) / (2 * count)


def point_forecast(outputs: np.ndarray) -> np.ndarray:
    """``[W, H, C]`` point forecasts of model outputs ``[W, H, C]`` or quantiles
    ``[W, H, C, Q]`` (the middle quantile)."""
    outputs = np.asarray(outputs, np.float64)
    if outputs.ndim == 4:
        return outputs[..., outputs.shape[-1] // 2]
    return outputs


def errors(forecast: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``mase``, ``mae`` and ``rmse`` of ``forecast`` ``[W, H, C]`` against the targets tensor
    ``[W, H, C, 5]`` (observed values only)."""
    truth, observed = targets[..., TRUTH], targets[..., OBSERVED] > 0
    scale = targets[..., MASE_SCALE]
    if not observed.any():
        raise ValueError("no observed target values to score")
    error = forecast - truth
    per_column = [np.abs(error[..., c][observed[..., c]]).mean()
                  / scale[..., c][observed[..., c]][0]
                  for c in range(truth.shape[-1]) if observed[..., c].any()]
    return {"mase": float(np.mean(per_column)), "mae": float(np.abs(error[observed]).mean()),
            "rmse": float(np.sqrt(np.mean(error[observed] ** 2)))}


def forecast_metrics(outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Every figure of the module docstring, from model outputs and the targets tensor."""
    outputs = np.asarray(outputs, np.float64)
    targets = np.asarray(targets, np.float64)
    forecast = point_forecast(outputs)
    if forecast.shape != targets.shape[:-1]:
        raise ValueError(f"forecasts of shape {forecast.shape} do not fit targets of shape "
                         f"{targets.shape[:-1]}")
    figures = errors(forecast, targets)
    for name, channel in (("seasonal_naive", SEASONAL_NAIVE), ("linear", LINEAR)):
        figures.update({f"{name}_{k}": v for k, v in errors(targets[..., channel],
                                                            targets).items()})
    if outputs.ndim == 4 and outputs.shape[-1] > 1:
        observed = targets[..., OBSERVED] > 0
        truth = targets[..., TRUTH]
        inside = (outputs[..., 0] <= truth) & (truth <= outputs[..., -1])
        levels = quantile_levels(outputs.shape[-1])
        figures["coverage"] = float(inside[observed].mean())
        figures["interval"] = float(levels[-1] - levels[0])
        loss = pinball(outputs, truth[..., None], levels) / targets[..., MASE_SCALE][..., None]
        figures["pinball"] = float(loss.mean(axis=-1)[observed].mean())
    figures["windows"] = int(targets.shape[0])
    figures["values"] = int((targets[..., OBSERVED] > 0).sum())
    return figures


def pinball(quantiles: np.ndarray, truth: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The pinball (quantile) loss of each quantile: ``max(l (y - q), (l - 1)(y - q))``."""
    difference = truth - quantiles
    return np.maximum(levels * difference, (levels - 1) * difference)


def predictions(model_fn: Callable, dataset, batch_size: int = 256
                ) -> tuple[np.ndarray, np.ndarray]:
    """``model_fn`` run over an unbatched ``(inputs, targets)`` dataset: the outputs and the
    targets, concatenated."""
    outputs, targets = [], []
    for inputs, target in dataset.batch(batch_size).as_numpy_iterator():
        output = model_fn(inputs)
        if isinstance(output, dict):  # a SavedModel or TFLite signature's named outputs
            (output,) = [v for k, v in output.items() if not k.startswith("state_")]
        outputs.append(np.asarray(output))
        targets.append(target)
    if not outputs:
        raise ValueError("the evaluation dataset is empty")
    return np.concatenate(outputs), np.concatenate(targets)


def metric(model_fn: Callable, dataset) -> dict[str, float]:
    """`forecast_metrics` of ``model_fn`` (a batch of input windows -> forecasts) over a
    `tasks.forecasting.data.load` dataset."""
    outputs, targets = predictions(model_fn, dataset)
    return forecast_metrics(outputs.reshape(len(targets), *outputs.shape[1:]), targets)


@keras.saving.register_keras_serializable(package="rnnzoo")
class ForecastLoss(keras.losses.Loss):
    """The training loss of the forecasters, on the targets tensor of
    `tasks.forecasting.data` (truth, observed flag and MASE scale per value).

    Point forecasts ``[B, H, C]``: the absolute error divided by the column's MASE scale (so
    the loss is the MASE of the batch, whatever the units of each column). Quantile forecasts
    ``[B, H, C, Q]``: the pinball loss at `quantile_levels` (Q), scaled the same way, summed
    over the quantiles. Values not observed count zero. Returns ``[B, H]``.
    """

    def __init__(self, name: str = "forecast_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        ops = keras.ops
        truth, observed = y_true[..., TRUTH], y_true[..., OBSERVED]
        scale = y_true[..., MASE_SCALE]
        if len(y_pred.shape) == 4:
            levels = ops.convert_to_tensor(quantile_levels(int(y_pred.shape[-1])), y_pred.dtype)
            difference = ops.expand_dims(truth, -1) - y_pred
            per_value = ops.sum(ops.maximum(levels * difference, (levels - 1.0) * difference),
                                axis=-1) * 2.0 / float(y_pred.shape[-1])
        else:
            per_value = ops.abs(truth - y_pred)
        return ops.mean(per_value / scale * observed, axis=-1)
