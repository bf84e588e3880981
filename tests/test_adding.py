"""The adding-problem task: data, metric, and a short training that must beat the baseline."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import tasks
import zoo
from tasks.adding.data import BASELINE_MSE, generate


def test_each_example_marks_one_value_in_each_half_and_targets_their_sum():
    inputs, targets = generate(500, 20, seed=3)
    values, markers = inputs[..., 0], inputs[..., 1]
    assert inputs.shape == (500, 20, 2) and targets.shape == (500, 1)
    assert np.all(markers[:, :10].sum(axis=1) == 1) and np.all(markers[:, 10:].sum(axis=1) == 1)
    np.testing.assert_allclose(targets[:, 0], (values * markers).sum(axis=1), rtol=1e-6)
    assert values.min() >= 0.0 and values.max() < 1.0


def test_splits_are_fixed_and_disjoint():
    task = tasks.get_task("adding")
    first = next(task.load(None, "test", length=12).batch(50).as_numpy_iterator())[0]
    again = next(task.load(None, "test", length=12).batch(50).as_numpy_iterator())[0]
    train = next(task.load(None, "train", length=12).batch(50).as_numpy_iterator())[0]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, train)


def test_baseline_of_predicting_one_is_a_sixth():
    task = tasks.get_task("adding")
    figures = task.metric(
        lambda x: np.ones((len(x), 1), np.float32), task.load(None, "test", length=30)
    )
    assert figures["mse"] == pytest.approx(BASELINE_MSE, rel=0.05)
    assert figures["mse"] == pytest.approx(figures["baseline_mse"])
    assert figures["examples"] == 10_000


def test_metric_of_a_perfect_model_is_zero():
    task = tasks.get_task("adding")
    perfect = lambda x: (x[..., 0] * x[..., 1]).sum(axis=1, keepdims=True)  # noqa: E731
    assert task.metric(perfect, task.load(None, "validation", length=15))["mse"] < 1e-10


@pytest.mark.parametrize("bad", [dict(length=1), dict(size=0)])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ValueError):
        tasks.get_task("adding").load(None, "train", **bad)


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="unknown split"):
        tasks.get_task("adding").load(None, "dev")


def test_short_lstm_training_beats_the_baseline_tenfold():
    """A short run at T=10: the LSTM must reach a tenth of the baseline MSE (0.017).

    Seen here: 0.001-0.003 over seeds 0-2.
    """
    keras.utils.set_random_seed(0)
    task = tasks.get_task("adding")
    train = task.load(None, "train", length=10, train_size=4096).shuffle(4096, seed=0).batch(64)
    model = zoo.build("adding-lstm", length=10, units=16)
    model.compile(keras.optimizers.Adam(1e-2, global_clipnorm=1.0), "mse")
    model.fit(train, epochs=6, verbose=0)
    figures = task.metric(model.predict_on_batch, task.load(None, "test", length=10, size=2000))
    assert figures["mse"] < 0.1 * figures["baseline_mse"], figures
