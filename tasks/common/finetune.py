"""Fine-tuning that keeps what the pretrained layers learned (Howard & Ruder 2018, ULMFiT):
gradual unfreezing and discriminative learning rates for the layers a model took from
another (``rnnzoo train TASK --from PRESET``, `tasks.common.transfer`).

* **gradual unfreezing** (``freeze_epochs`` N > 0): the pretrained layers stay still for the
  first N epochs, in which only the new layers (the head) learn; then they thaw one per epoch
  from the top: the top pretrained layer from epoch N + 1, the next one down from N + 2, ...
* **discriminative rates** (``rate_decay`` d): the k-th pretrained layer from the top learns
  at d**k times the learning rate (ULMFiT: d = 1 / 2.6), the new layers at the full rate.

Frozen here means a learning-rate factor of 0 until the layer's first step (the optimizer's
`set_layer_rates`), so one compiled training step serves every stage, a resumed run picks the
stage up from the step count, and each layer's Adam moments are already warm when it thaws.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

PRETRAINED = "rnnzoo_pretrained"  # model attribute: the names of the layers taken, model order


@dataclass(frozen=True)
class LayerSchedule:
    """When and how fast each pretrained layer learns. ``layers``: their names, top first;
    None: the layers `tasks.common.transfer.transfer_weights` filled (``PRETRAINED``)."""

    freeze_epochs: int = 0
    rate_decay: float = 1.0
    layers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.freeze_epochs, bool) or not isinstance(self.freeze_epochs, int) \
                or self.freeze_epochs < 0:
            raise ValueError(f"freeze_epochs must be an integer >= 0, got {self.freeze_epochs!r}")
        if not 0 < self.rate_decay <= 1:
            raise ValueError(f"the learning-rate decay per pretrained layer must be in (0, 1], "
                             f"got {self.rate_decay!r}")

    @property
    def active(self) -> bool:
        """Whether it changes anything (plain fine-tuning otherwise)."""
        return self.freeze_epochs > 0 or self.rate_decay != 1

    def pretrained(self, model: keras.Model) -> tuple[str, ...]:
        """The names of the pretrained layers of ``model``, top first."""
        if self.layers is not None:
            return tuple(self.layers)
        return tuple(reversed(getattr(model, PRETRAINED, ())))

    def first_epoch(self, depth: int) -> int:
        """The first epoch (0-based) in which the pretrained layer ``depth`` (0: the top one)
        learns."""
        return self.freeze_epochs + depth if self.freeze_epochs else 0

    def rates(self, model: keras.Model, steps_per_epoch: int) -> dict[str, tuple[int, float]]:
        """Variable path -> ``(first optimizer step, learning-rate factor)`` for the trainable
        variables of the pretrained layers of ``model`` (see `GlobalClipAdam.set_layer_rates`)."""
        out: dict[str, tuple[int, float]] = {}
        for depth, name in enumerate(self.pretrained(model)):
            try:
                layer = model.get_layer(name)
            except ValueError:
                raise ValueError(f"the model has no layer {name!r} to schedule") from None
            rule = (self.first_epoch(depth) * steps_per_epoch, self.rate_decay ** (depth + 1))
            for variable in layer.trainable_variables:
                out[variable.path] = rule
        return out

    def describe(self, model: keras.Model) -> str:
        """One line for the log, e.g. ``encoder from epoch 2 at 0.385x, embedding from epoch 3
        at 0.148x``."""
        return ", ".join(f"{name} from epoch {self.first_epoch(depth) + 1} at "
                         f"{self.rate_decay ** (depth + 1):.3g}x"
                         for depth, name in enumerate(self.pretrained(model))) or "none"
