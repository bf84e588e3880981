"""forecasting: ``--ensemble N``, N networks side by side in one model and their median."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from export.step import step_model
from tasks.forecasting import model_config
from tasks.forecasting.data import SEASONAL_NAIVE, prepare, settings, windows
from tasks.forecasting.metrics import ForecastLoss
from tasks.forecasting.synthetic import write_series
from zoo.timeseries import MemberMedian

OPTIONS = {"lookback": 8, "horizon": 3, "season": 4}


@pytest.mark.parametrize("count", [3, 5])
def test_member_median_is_the_median_and_training_gives_each_example_one_member(count):
    rng = np.random.default_rng(count)
    members = [rng.normal(size=(7, 6)).astype(np.float32) for _ in range(count)]
    layer = MemberMedian(count)
    assert np.allclose(layer(members), np.median(np.stack(members), axis=0))
    routed = np.asarray(layer(members, training=True))
    for b in range(7):
        assert np.array_equal(routed[b], members[b % count][b])


def test_an_ensemble_forecasts_its_base_and_has_a_step_form(tmp_path):
    """Three stacks and heads (``m<i>_``), one base: with zero heads the forecast is the
    seasonal-naive one; the step file gives the sequence model's forecast; safe-mode loading
    gives the same forecasts."""
    path = write_series(tmp_path / "m.csv", 120, season=4, trend=0.05)
    data = prepare(path, settings(**OPTIONS))
    builder, config = model_config(data, units=[4], base="seasonal", ensemble=3)
    model = zoo.build(builder, **config)
    assert {f"m{i}_head" for i in range(3)} <= {layer.name for layer in model.layers}
    x, y = windows(path, "test", **OPTIONS)
    forecast = np.asarray(model.predict_on_batch(x))
    step = step_model(model)
    assert sum(step.rnnzoo_step.states.values()) == 3 * 2 * 4 + 4  # 3 LSTMs and the season
    states = {n: np.zeros((len(x), w), np.float32) for n, w in step.rnnzoo_step.states.items()}
    for t in range(8):
        out = step({"history": x[:, t], **states})
        states = {n: np.asarray(out[n]) for n in states}
    assert np.allclose(np.asarray(out["forecast"]), forecast, rtol=1e-5, atol=1e-4)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert np.allclose(loaded.predict_on_batch(x), forecast, atol=1e-5)
    for i in range(3):
        head = model.get_layer(f"m{i}_head")
        head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    assert np.allclose(model.predict_on_batch(x)[..., 0], y[..., 0, SEASONAL_NAIVE], atol=1e-4)


def test_each_member_trains_on_its_share_of_the_batch(tmp_path):
    """One optimizer step on a batch of 3 changes every member's head, and each head's
    change depends on its own example only."""
    path = write_series(tmp_path / "m.csv", 120, season=4, trend=0.05)
    data = prepare(path, settings(**OPTIONS))
    x, y = windows(path, "train", **OPTIONS)

    def heads_after_a_step(batch_x, batch_y):
        keras.utils.set_random_seed(0)
        builder, config = model_config(data, units=[4], base="seasonal", ensemble=3)
        model = zoo.build(builder, **config)
        model.compile(keras.optimizers.SGD(0.1), loss=ForecastLoss())
        before = [model.get_layer(f"m{i}_head").get_weights()[0].copy() for i in range(3)]
        model.train_on_batch(batch_x, batch_y)
        return [model.get_layer(f"m{i}_head").get_weights()[0] - before[i] for i in range(3)]

    moved = heads_after_a_step(x[:3], y[:3])
    assert all(np.abs(m).max() > 0 for m in moved)
    other = heads_after_a_step(x[[0, 1, 5]], y[[0, 1, 5]])  # member 2's example only differs
    assert np.allclose(moved[0], other[0]) and np.allclose(moved[1], other[1])
    assert not np.allclose(moved[2], other[2])


def test_ensembles_are_odd_and_direct():
    config = {"lookback": 4, "horizon": 2, "units": 4, "mean": [0.0], "std": [1.0]}
    with pytest.raises(ValueError, match="odd number >= 3"):
        zoo.build("forecast-direct-lstm", members=2, **config)
    with pytest.raises(ValueError, match="for direct forecasters only"):
        zoo.build("forecast-ar-gru", members=3, **config)
