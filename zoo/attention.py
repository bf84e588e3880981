"""Layers for attention decoders (image captioning, translation): serializable, no Lambda.

* `PositionEmbedding`: a learned vector per position of a fixed-length set of features
  (the cells of an image's feature grid, the tokens of a source sentence), added to them, so
  that what an attention layer reads out says *where* it looked (needed for "left of").
* `bahdanau_attention`: additive attention (Bahdanau et al. 2015) from Keras'
  ``AdditiveAttention``: ``score(q, k) = v . tanh(W_q q + W_k k)``, where the two ``Dense``
  projections are ``W_q`` and ``W_k`` and the layer's learned ``scale`` is ``v``.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="rnnzoo")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned ``[length, channels]`` embedding to ``[batch, length, channels]``
    inputs (the length and width are fixed when the layer is built)."""

    def __init__(self, initializer: str = "glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        length, channels = input_shape[-2], input_shape[-1]
        if length is None or channels is None:
            raise ValueError(f"{self.name}: PositionEmbedding needs a fixed length and width, "
                             f"got input shape {tuple(input_shape)}")
        self.embedding = self.add_weight(shape=(length, channels), name="embedding",
                                         initializer=self.initializer)

    def call(self, inputs):
        return inputs + keras.ops.cast(self.embedding, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(),
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="rnnzoo")
class DropMask(keras.layers.Layer):
    """Identity that drops the Keras mask of its input (a decoder step's one token: its padding
    mask means nothing there)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return keras.ops.copy(inputs)  # a new tensor: the input's own carries the mask

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return input_shape


def bahdanau_attention(units: int, *, name: str) -> tuple[keras.layers.Layer,
                                                           keras.layers.Layer,
                                                           keras.layers.Layer]:
    """The three layers of additive attention with ``units`` hidden units: the query
    projection, the key projection and the scoring layer (``AdditiveAttention`` with a
    learned scale). Call as ``scorer([query_proj(q), key_proj(k)],
    return_attention_scores=True)`` to get the context (a weighted sum of the projected keys)
    and the weights."""
    if units <= 0:
        raise ValueError(f"attention units must be positive, got {units}")
    return (keras.layers.Dense(units, use_bias=False, name=f"{name}_query"),
            keras.layers.Dense(units, name=f"{name}_key"),
            keras.layers.AdditiveAttention(use_scale=True, name=name))
