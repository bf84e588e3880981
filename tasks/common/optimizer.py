"""The optimizer of the training runner."""

from __future__ import annotations

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
    """

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
