"""Word-level text models: a bidirectional sentiment classifier and the bidirectional word
language model that pretrains it (Dai & Le 2015; Howard & Ruder 2018).

Both read ``[batch, length]`` int32 token ids (``<pad>`` = 0 right-padding, see
`tasks.common.vocabulary`) and share two layers by name and shape:

* ``embedding``: ``Embedding(len(vocabulary), embedding_dim)``;
* ``encoder``: a bidirectional LSTM or GRU of ``units`` per direction over all time steps.

So a classifier built with the language model's vocabulary, kind and sizes starts from its
weights (``rnnzoo train sentiment --from LM``, `tasks.common.transfer`).

The classifier pools the encoder's outputs over the real tokens (`MaskedPooling`: mean and
max where the id is not ``<pad>``) and ends in a two-way softmax ``[negative, positive]``.
No Keras mask: the padding is excluded by the pooling, which converts to plain TFLite ops,
and the backward direction reads the padding first (it learns to carry nothing through it).
With ``mask_zero`` the float files converted and verified, but the unrolled int8 file of the
full-size model failed to load ("failed to create XNNPACK runtime").

The language model's forward direction at step t predicts the token at t + 1, its backward
direction the token at t - 1 (each has seen only its side of the sentence); one projection and
softmax over the vocabulary serve both. Output ``[batch, length, 2, vocabulary]``.
"""

from __future__ import annotations

import keras

from zoo.layers import recurrent
from zoo.registry import register
from zoo.word_dropout import drop_words

KINDS = ("lstm", "gru")


@keras.saving.register_keras_serializable(package="rnnzoo")
class MaskedPooling(keras.layers.Layer):
    """``[sequence, ids]`` -> the mean and the max of ``sequence`` (``[batch, time,
    channels]``) over the steps whose id is not 0, concatenated (``[batch, 2 * channels]``).
    The max assumes values >= -1 (tanh outputs): padded steps count as -1. A sequence of
    padding only pools to zeros and -1.

    ``last=True`` (ULMFiT's concat pooling, for the outputs of a bidirectional encoder, the
    forward direction's channels first): the final state of each direction comes first, the
    first half of the channels at the last real step and the second half at step 0
    (``[batch, 3 * channels]``; the ids are right-padded)."""

    def __init__(self, last: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.last = bool(last)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs, mask=None):
        sequence, ids = inputs
        real = keras.ops.cast(keras.ops.not_equal(ids, 0), sequence.dtype)[..., None]
        count = keras.ops.maximum(keras.ops.sum(real, axis=1), 1.0)
        mean = keras.ops.sum(sequence * real, axis=1) / count
        peak = keras.ops.max(sequence * real + (real - 1.0), axis=1)
        if not self.last:
            return keras.ops.concatenate([mean, peak], axis=-1)
        half = sequence.shape[-1] // 2
        following = keras.ops.concatenate([real[:, 1:], keras.ops.zeros_like(real[:, :1])],
                                          axis=1)
        at_end = real * (1.0 - following)  # 1 at the last real step only
        forward = keras.ops.sum(sequence[..., :half] * at_end, axis=1)
        backward = sequence[:, 0, half:] * real[:, 0]
        return keras.ops.concatenate([forward, backward, mean, peak], axis=-1)

    def compute_output_shape(self, input_shapes):
        shape = input_shapes[0]
        return (shape[0], (3 if self.last else 2) * shape[-1])

    def get_config(self):
        return {**super().get_config(), "last": self.last}


POOLINGS = ("mean_max", "last_mean_max")


