"""The optimizer of the training runner."""

from __future__ import annotations

from collections.abc import Mapping

import keras
import tensorflow as tf


def _replicas_in_sync() -> int:
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1


@keras.saving.register_keras_serializable(package="rnnzoo")
class GlobalClipAdam(keras.optimizers.Adam):
    """Adam whose ``global_clipnorm`` clips the gradient of the whole global batch.

    Keras 3 (TF backend) clips inside each replica, *before* summing the replicas' gradients,
    so with R replicas the applied gradient could reach R times the norm asked for and differ
    from what one device with the same global batch computes. Here, with more than one
    replica, clipping waits until after the all-reduce, so the update is the same whatever
    the number of replicas. With one replica it is plain Adam.

    `set_layer_rates` gives some variables their own learning-rate factor and first step
    (gradual unfreezing and discriminative rates when fine-tuning, `tasks.common.finetune`).
    """

    _layer_rates: dict[int, tuple[int, float]] | None = None

    def set_layer_rates(self, rates: Mapping[str, tuple[int, float]]) -> None:
        """Variable path -> ``(first step, factor)``: that variable moves at ``factor`` times
        the learning rate from optimizer step ``first step`` on and not before (its Adam
        moments still follow its gradient while it waits, so it starts without a jump).
        Call after `build`; the other variables keep the plain rate."""
        index = {v.path: i for i, v in enumerate(self._trainable_variables)}
        missing = sorted(set(rates) - set(index))
        if missing:
            raise ValueError(f"no trainable variable {', '.join(missing)} in the optimizer")
        self._layer_rates = {index[path]: (int(start), float(factor))
                             for path, (start, factor) in rates.items()}

    def update_step(self, gradient, variable, learning_rate):
        rule = (self._layer_rates or {}).get(self._get_variable_index(variable))
        if rule is not None:
            start, factor = rule
            learning_rate = keras.ops.convert_to_tensor(learning_rate)
            on = keras.ops.cast(keras.ops.greater_equal(self.iterations, start),
                                learning_rate.dtype)
            learning_rate = learning_rate * (on * factor)
        return super().update_step(gradient, variable, learning_rate)

    def _clip_gradients(self, grads):
        if self.global_clipnorm and _replicas_in_sync() > 1:
            return grads  # clipped after the all-reduce below
        return super()._clip_gradients(grads)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        grads_and_vars = list(super()._all_reduce_sum_gradients(grads_and_vars))
        if not self.global_clipnorm or _replicas_in_sync() <= 1:
            return grads_and_vars
        present = [i for i, (grad, _) in enumerate(grads_and_vars) if grad is not None]
        clipped = keras.optimizers.Adam._clip_gradients(
            self, [grads_and_vars[i][0] for i in present])
        for i, grad in zip(present, clipped):
            grads_and_vars[i] = (grad, grads_and_vars[i][1])
        return grads_and_vars
