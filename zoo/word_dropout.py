"""Word dropout for token-id inputs: in training, each real token becomes ``<unk>`` with
probability ``rate``; at inference the layer is the identity.

The model then learns to tag (or classify) a word from its context and, where it has them,
its characters, as it must for the words it will meet only at test time (Lample et al. 2016
replace training singletons by ``<unk>``; Iyyer et al. 2015 and Gal & Ghahramani 2016 drop
word types). Padding (id 0) is never replaced.
"""

from __future__ import annotations

import keras

from zoo.checks import check_fraction


@keras.saving.register_keras_serializable(package="rnnzoo")
class WordDropout(keras.layers.Layer):
    """``ids`` int ``[batch, ...]`` -> the same ids, each non-zero one replaced by
    ``unknown_id`` with probability ``rate`` in training."""

    # identity at inference: exporters replay it as such (export.float_layers.training_only)
    training_only = True

    def __init__(self, rate: float, unknown_id: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        check_fraction(float(rate), "WordDropout rate")
        if int(unknown_id) <= 0:
            raise ValueError(f"WordDropout unknown_id must be a positive id (0 is padding), "
                             f"got {unknown_id}")
        self.rate, self.unknown_id, self.seed = float(rate), int(unknown_id), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids, training=None):
        if not training or self.rate == 0.0:
            return ids
        draw = keras.random.uniform(keras.ops.shape(ids), seed=self.seed_generator)
        drop = keras.ops.logical_and(draw < self.rate, keras.ops.not_equal(ids, 0))
        return keras.ops.where(drop, keras.ops.cast(self.unknown_id, ids.dtype), ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "unknown_id": self.unknown_id,
                "seed": self.seed}


def drop_words(ids, rate: float, vocabulary: list[str], name: str = "word_dropout"):
    """``ids`` (a Keras tensor) through a `WordDropout` toward ``vocabulary``'s ``<unk>``;
    ``ids`` itself when ``rate`` is 0."""
    if not rate:
        return ids
    if "<unk>" not in vocabulary:
        raise ValueError("word dropout needs an <unk> token in the vocabulary")
    return WordDropout(rate, vocabulary.index("<unk>"), name=name)(ids)