def _check(vocabulary, kind: str, max_length: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if len(vocabulary) < 5 or tuple(vocabulary[:4]) != ("<pad>", "<start>", "<end>", "<unk>"):
        raise ValueError("vocabulary must start with <pad>, <start>, <end>, <unk> and hold words")
    if max_length < 1:
        raise ValueError(f"max_length must be positive, got {max_length}")


def _shared(vocabulary, kind: str, embedding_dim: int, units: int, max_length: int,
            embedding_dropout: float, merge_mode, mask: bool, word_dropout: float = 0.0):
    ids = keras.Input((max_length,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(len(vocabulary), embedding_dim, mask_zero=mask,
                               name="embedding")(drop_words(ids, word_dropout, vocabulary))
    if embedding_dropout:
        x = keras.layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")(x)
    encoded = recurrent(kind, units, bidirectional=True, merge_mode=merge_mode,
                        return_sequences=True, name="encoder")(x)
    return ids, encoded


def sentiment_classifier(vocabulary: list[str], *, kind: str = "lstm", max_length: int = 64,
                         embedding_dim: int = 64, units: int = 128, dropout: float = 0.3,
                         embedding_dropout: float = 0.2, pooling: str = "mean_max",
                         word_dropout: float = 0.0) -> keras.Model:
    """Embedding, bidirectional ``kind`` encoder, masked pooling (``mean_max``, or
    ``last_mean_max``: each direction's final state too), dropout, softmax over
    ``[negative, positive]``; input ``[batch, max_length]`` token ids. ``word_dropout``: in
    training each token id becomes ``<unk>`` with this probability (`zoo.word_dropout`)."""
    _check(vocabulary, kind, max_length)
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")
    ids, encoded = _shared(vocabulary, kind, embedding_dim, units, max_length,
                           embedding_dropout, "concat", False, word_dropout)
    pooled = MaskedPooling(last=pooling == "last_mean_max", name="pool")([encoded, ids])
    if dropout:
        pooled = keras.layers.Dropout(dropout, name="dropout")(pooled)
    # zeros: the first predictions are 50/50 and no gradient reaches the (pretrained)
    # encoder until the head has learned to read it (a random head on the large pooled
    # features of a pretrained encoder started at loss 0.78 and pushed it off its weights)
    out = keras.layers.Dense(2, activation="softmax", kernel_initializer="zeros",
                             name="sentiment")(pooled)
    return keras.Model(ids, out, name=f"sentiment_bi{kind}")


def word_language_model(vocabulary: list[str], *, kind: str = "lstm", max_length: int = 64,
                        embedding_dim: int = 64, units: int = 128, dropout: float = 0.2,
                        embedding_dropout: float = 0.1,
                        output_vocabulary: int | None = None,
                        output_prior: list[float] | None = None) -> keras.Model:
    """Embedding, bidirectional ``kind`` encoder whose forward outputs predict the next token
    and backward outputs the previous one, through one shared projection and softmax:
    ``[batch, max_length]`` ids -> ``[batch, max_length, 2, output_vocabulary]``.

    ``output_vocabulary``: the softmax covers the first ids only (the special tokens and the
    most frequent words; the data maps rarer targets to ``<unk>``), which makes the softmax,
    the cost of a CPU step, that much cheaper; None: the whole vocabulary.

    ``output_prior``: the log frequencies of the output tokens in the training text, the
    softmax bias at initialization (`tasks.sentiment.lm.log_prior`). Without it the first
    updates fit the unigram distribution through the encoder: every hidden unit is pushed the
    same way, the recurrent weights grow into a saturated fixed point (mean ``|h|`` 0.96
    after 20 Adam steps) and the model stays at the unigram loss."""
    _check(vocabulary, kind, max_length)
    size = len(vocabulary) if output_vocabulary is None else int(output_vocabulary)
    if not 5 <= size <= len(vocabulary):
        raise ValueError(f"output_vocabulary must be 5 .. {len(vocabulary)}, got {size}")
    if output_prior is not None and len(output_prior) != size:
        raise ValueError(f"output_prior must hold {size} log frequencies (one per output "
                         f"token), got {len(output_prior)}")
    ids, (forward, backward) = _shared(vocabulary, kind, embedding_dim, units, max_length,
                                       embedding_dropout, None, False)
    projection = keras.layers.Dense(embedding_dim, activation="tanh", name="lm_projection")
    drop = keras.layers.Dropout(dropout, name="lm_dropout")
    bias = ("zeros" if output_prior is None
            else keras.initializers.Constant([float(v) for v in output_prior]))
    output = keras.layers.Dense(size, activation="softmax", bias_initializer=bias,
                                name="lm_output")
    directions = [output(drop(projection(h))) for h in (forward, backward)]
    stacked = keras.layers.Concatenate(axis=2, name="next_and_previous")(
        [keras.layers.Reshape((max_length, 1, size), name=f"{side}_step")(p)
         for side, p in zip(("next", "previous"), directions)])
    return keras.Model(ids, stacked, name=f"word_lm_bi{kind}")


@register("sentiment-bilstm", task="sentiment")
def sentiment_bilstm(vocabulary: list[str], max_length: int = 64, embedding_dim: int = 64,
                     units: int = 128, dropout: float = 0.3,
                     embedding_dropout: float = 0.2, pooling: str = "mean_max",
                     word_dropout: float = 0.0) -> keras.Model:
    """Sentiment classifier: embedding, bidirectional LSTM, masked pooling (mean+max, or
    ``last_mean_max``), softmax ``[negative, positive]``."""
    return sentiment_classifier(vocabulary, kind="lstm", max_length=max_length,
                                embedding_dim=embedding_dim, units=units, dropout=dropout,
                                embedding_dropout=embedding_dropout, pooling=pooling,
                                word_dropout=word_dropout)


@register("sentiment-bigru", task="sentiment")
def sentiment_bigru(vocabulary: list[str], max_length: int = 64, embedding_dim: int = 64,
                    units: int = 128, dropout: float = 0.3,
                    embedding_dropout: float = 0.2, pooling: str = "mean_max",
                    word_dropout: float = 0.0) -> keras.Model:
    """Sentiment classifier: embedding, bidirectional GRU, masked pooling (mean+max, or
    ``last_mean_max``), softmax ``[negative, positive]``."""
    return sentiment_classifier(vocabulary, kind="gru", max_length=max_length,
                                embedding_dim=embedding_dim, units=units, dropout=dropout,
                                embedding_dropout=embedding_dropout, pooling=pooling,
                                word_dropout=word_dropout)


@register("wordlm-bilstm", task="wordlm")
def wordlm_bilstm(vocabulary: list[str], max_length: int = 64, embedding_dim: int = 64,
                  units: int = 128, dropout: float = 0.2, embedding_dropout: float = 0.1,
                  output_vocabulary: int | None = None,
                  output_prior: list[float] | None = None) -> keras.Model:
    """Bidirectional LSTM word language model (next and previous token), the pretraining of
    ``sentiment-bilstm``."""
    return word_language_model(vocabulary, kind="lstm", max_length=max_length,
                               embedding_dim=embedding_dim, units=units, dropout=dropout,
                               embedding_dropout=embedding_dropout,
                               output_vocabulary=output_vocabulary,
                               output_prior=output_prior)


@register("wordlm-bigru", task="wordlm")
def wordlm_bigru(vocabulary: list[str], max_length: int = 64, embedding_dim: int = 64,
                  units: int = 128, dropout: float = 0.2, embedding_dropout: float = 0.1,
                  output_vocabulary: int | None = None,
                  output_prior: list[float] | None = None) -> keras.Model:
    """Bidirectional GRU word language model (next and previous token), the pretraining of
    ``sentiment-bigru``."""
    return word_language_model(vocabulary, kind="gru", max_length=max_length,
                               embedding_dim=embedding_dim, units=units, dropout=dropout,
                               embedding_dropout=embedding_dropout,
                               output_vocabulary=output_vocabulary,
                               output_prior=output_prior)
