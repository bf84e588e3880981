"""Validate, select and keep the exponential moving average of the weights (Polyak averaging).

With ``fit(..., ema=MOMENTUM)`` the optimizer keeps, in the graph, an average of every
trainable variable over the steps (Keras' ``use_ema``: ``average = m * average + (1 - m) *
weights`` after each step). The average is what gets validated, checkpointed, chosen by early
stopping and returned; training itself goes on from the raw weights.

Two callbacks bracket the run's own ones (`fit` places them): `UseAverage`, first, puts the
average into the model before validation (and at the epoch end when there is none), keeping
a copy of the raw weights; `UseTrainingWeights`, just before the backup, puts the raw weights
back. So the backup always holds the raw weights with the average intact among the optimizer's
variables, and a resumed run carries on exactly. Keras' ``SwapEMAWeights`` swaps the two in
place instead, which leaves them swapped in a backup and in its end-of-fit
``finalize_variable_values`` when it also serves checkpoints.
"""

from __future__ import annotations

import keras
import numpy as np

from zoo.checks import check_fraction


class _Average:
    """The raw weights set aside while the model holds the optimizer's average."""

    def __init__(self) -> None:
        self.raw: list[np.ndarray] | None = None

    @staticmethod
    def _pairs(model: keras.Model):
        optimizer = model.optimizer
        return zip(optimizer._trainable_variables, optimizer._model_variables_moving_average)

    def put_average(self, model: keras.Model) -> None:
        """Load the average into the model's variables, keeping the raw values."""
        if self.raw is not None:
            return
        pairs = list(self._pairs(model))
        self.raw = [keras.ops.convert_to_numpy(variable) for variable, _ in pairs]
        for variable, average in pairs:
            variable.assign(average)

    def put_raw(self, model: keras.Model) -> None:
        """Load the raw values back (a no-op when they are in)."""
        if self.raw is None:
            return
        for (variable, _), value in zip(self._pairs(model), self.raw):
            variable.assign(value)
        self.raw = None


class UseAverage(keras.callbacks.Callback):
    """Puts the weight average into the model for validation and the epoch-end callbacks."""

    def __init__(self, state: _Average):
        super().__init__()
        self.state = state

    def on_test_begin(self, logs=None):
        self.state.put_average(self.model)

    def on_epoch_end(self, epoch, logs=None):
        self.state.put_average(self.model)  # no validation data: not in yet


class UseTrainingWeights(keras.callbacks.Callback):
    """Puts the raw weights back before the backup is written and training goes on."""

    def __init__(self, state: _Average):
        super().__init__()
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        self.state.put_raw(self.model)


def average_callbacks() -> tuple[UseAverage, UseTrainingWeights]:
    """The pair of callbacks for a model compiled with ``use_ema=True``: the first goes before
    every callback that reads the weights, the second after them and before the backup."""
    state = _Average()
    return UseAverage(state), UseTrainingWeights(state)


def check_momentum(momentum: float | None, name: str = "the weight average's momentum") -> None:
    """Refuse a momentum outside [0, 1); the error calls it ``name`` (e.g. ``--ema``)."""
    if momentum is not None:
        check_fraction(momentum, name)
