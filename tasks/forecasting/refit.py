"""Refit on the training and validation parts once validation has chosen the configuration.

Forecasters choose a configuration on validation and then refit it on all the data before the
part they forecast: the last observations are the nearest to the test part and the most
informative. Here the first fit (early stopping on validation) fixes the epochs ``E`` of its
best validation loss and the base and scale ``auto`` chose; the refit then

* prepares the series with the ``refit`` layout (`tasks.forecasting.data.Settings`): the
  scaler, the log view and the ridge (with its penalty chosen again on the last fifth of its
  windows) fitted on the training and validation parts, whose windows are the training windows;
  the one-hot categories and the MASE scale stay those of the training part, so the refit
  model reads and is scored on exactly the windows of the first;
* builds a fresh model with the same base and scale (``ridge`` and ``blend`` with the refitted
  coefficients), and trains it with the same seed, batch rule and learning-rate schedule (the
  cosine over the run's ``epochs``) for ``E`` epochs, without validation: its final weights are
  the forecaster's.

No test value is read (`tests/test_forecasting_refit.py`). The nested holdout, which measures
whether refitting helps, runs the same with the ``holdout`` layout: the series before its test
part, whose validation part plays the test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import keras
import numpy as np

from tasks.common.fit import FitResult


def chosen_epochs(result: FitResult) -> int:
    """The epochs early stopping chose: those of the lowest validation loss (all the epochs
    run where there was no validation)."""
    losses = result.history.get("val_loss") or []
    if not losses or np.all(np.isnan(losses)):
        return max(result.epochs_completed, 1)
    return 1 + int(np.nanargmin(losses))


class StopAfter(keras.callbacks.Callback):
    """Stop training after ``epochs`` epochs, whatever the run's total (which the learning-rate
    schedule spans)."""

    def __init__(self, epochs: int):
        super().__init__()
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        self.epochs = int(epochs)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


def refit_model(path: Path, data_options: dict, args: argparse.Namespace, training: dict,
                out_dir: Path, *, base: str, scale: str, epochs: int, seed: int = 0,
                verbose: int = 0) -> tuple[keras.Model, FitResult]:
    """Train a fresh forecaster with the task's model options ``args`` (``rnnzoo train
    forecasting``'s) on the training and validation parts of ``path`` for ``epochs`` epochs of
    a run of ``training["epochs"]``, with the resolved ``base`` and ``scale`` of the first fit;
    returns the model and the `FitResult`."""
    import tasks
    import zoo
    from tasks.common.fit import fit
    from tasks.forecasting import model_config
    from tasks.forecasting.data import prepare, settings

    task = tasks.get_task("forecasting")
    options = {**data_options, "refit": True}
    data = prepare(path, settings(**options))
    builder, config = model_config(data, mode=args.model, kind=args.kind, units=args.units,
                                   dropout=args.dropout, quantiles=args.quantiles, base=base,
                                   scale=scale, ensemble=args.ensemble)
    batch = min(training["batch_size"], len(data.origins["train"]))
    result = fit(lambda: zoo.build(builder, **config), task.load(path, "train", **options),
                 None, out_dir=out_dir, loss=task.loss, epochs=training["epochs"],
                 batch_size=batch, learning_rate=training["learning_rate"],
                 early_stopping_patience=None, seed=seed, verbose=verbose, tensorboard=False,
                 callbacks=[StopAfter(min(epochs, training["epochs"]))])
    model = result.model
    model.rnnzoo_builder, model.rnnzoo_config = builder, config
    model.rnnzoo_base, model.rnnzoo_scale = base, scale
    return model, result
