"""forecasting: ``--scale`` (a log scale for positive series whose spread grows with their
level, chosen on the training part) and ``--auto-base-on training`` (auto's base chosen on
the last fifth of the training windows)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from export.step import step_model
from tasks.forecasting import model_config, scaling
from tasks.forecasting.bases import base_errors, choose_base, forecast, holdout_errors
from tasks.forecasting.data import SEASONAL_NAIVE, holdout_linear, prepare, settings, windows
from tasks.forecasting.synthetic import write_series

OPTIONS = {"lookback": 8, "horizon": 3, "season": 4}


def _rewrite_after(path, bounds_end: int, out):
    """``path`` with every value after the first ``bounds_end`` observations replaced."""
    lines = path.read_text().splitlines()
    keep = 1 + bounds_end
    changed = lines[:keep] + [f"{line.split(',')[0]},{5e3 * (i + 1)}"
                              for i, line in enumerate(lines[keep:])]
    out.write_text("\n".join(changed) + "\n")
    return out


def _zero_head(model: keras.Model) -> keras.Model:
    head = model.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    return model


def test_auto_takes_the_log_of_a_multiplicative_series_only(tmp_path):
    """A wave that grows with a rising level: log; the same wave added to the level: none
    (its spread does not grow); a training value at or below zero: none, and ``log`` is
    refused naming the file."""
    grows = prepare(write_series(tmp_path / "m.csv", 160, season=4, trend=0.5,
                                 multiplicative=True), settings(**OPTIONS))
    slope, correlation = scaling.growth(grows.values[:grows.bounds[0], 0], 4)
    assert slope > 0.8 and correlation > 0.9
    assert scaling.choose_scale(grows) == "log"
    assert model_config(grows, units=[4], scale="auto")[1]["scale"] == "log"
    flat = prepare(write_series(tmp_path / "a.csv", 160, season=4, trend=0.5),
                   settings(**OPTIONS))
    assert scaling.choose_scale(flat) == "none"
    assert model_config(flat, units=[4], scale="auto")[1]["scale"] == "none"
    path = write_series(tmp_path / "z.csv", 160, season=4, trend=0.5, multiplicative=True)
    lines = path.read_text().splitlines()
    lines[10] = lines[10].split(",")[0] + ",0"
    path.write_text("\n".join(lines) + "\n")
    zero = prepare(path, settings(**OPTIONS))
    assert scaling.growth(zero.values[:zero.bounds[0], 0], 4) is None
    assert scaling.choose_scale(zero) == "none"
    with pytest.raises(ValueError, match=r"z\.csv: --scale log needs positive values"):
        model_config(zero, units=[4], scale="log")


def test_the_scale_and_its_scaler_read_no_later_value(tmp_path):
    """Rewriting the validation and test parts leaves the choice, the log scaler, the log
    ridge and the whole model config (with base auto on the training part) as they were."""
    path = write_series(tmp_path / "m.csv", 160, season=4, trend=0.5, multiplicative=True)
    before = prepare(path, settings(**OPTIONS))
    after = prepare(_rewrite_after(path, before.bounds[0], tmp_path / "b.csv"),
                    settings(**OPTIONS))
    first, second = scaling.log_view(before), scaling.log_view(after)
    assert np.array_equal(first.mean, second.mean) and np.array_equal(first.std, second.std)
    assert np.array_equal(first.linear, second.linear)
    assert np.allclose(first.mean[0], np.log(before.values[:before.bounds[0], 0]).mean())
    assert scaling.choose_scale(after) == "log"
    assert (model_config(before, base="auto", scale="auto", base_choice="training")
            == model_config(after, base="auto", scale="auto", base_choice="training"))
    assert holdout_errors(before) == holdout_errors(after)
    assert base_errors(before) != base_errors(after)  # validation is what it would read


@pytest.mark.parametrize("base", ["seasonal", "ridge", "blend"])
def test_an_untrained_log_model_forecasts_its_base_in_the_data_units(tmp_path, base):
    """With a zero head the log model forecasts exp(its log base): the seasonal-naive
    forecast itself, or the ridge (blend) of the log window; in the step form too. A value
    at or below zero is read as the floor, so the forecast stays finite."""
    path = write_series(tmp_path / "m.csv", 160, season=4, trend=0.5, multiplicative=True)
    data = prepare(path, settings(**OPTIONS))
    builder, config = model_config(data, units=[4], base=base, scale="log")
    assert config["floor"] == [pytest.approx(0.1 * data.values[:data.bounds[0], 0].min())]
    model = _zero_head(zoo.build(builder, **config))
    x, y = windows(path, "test", **OPTIONS)
    got = np.asarray(model.predict_on_batch(x))[..., 0]
    if base == "seasonal":
        expected = y[..., 0, SEASONAL_NAIVE]
    else:
        expected = forecast(scaling.log_view(data), base, data.origins["test"])[..., 0]
        assert not np.allclose(expected, forecast(data, base, data.origins["test"])[..., 0],
                               rtol=1e-3)
    assert np.allclose(got, expected, rtol=1e-4), np.abs(got - expected).max()
    step = step_model(model)
    states = {n: np.zeros((len(x), w), np.float32) for n, w in step.rnnzoo_step.states.items()}
    for t in range(8):
        out = step({"history": x[:, t], **states})
        states = {n: np.asarray(out[n]) for n in states}
    assert np.allclose(np.asarray(out["forecast"])[..., 0], got, rtol=1e-5)
    bad = x.copy()
    bad[:, -1] = -3.0
    assert np.all(np.isfinite(model.predict_on_batch(bad)))


def test_log_model_config_is_checked():
    config = {"lookback": 4, "horizon": 2, "units": 4, "mean": [1.0], "std": [1.0]}
    with pytest.raises(ValueError, match="scale 'log' needs floor"):
        zoo.build("forecast-direct-lstm", scale="log", **config)
    with pytest.raises(ValueError, match="one positive value per target"):
        zoo.build("forecast-direct-lstm", scale="log", floor=[0.0], **config)
    with pytest.raises(ValueError, match="unknown scale 'boxcox'"):
        zoo.build("forecast-direct-lstm", scale="boxcox", **config)


@pytest.mark.slow
def test_a_log_ensemble_saves_and_exports_with_the_log_in_float(tmp_path):
    """A log model of 3 members (`tests/test_forecasting_ensemble.py`): safe-mode loading
    gives the same forecasts; a full-int8 step file (the log, exp, median and scaling kept in
    float; the test part lies above the training range) is within 1 % of the forecasts' mean
    on average (measured for one member: 0.7 %; the same model without the log 0.35 %)."""
    import export
    from export import TFLiteRunner
    from tasks.forecasting.data import representative

    path = write_series(tmp_path / "m.csv", 160, season=4, trend=0.5, multiplicative=True)
    data = prepare(path, settings(**OPTIONS))
    builder, config = model_config(data, units=[4], base="seasonal", scale="log",
                                   quantiles=3, ensemble=3)
    keras.utils.set_random_seed(0)
    model = zoo.build(builder, **config)
    x, _ = windows(path, "test", **OPTIONS)
    keras_forecast = np.asarray(model.predict_on_batch(x))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert np.allclose(loaded.predict_on_batch(x), keras_forecast, rtol=1e-6)
    export.to_tflite(model, tmp_path / "step.tflite", quantize="int8", kind="step",
                     representative=representative(path, 60, **OPTIONS))
    error = np.abs(TFLiteRunner(tmp_path / "step.tflite").predict(x) - keras_forecast)
    assert error.mean() < 0.01 * keras_forecast.mean(), error.mean()


def test_auto_on_the_training_part_holds_out_its_last_fifth(tmp_path):
    """The held-out ridge is fitted without the last fifth of the training windows (so it
    differs from the baseline); a noiseless wave gets the seasonal base and a steep trend the
    ridge, as on validation."""
    wave = prepare(write_series(tmp_path / "wave.csv", 120, season=4, noise=0.0),
                   settings(**OPTIONS))
    assert holdout_errors(wave)["seasonal"] < 1e-6
    assert choose_base(wave, on="training") == "seasonal"
    trend = prepare(write_series(tmp_path / "trend.csv", 120, season=4, trend=0.5),
                    settings(**OPTIONS))
    ridge, origins = holdout_linear(trend)
    train = trend.origins["train"]
    assert len(origins) == round(0.2 * len(train)) and origins[-1] == train[-1]
    assert not np.allclose(ridge, trend.linear)
    assert choose_base(trend, on="training") == "ridge"
    with pytest.raises(ValueError, match="unknown choice 'test'"):
        choose_base(trend, on="test")
