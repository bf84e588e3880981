"""Layers for attention decoders (image captioning, translation): serializable, no Lambda.

* `PositionEmbedding`: a learned vector per position of a fixed-length set of features
  (the cells of an image's feature grid, the tokens of a source sentence), added to them, so
  that what an attention layer reads out says *where* it looked (needed for "left of").
* `bahdanau_attention`: additive attention (Bahdanau et al. 2015) from Keras'
  ``AdditiveAttention``: ``score(q, k) = v . tanh(W_q q + W_k k)``, where the two ``Dense``
  projections are ``W_q`` and ``W_k`` and the layer's learned ``scale`` is ``v``.
* Masked attention over a padded memory (translation: a source sentence): `PaddingMask`,
  `LuongScores` or `AdditiveScores`, then `MaskedSoftmax`, whose mask is an ordinary float
  input, so that an exported decoder step takes it as part of its context.
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


@keras.saving.register_keras_serializable(package="rnnzoo")
class PaddingMask(keras.layers.Layer):
    """Where token ids ``[batch, length]`` are not padding (id 0): booleans (for a recurrent
    layer's ``mask``) or, with ``as_float``, 1.0 and 0.0 (an input of an exported attention
    step, which takes no booleans)."""

    def __init__(self, as_float: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.as_float = bool(as_float)

    def call(self, ids):
        mask = keras.ops.not_equal(ids, 0)
        return keras.ops.cast(mask, "float32") if self.as_float else mask

    def compute_output_spec(self, ids):
        return keras.KerasTensor(ids.shape, dtype="float32" if self.as_float else "bool")

    def get_config(self) -> dict:
        return {**super().get_config(), "as_float": self.as_float}


@keras.saving.register_keras_serializable(package="rnnzoo")
class MaskedSoftmax(keras.layers.Layer):
    """Attention weights: the softmax of ``scores`` ``[batch, queries, keys]`` over the keys
    where ``mask`` ``[batch, keys]`` (1.0 real, 0.0 padding) is 1, exactly 0 elsewhere.

    Computed as ``softmax(scores) * mask`` renormalized, which equals the masked softmax and
    needs no large negative constant; int8 files keep it in float (``keep_float_in_int8``), so
    the weights of a few real positions are not rounded against the padding."""

    keep_float_in_int8 = True

    def call(self, inputs):
        scores, mask = inputs
        mask = keras.ops.expand_dims(keras.ops.cast(mask, scores.dtype), 1)
        weights = keras.ops.softmax(scores, axis=-1) * mask
        return weights / keras.ops.maximum(keras.ops.sum(weights, axis=-1, keepdims=True),
                                           1e-9)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="rnnzoo")
class LuongScores(keras.layers.Layer):
    """Multiplicative attention scores (Luong et al. 2015, "general" when the keys are the
    memory through a ``Dense``): ``query [b, q, d] . keys [b, k, d] -> [b, q, k]``."""

    def call(self, inputs):
        query, keys = inputs
        return keras.ops.matmul(query, keras.ops.transpose(keys, (0, 2, 1)))

    def compute_output_shape(self, input_shape):
        query, keys = input_shape
        return (query[0], query[1], keys[1])


@keras.saving.register_keras_serializable(package="rnnzoo")
class AdditiveScores(keras.layers.Layer):
    """Additive attention scores (Bahdanau et al. 2015): ``v . tanh(query + keys)`` for the
    projected ``query [b, q, d]`` and ``keys [b, k, d]`` -> ``[b, q, k]``; ``v`` is learned."""

    def build(self, input_shape):
        self.v = self.add_weight(shape=(input_shape[0][-1],), name="v",
                                 initializer="glorot_uniform")

    def call(self, inputs):
        query, keys = inputs
        joined = keras.ops.tanh(keras.ops.expand_dims(query, 2) + keras.ops.expand_dims(keys, 1))
        return keras.ops.sum(joined * self.v, axis=-1)

    def compute_output_shape(self, input_shape):
        query, keys = input_shape
        return (query[0], query[1], keys[1])
