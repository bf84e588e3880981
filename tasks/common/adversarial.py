"""Adversarial training on word embeddings (Miyato, Dai & Goodfellow 2017, "Adversarial
training methods for semi-supervised text classification"), the regularizer that paper adds
to language-model pretraining (Dai & Le 2015) for small labelled sets.

Each training step also scores the batch with its embeddings pushed, within a small ball, in
the direction that raises the loss most (the loss gradient with respect to the embedding
outputs, a first-order approximation), and trains on the sum of both losses. Only the
training step changes: `AdversarialEmbeddings` wraps the model for `fit` and the model itself
(what is saved, exported and evaluated) is untouched. The logs' ``loss`` is the clean loss (the
one ``val_loss`` measures, so the two compare), ``adversarial_loss`` the perturbed one; the step
descends their sum.

The radius is relative: ``epsilon`` times the L2 norm of the example's embedding sequence
over its real tokens (id not 0), so the model cannot shrink the perturbation by growing its
embeddings (the role of the paper's normalized embeddings). Padding is not perturbed.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras.src.trainers.data_adapters import data_adapter_utils

EMBEDDING_LAYER = "embedding"


def _check_epsilon(epsilon: float) -> float:
    epsilon = float(epsilon)
    if not 0.0 < epsilon <= 1.0:
        raise ValueError(f"the adversarial radius must be in (0, 1] (a fraction of the "
                         f"embeddings' norm), got {epsilon}")
    return epsilon


class AdversarialEmbeddings(keras.Model):
    """Training-only wrapper of ``model`` (one int token-id input, pad id 0, and a layer
    named ``embedding``) whose `train_step` adds the adversarial loss. ``inner`` is the
    wrapped model; calling the wrapper calls it."""

    def __init__(self, model: keras.Model, epsilon: float, embedding: str = EMBEDDING_LAYER,
                 **kwargs):
        super().__init__(name=f"{model.name}_adversarial", **kwargs)
        self.epsilon = _check_epsilon(epsilon)
        if len(model.inputs) != 1:
            raise ValueError(f"adversarial embeddings need a model with one token-id input; "
                             f"{model.name} has {len(model.inputs)}")
        try:
            layer = model.get_layer(embedding)
        except ValueError:
            raise ValueError(f"adversarial embeddings: {model.name} has no layer named "
                             f"{embedding!r}") from None
        self.inner = model
        # two views of the same layers (the ids to the embeddings, the ids and embeddings to
        # the output), kept out of Keras' tracking so that the weights are listed once
        ids = model.inputs[0]
        outputs = model.outputs[0] if len(model.outputs) == 1 else model.outputs
        object.__setattr__(self, "_embed", keras.Model(ids, layer.output))
        object.__setattr__(self, "_read", keras.Model([ids, layer.output], outputs))
        self._adversarial_tracker = keras.metrics.Mean(name="adversarial_loss")

    @property
    def metrics(self):
        return [*super().metrics, self._adversarial_tracker]

    def call(self, inputs, training=None):
        return self.inner(inputs, training=training)

    def perturbation(self, ids, embeddings, gradient):
        """The adversarial change of ``embeddings`` ``[batch, time, dim]``: ``gradient``
        restricted to the real tokens of ``ids``, scaled to ``epsilon`` times the norm of
        the real embeddings, per example."""
        real = tf.cast(tf.not_equal(ids, 0), embeddings.dtype)[..., None]
        gradient = gradient * real
        size = tf.norm(embeddings * real, axis=[1, 2], keepdims=True)
        direction = gradient / (tf.norm(gradient, axis=[1, 2], keepdims=True) + 1e-12)
        return tf.stop_gradient(self.epsilon * size * direction)

    def train_step(self, data):
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            embeddings = self._embed(x, training=True)
            with tf.GradientTape() as probe:
                probe.watch(embeddings)
                y_pred = self._read([x, embeddings], training=True)
                clean = self._compute_loss(x=x, y=y, y_pred=y_pred,
                                           sample_weight=sample_weight, training=True)
            change = self.perturbation(x, embeddings, probe.gradient(clean, embeddings))
            adversarial = self._compute_loss(
                x=x, y=y, y_pred=self._read([x, embeddings + change], training=True),
                sample_weight=sample_weight, training=True)
            loss = clean + adversarial
            self._loss_tracker.update_state(clean, sample_weight=tf.shape(x)[0])
            self._adversarial_tracker.update_state(adversarial, sample_weight=tf.shape(x)[0])
            loss = self.optimizer.scale_loss(loss)
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        # the logs hold every metric of `metrics`, the adversarial tracker included
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
