"""forecasting: the direct and autoregressive forecasters, their step form, the loss and the
metric (with the baselines beside it)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from export.step import step_model
from tasks.forecasting import model_config
from tasks.forecasting.data import (
    OBSERVED,
    SEASONAL_NAIVE,
    TRUTH,
    prepare,
    settings,
    windows,
)
from tasks.forecasting.metrics import (
    ForecastLoss,
    forecast_metrics,
    metric,
    pinball,
    quantile_levels,
)
from tasks.forecasting.synthetic import write_series

BUILDERS = ("forecast-direct-lstm", "forecast-direct-gru", "forecast-ar-lstm", "forecast-ar-gru")
RNG = np.random.default_rng(0)


def _config(**changes) -> dict:
    config = {"lookback": 6, "horizon": 4, "features": 3, "targets": 2, "units": 4,
              "season": 3, "mean": [10.0, -5.0, 0.0], "std": [2.0, 0.5, 1.0]}
    return {**config, **changes}


def _history(count: int = 3, features: int = 3) -> np.ndarray:
    return (10 + 2 * RNG.normal(size=(count, 6, features))).astype(np.float32)


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("quantiles", [0, 3])
def test_forecast_shapes_and_the_step_form(name, quantiles):
    keras.utils.set_random_seed(0)
    model = zoo.build(name, **_config(quantiles=quantiles))
    x = _history()
    y = np.asarray(model.predict_on_batch(x))
    assert y.shape == ((3, 4, 2, 3) if quantiles else (3, 4, 2))
    step = step_model(model)
    states = {n: np.zeros((3, w), np.float32) for n, w in step.rnnzoo_step.states.items()}
    for t in range(6):  # one observation at a time: the last forecast is the sequence's
        out = step({"history": x[:, t], **states})
        states = {n: np.asarray(out[n]) for n in states}
    assert np.allclose(np.asarray(out["forecast"]), y, atol=1e-5)
    if quantiles:
        assert (np.diff(y, axis=-1) >= 0).all()  # quantiles never cross


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("base", ["seasonal", "last"])
def test_an_untrained_head_forecasts_the_base(tmp_path, name, base):
    """With the head's weights at zero the model forecasts exactly its base: the seasonal-naive
    forecast the data module computes for the baseline, or the last value."""
    path = write_series(tmp_path / "m.csv", 100, season=4)
    data = prepare(path, settings(lookback=8, horizon=6, season=4))
    builder, config = model_config(data, mode=name.split("-")[1], kind=name.split("-")[2],
                                   units=[4], base=base)
    model = zoo.build(builder, **config)
    head = model.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    x, y = windows(path, "test", lookback=8, horizon=6, season=4)
    forecast = np.asarray(model.predict_on_batch(x))[..., 0]
    if base == "seasonal":
        assert np.allclose(forecast, y[..., 0, SEASONAL_NAIVE], atol=1e-4)
    else:
        assert np.allclose(forecast, np.repeat(x[:, -1:, 0], 6, axis=1), atol=1e-4)


def test_linear_base_and_bad_configs():
    model = zoo.build("forecast-direct-gru", **_config(base="linear"))
    assert model.get_layer("linear").get_weights()[0].shape == (6 * 3, 4 * 2)
    step = step_model(model)
    assert sum(step.rnnzoo_step.states.values()) == 4 + 6 * 3  # GRU state + the window
    with pytest.raises(ValueError, match="base 'linear' is for direct forecasters"):
        zoo.build("forecast-ar-gru", **_config(base="linear"))
    with pytest.raises(ValueError, match="quantiles must be 0 .* or an odd number >= 3"):
        zoo.build("forecast-direct-lstm", **_config(quantiles=4))
    with pytest.raises(ValueError, match="targets \\(4\\) cannot exceed features \\(3\\)"):
        zoo.build("forecast-direct-lstm", **_config(targets=4))
    with pytest.raises(ValueError, match="mean and std need one value per feature"):
        zoo.build("forecast-direct-lstm", **_config(mean=[0.0]))
    with pytest.raises(ValueError, match="unknown base 'trend'"):
        zoo.build("forecast-direct-lstm", **_config(base="trend"))


def test_inputs_and_outputs_are_in_the_data_units():
    """Standardizing inside the model: shifting and scaling the data with the scaler gives the
    same standardized computation."""
    keras.utils.set_random_seed(1)
    a = zoo.build("forecast-direct-lstm", **_config(mean=[0.0] * 3, std=[1.0] * 3))
    b = zoo.build("forecast-direct-lstm", **_config())
    b.set_weights(a.get_weights())
    z = RNG.normal(size=(2, 6, 3)).astype(np.float32)
    raw = z * np.float32([2.0, 0.5, 1.0]) + np.float32([10.0, -5.0, 0.0])
    expected = np.asarray(a.predict_on_batch(z)) * [2.0, 0.5] + [10.0, -5.0]
    assert np.allclose(b.predict_on_batch(raw), expected, atol=1e-4)


# --- loss and metric -------------------------------------------------------------------------

def _targets(truth: np.ndarray, scale: float = 2.0, observed=None) -> np.ndarray:
    observed = np.ones_like(truth) if observed is None else observed
    naive = np.roll(truth, 1, axis=1)
    return np.stack([truth, observed, naive, truth + 1.0, np.full_like(truth, scale)], -1)


def test_the_loss_is_the_scaled_error_of_observed_values():
    truth = RNG.normal(size=(2, 3, 1)).astype(np.float32)
    observed = np.ones_like(truth)
    observed[0, 1] = 0
    targets = _targets(truth, observed=observed).astype(np.float32)
    loss = ForecastLoss()
    assert float(loss(targets, truth)) == pytest.approx(0.0)
    wrong = truth + 4.0
    wrong[0, 1] = 1e6  # not observed: does not count
    assert float(loss(targets, wrong)) == pytest.approx(2.0 * 5 / 6, rel=1e-5)
    # pinball: a forecast of all quantiles at the truth is perfect; spread costs
    quantiles = np.repeat(truth[..., None], 3, axis=-1)
    assert float(loss(targets, quantiles)) == pytest.approx(0.0, abs=1e-7)


def test_pinball_and_quantile_levels():
    assert quantile_levels(5).tolist() == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    levels = quantile_levels(3)
    loss = pinball(np.array([0.0, 0.0, 0.0]), np.array(1.0), levels)
    assert loss.tolist() == pytest.approx(levels.tolist())  # under-forecast by 1 costs l


def test_metric_scores_a_perfect_model_and_the_baselines_on_the_same_values():
    truth = RNG.normal(size=(5, 3, 1))
    targets = _targets(truth)
    figures = forecast_metrics(truth, targets)
    assert figures["mase"] == figures["mae"] == figures["rmse"] == 0.0
    assert figures["linear_mae"] == pytest.approx(1.0)
    assert figures["linear_mase"] == pytest.approx(0.5)
    assert list(figures)[0] == "mase" and figures["windows"] == 5 and figures["values"] == 15
    naive = forecast_metrics(targets[..., SEASONAL_NAIVE], targets)
    assert naive["mase"] == pytest.approx(naive["seasonal_naive_mase"])
    quantiles = np.stack([truth - 1, truth, truth + 1], -1)
    figures = forecast_metrics(quantiles, targets)
    assert figures["mase"] == 0.0 and figures["coverage"] == 1.0
    assert figures["interval"] == pytest.approx(2 / 3)


def test_metric_runs_a_model_over_a_dataset(tmp_path):
    import tasks

    path = write_series(tmp_path / "m.csv", 100, missing=(90,))
    task = tasks.get_task("forecasting")
    dataset = task.load(path, "test", lookback=6, horizon=3)
    _, y = windows(path, "test", lookback=6, horizon=3)
    assert y[..., OBSERVED].min() == 0  # row 90 is scored nowhere

    def truth_model(inputs):  # a "model" that knows the truth of each window, by its inputs
        index = [int(np.argmin(np.abs(x_all - x).sum((1, 2)))) for x in inputs]
        return y[index][..., TRUTH]

    x_all = windows(path, "test", lookback=6, horizon=3)[0]
    figures = metric(truth_model, dataset)
    assert figures["mase"] == 0.0 and figures["values"] == int(y[..., OBSERVED].sum())


@pytest.mark.slow
@pytest.mark.parametrize(("name", "base"), [("forecast-direct-lstm", "last"),
                                            ("forecast-ar-gru", "seasonal")])
def test_int8_files_follow_the_base(tmp_path, name, base):
    """Full int8 keeps the sum of change and base in float: an int8 Add after the head was
    once folded into its bias and the int8 forecasts came out nearly constant."""
    import export
    from export import TFLiteRunner

    keras.utils.set_random_seed(0)
    model = zoo.build(name, lookback=8, horizon=4, units=4, base=base, season=4,
                      mean=[100.0], std=[50.0])
    rng = np.random.default_rng(0)

    def series(count):
        t = np.arange(8)[None] + rng.integers(0, 100, (count, 1))
        wave = 100 + 50 * np.sin(t / 3.0) + 10 * rng.normal(size=t.shape)
        return wave[..., None].astype(np.float32)

    export.to_tflite(model, tmp_path / "step.tflite", quantize="int8", kind="step",
                     representative=[s[None] for s in series(64)])
    x = series(16)
    keras_forecast = np.asarray(model.predict_on_batch(x))
    error = np.abs(TFLiteRunner(tmp_path / "step.tflite").predict(x) - keras_forecast)
    assert error.mean() < 0.03 * keras_forecast.std(), (error.mean(), keras_forecast.std())
