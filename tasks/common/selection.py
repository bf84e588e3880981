"""Model selection on a validation figure other than the loss (`fit(selection=...)`).

Some metrics can part ways with the loss late in training: a CRF tagger's validation NLL
turns up (over-confident wrong tags cost more and more) while its entity F1 may not fall.
A `Selection` names a figure computed on the validation data at every epoch end; `fit`
checkpoints, stops early and restores on it instead of ``val_loss``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class Selection:
    """``compute(model) -> value``, logged as ``val_<name>``; ``higher_is_better`` sets the
    direction (accuracy, F1, BLEU: True; NLL, WER, MAE: False)."""

    name: str
    compute: Callable[[keras.Model], float]
    higher_is_better: bool

    @property
    def key(self) -> str:
        """The key in the epoch logs, history.csv and summary.json."""
        return f"val_{self.name}"

    @property
    def mode(self) -> str:
        """Keras' ``mode`` for the callbacks that monitor ``key``."""
        return "max" if self.higher_is_better else "min"


class SelectionCallback(keras.callbacks.Callback):
    """Adds ``selection.key`` to the epoch logs (so the callbacks after it, the checkpoint,
    early stopping, the CSV log and the run backup, see it) and prints it."""

    def __init__(self, selection: Selection):
        super().__init__()
        self.selection = selection

    def on_epoch_end(self, epoch, logs=None):
        value = float(self.selection.compute(self.model))
        if not math.isfinite(value):
            raise ValueError(f"the selection figure {self.selection.key} is {value} after "
                             f"epoch {epoch + 1}")
        if logs is not None:
            logs[self.selection.key] = value
        print(f"epoch {epoch + 1}: {self.selection.key} {value:.6g}", flush=True)
