"""The weight average of `fit(..., ema=...)`: validated, checkpointed and returned, while
training goes on from the raw weights, and a resumed run continues exactly."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tasks.adding.data import load
from tasks.common.fit import fit
from zoo.adding import adding_lstm
from zoo.errors import RnnzooError

LENGTH, UNITS = 10, 8
COMMON = dict(loss="mse", batch_size=64, learning_rate=1e-2, verbose=0, tensorboard=False)


def build():
    return adding_lstm(length=LENGTH, units=UNITS)


@pytest.fixture(scope="module")
def data():
    return (load(split="train", length=LENGTH, size=256),
            load(split="validation", length=LENGTH, size=64))


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def _equal(a, b, atol=0.0):
    return len(a) == len(b) and all(np.allclose(x, y, rtol=0, atol=atol) for x, y in zip(a, b))


def _plain_and_averaged(tmp_path, data, epochs, ema):
    """Two runs of the same seed, without and with a weight average."""
    train, validation = data
    return [fit(build, train, validation, out_dir=tmp_path / name, epochs=epochs,
                early_stopping_patience=None, ema=momentum, **COMMON)
            for name, momentum in (("plain", None), ("averaged", ema))]


def _validation_loss(model, validation) -> float:
    x, y = next(iter(validation.batch(64)))
    return float(keras.ops.mean(keras.losses.mean_squared_error(y, model.predict_on_batch(x))))


def test_the_average_is_validated_and_returned_while_training_follows_the_raw_weights(
        tmp_path, data):
    raw, averaged = _plain_and_averaged(tmp_path, data, epochs=3, ema=0.9)
    # Same raw trajectory: every epoch's training loss is the plain run's (the raw weights
    # were put back after each validation), while the validated weights are not.
    assert averaged.history["loss"] == pytest.approx(raw.history["loss"], rel=1e-6)
    assert all(abs(a - b) > 1e-6 for a, b in
               zip(averaged.history["val_loss"], raw.history["val_loss"]))
    # The returned model is the validated average (its last epoch's val_loss).
    returned = _validation_loss(averaged.model, data[1])
    assert returned == pytest.approx(averaged.history["val_loss"][-1], rel=1e-4)
    assert not _equal(_weights(averaged.model), _weights(raw.model), atol=1e-5)


def test_momentum_zero_is_the_plain_run(tmp_path, data):
    """An average of momentum 0 is the last step's weights: every figure is the plain run's."""
    plain, zero = _plain_and_averaged(tmp_path, data, epochs=2, ema=0.0)
    assert zero.history["val_loss"] == pytest.approx(plain.history["val_loss"], rel=1e-6)
    assert _equal(_weights(zero.model), _weights(plain.model), atol=1e-6)


def test_checkpoint_and_early_stopping_keep_the_best_average(tmp_path, data):
    train, validation = data
    result = fit(build, train, validation, out_dir=tmp_path, epochs=3,
                 early_stopping_patience=1, ema=0.9, **COMMON)
    best = int(np.argmin(result.history["val_loss"]))
    checkpoint = build()
    checkpoint.load_weights(str(tmp_path / "best.weights.h5"))
    assert _equal(_weights(checkpoint), _weights(result.model))
    loss = _validation_loss(result.model, validation)
    assert loss == pytest.approx(result.history["val_loss"][best], rel=1e-4)


class _Interrupted(Exception):
    pass


class _InterruptAfterEpoch1(keras.callbacks.Callback):
    """Stops the run as a kill would, once epoch 1 has been committed."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise _Interrupted


def test_a_resumed_run_continues_the_raw_weights_and_the_average(tmp_path, data):
    train, validation = data
    whole = fit(build, train, validation, out_dir=tmp_path / "whole", epochs=3,
                early_stopping_patience=None, ema=0.9, **COMMON)
    with pytest.raises(_Interrupted):
        fit(build, train, validation, out_dir=tmp_path / "parts", epochs=3,
            early_stopping_patience=None, ema=0.9, callbacks=[_InterruptAfterEpoch1()], **COMMON)
    resumed = fit(build, train, validation, out_dir=tmp_path / "parts", epochs=3,
                  early_stopping_patience=None, ema=0.9, resume=True, **COMMON)
    assert resumed.history["loss"] == pytest.approx(whole.history["loss"], rel=1e-6)
    assert resumed.history["val_loss"] == pytest.approx(whole.history["val_loss"], rel=1e-6)
    assert _equal(_weights(resumed.model), _weights(whole.model), atol=1e-6)


def test_resuming_with_another_momentum_or_a_bad_one_is_refused(tmp_path, data):
    train, validation = data
    fit(build, train, validation, out_dir=tmp_path, epochs=1, early_stopping_patience=None,
        ema=0.9, **COMMON)
    with pytest.raises(RnnzooError, match="weight average of momentum 0.9.*asks for None"):
        fit(build, train, validation, out_dir=tmp_path, epochs=2,
            early_stopping_patience=None, resume=True, **COMMON)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        fit(build, train, validation, out_dir=tmp_path / "bad", epochs=1, ema=1.0, **COMMON)
