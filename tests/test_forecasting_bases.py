"""forecasting: the ``fixed`` base (a given linear forecast inside the model: the ridge
baseline, or its blend with the seasonal-naive forecast) and ``--base auto`` (the candidate
that forecasts the validation part best)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from export.step import step_model
from tasks.forecasting import model_config
from tasks.forecasting.bases import base_errors, choose_base, coefficients, forecast
from tasks.forecasting.data import LINEAR, SEASONAL_NAIVE, prepare, settings, windows
from tasks.forecasting.metrics import ForecastLoss
from tasks.forecasting.synthetic import write_series


def _zero_head(model: keras.Model) -> keras.Model:
    head = model.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    return model


@pytest.mark.parametrize(("base", "covariate", "quantiles"), [
    ("ridge", False, 0), ("ridge", True, 0), ("blend", False, 3)])
def test_an_untrained_head_forecasts_the_fixed_base(tmp_path, base, covariate, quantiles):
    """The ridge base is the data module's ridge baseline exactly (same coefficients, same
    window order, with covariates too), the blend the average of it and the seasonal-naive
    baseline (every quantile, with a zero head); in the data's units, and in the step
    form."""
    path = write_series(tmp_path / "m.csv", 120, season=4, trend=0.05, covariate=covariate)
    options = {"lookback": 8, "horizon": 3, "season": 4,
               "covariates": ["lead"] if covariate else None}
    data = prepare(path, settings(**options))
    builder, config = model_config(data, units=[4], base=base, quantiles=quantiles)
    features = len(data.feature_names)
    assert config["base"] == "fixed"
    assert np.asarray(config["coefficients"]).shape == (8 * features + 1, 3)
    model = _zero_head(zoo.build(builder, **config))
    x, y = windows(path, "test", **options)
    got = np.asarray(model.predict_on_batch(x))[:, :, 0]
    expected = y[..., 0, LINEAR]
    if base == "blend":
        expected = (expected + y[..., 0, SEASONAL_NAIVE]) / 2
    if quantiles:
        expected = np.repeat(expected[..., None], quantiles, axis=-1)
    assert np.allclose(got, expected, atol=1e-3 * np.abs(expected).max())
    assert not model.get_layer("fixed_base").trainable
    step = step_model(model)  # one observation at a time: the last forecast is the sequence's
    assert sum(step.rnnzoo_step.states.values()) == 2 * 4 + 8 * features  # LSTM + window
    states = {n: np.zeros((len(x), w), np.float32) for n, w in step.rnnzoo_step.states.items()}
    for t in range(8):
        out = step({"history": x[:, t], **states})
        states = {n: np.asarray(out[n]) for n in states}
    assert np.allclose(np.asarray(out["forecast"])[:, :, 0], got, rtol=1e-5, atol=1e-4)


def test_the_fixed_base_survives_saving_and_training_leaves_it_fixed(tmp_path):
    path = write_series(tmp_path / "m.csv", 100, season=4)
    data = prepare(path, settings(lookback=6, horizon=2, season=4))
    builder, config = model_config(data, units=[4], base="ridge")
    model = zoo.build(builder, **config)
    before = [w.copy() for w in model.get_layer("fixed_base").get_weights()]
    x, y = windows(path, "train", lookback=6, horizon=2, season=4)
    model.compile(keras.optimizers.Adam(1e-2), loss=ForecastLoss())
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    after = model.get_layer("fixed_base").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert np.allclose(loaded.predict_on_batch(x[:5]), model.predict_on_batch(x[:5]), atol=1e-5)


def test_fixed_base_needs_its_coefficients_and_a_direct_model():
    config = {"lookback": 4, "horizon": 2, "season": 1, "mean": [0.0], "std": [1.0]}
    with pytest.raises(ValueError, match="base 'fixed' needs its coefficients"):
        zoo.build("forecast-direct-lstm", base="fixed", units=4, **config)
    with pytest.raises(ValueError, match=r"must have shape \(5, 2\)"):
        zoo.build("forecast-direct-lstm", base="fixed", coefficients=np.zeros((4, 2)).tolist(),
                  units=4, **config)
    with pytest.raises(ValueError, match="base 'fixed' is for direct forecasters"):
        zoo.build("forecast-ar-gru", base="fixed", coefficients=np.zeros((5, 2)).tolist(),
                  units=4, **config)


@pytest.mark.parametrize(("lookback", "season"), [(12, 12), (12, 4), (6, 12), (6, 1)])
def test_the_seasonal_candidate_is_the_models_seasonal_base(tmp_path, lookback, season):
    """Season within the lookback: the seasonal-naive baseline (whole seasons back); longer
    than the lookback, or 1: the last value (as the model's seasonal base falls back to it)."""
    path = write_series(tmp_path / "m.csv", 120, season=12)
    data = prepare(path, settings(lookback=lookback, horizon=5, season=season))
    origins = data.origins["validation"]
    got = forecast(data, "seasonal", origins)
    if season <= lookback:
        assert np.allclose(got, data.references(origins)[..., SEASONAL_NAIVE], atol=1e-4)
    else:
        assert np.allclose(got, np.repeat(data.values[origins - 1, None, :1], 5, axis=1))
    assert np.allclose(forecast(data, "ridge", origins), data.linear_forecast(origins))
    with pytest.raises(ValueError, match="unknown base 'trend'"):
        coefficients(data, "trend")


def test_auto_chooses_the_base_that_forecasts_validation_best(tmp_path):
    """A noiseless seasonal wave: the seasonal-naive forecast is exact, so ``seasonal``; a
    steep trend with noise: the seasonal-naive forecast lags a whole season behind, the ridge
    baseline extrapolates, so ``ridge``. The scores are the validation MASE of each."""
    wave = prepare(write_series(tmp_path / "wave.csv", 120, season=4, noise=0.0),
                   settings(lookback=8, horizon=2, season=4))
    assert base_errors(wave)["seasonal"] < 1e-6
    assert choose_base(wave) == "seasonal"
    assert model_config(wave, units=[4], base="auto")[1]["base"] == "seasonal"
    trend = prepare(write_series(tmp_path / "trend.csv", 120, season=4, trend=0.5, noise=0.1),
                    settings(lookback=8, horizon=2, season=4))
    scores = base_errors(trend)
    assert scores["ridge"] < 0.5 * min(scores["seasonal"], scores["blend"]), scores
    _, config = model_config(trend, units=[4], base="auto")
    assert config["base"] == "fixed"
    assert np.allclose(config["coefficients"], coefficients(trend, "ridge"))
    # autoregressive models have no fixed base: auto is seasonal for them
    assert model_config(trend, mode="ar", units=[4], base="auto")[1]["base"] == "seasonal"


def test_auto_reads_no_test_value(tmp_path):
    """Rewriting the test part (wildly) leaves auto's choice and the model config as they
    were; rewriting the validation part may change the choice (it is what auto reads)."""
    path = write_series(tmp_path / "a.csv", 150, season=4, trend=0.05, noise=0.3)
    options = {"lookback": 8, "horizon": 2, "season": 4}
    before = prepare(path, settings(**options))
    lines = path.read_text().splitlines()
    keep = 1 + before.bounds[1]  # header and the training and validation parts
    changed = lines[:keep] + [f"{line.split(',')[0]},{1e6 * (i + 1)}"
                              for i, line in enumerate(lines[keep:])]
    other = tmp_path / "b.csv"
    other.write_text("\n".join(changed) + "\n")
    after = prepare(other, settings(**options))
    assert base_errors(before) == base_errors(after)
    assert model_config(before, base="auto") == model_config(after, base="auto")
    assert base_errors(before, "test") != base_errors(after, "test")


@pytest.mark.slow
def test_int8_step_file_follows_the_fixed_base_beyond_the_training_range(tmp_path):
    """A trend carries the test windows beyond the training range; the int8 step file still
    forecasts what Keras does, within 1 % of the forecasts' level on average (the int8
    output's resolution is 1/256 of its calibrated range, about 0.3 % of the level here; a
    clipped input would miss by several units)."""
    import export
    from export import TFLiteRunner
    from tasks.forecasting.data import representative

    path = write_series(tmp_path / "trend.csv", 160, season=4, trend=0.1, noise=0.2)
    options = {"lookback": 8, "horizon": 3, "season": 4}
    data = prepare(path, settings(**options))
    keras.utils.set_random_seed(0)
    builder, config = model_config(data, units=[4], base="ridge")
    model = zoo.build(builder, **config)
    export.to_tflite(model, tmp_path / "step.tflite", quantize="int8", kind="step",
                     representative=representative(path, 64, **options))
    x, _ = windows(path, "test", **options)
    assert x[..., 0].min() > data.mean[0] + 2 * data.std[0]  # beyond the training range
    keras_forecast = np.asarray(model.predict_on_batch(x))
    error = np.abs(TFLiteRunner(tmp_path / "step.tflite").predict(x) - keras_forecast)
    assert error.mean() < 0.01 * np.abs(keras_forecast).mean(), error.mean()
