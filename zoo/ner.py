"""Named-entity taggers: word embeddings and a character CNN per word, a bidirectional LSTM,
and a linear-chain CRF (`zoo.crf`) that decodes with Viterbi (Ma & Hovy 2016; Lample et al.
2016 use a character BiLSTM instead of the CNN).

Inputs: ``words`` int32 ``[B, T]`` (word ids, 0 = padding) and ``chars`` int32
``[B, T, C]`` (character ids of each word, 0 = padding), T and C fixed by the config so that
the model exports with one length. Output ``tags``: int32 ``[B, T]`` Viterbi tag ids, 0 at
padding. Training scores the CRF's negative log-likelihood (`zoo.crf.CRFTagger`).

The vocabularies are part of the config (``words``, ``characters``, ``tags``): the model
carries the ids it was trained with, and its IOB constraints follow from ``tags``.
"""

from __future__ import annotations

import keras

from zoo.crf import CRF, CRFTagger, iob_constraints
from zoo.layers import recurrent
from zoo.registry import register
from zoo.word_dropout import drop_words


@keras.saving.register_keras_serializable(package="rnnzoo")
class NotPadding(keras.layers.Layer):
    """``ids != 0`` as float32 (the mask of real tokens)."""

    def call(self, ids):
        return keras.ops.cast(keras.ops.not_equal(ids, 0), "float32")


def _check(words: list[str], characters: list[str], tags: list[str]) -> None:
    if len(words) < 5 or words[0] != "<pad>":
        raise ValueError("words: a word vocabulary starting with <pad> (and the other special "
                         "tokens) and at least one word")
    if len(characters) < 3 or characters[0] != "<pad>":
        raise ValueError("characters: a character vocabulary starting with <pad>, <unk>")
    if len(tags) < 2 or tags[0] != "O":
        raise ValueError("tags: the tag list, starting with 'O'")


@register("ner-bilstm-crf", task="ner")
def ner_bilstm_crf(words: list[str], characters: list[str], tags: list[str], *,
                   max_length: int = 128, max_word_length: int = 20, word_dim: int = 100,
                   char_dim: int = 30, char_filters: int = 50, char_kernel: int = 3,
                   units: int = 100, dropout: float = 0.5,
                   word_dropout: float = 0.0) -> keras.Model:
    """Word embedding (``word_dim``) + character CNN (``char_filters`` filters of width
    ``char_kernel`` over ``char_dim`` embeddings, max over the word) -> dropout -> BiLSTM
    (``units`` each way) -> dropout -> tag scores -> CRF (Viterbi, IOB2 constraints).

    ``word_dropout``: in training each word id becomes ``<unk>`` with this probability
    (`zoo.word_dropout`; its characters stay), so the tagger learns to read unseen words from
    their characters and context."""
    _check(words, characters, tags)
    word_ids = keras.Input((max_length,), dtype="int32", name="words")
    char_ids = keras.Input((max_length, max_word_length), dtype="int32", name="chars")
    embedded = keras.layers.Embedding(len(words), word_dim, name="word_embedding")(
        drop_words(word_ids, word_dropout, words))
    chars = keras.layers.Embedding(len(characters), char_dim, name="char_embedding")(char_ids)
    chars = keras.layers.Conv2D(char_filters, (1, char_kernel), padding="same",
                                activation="tanh", name="char_cnn")(chars)
    chars = keras.layers.MaxPooling2D((1, max_word_length), name="char_max")(chars)
    chars = keras.layers.Reshape((max_length, char_filters), name="char_features")(chars)
    x = keras.layers.Concatenate(name="token_features")([embedded, chars])
    x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    x = recurrent("lstm", units, bidirectional=True, return_sequences=True, name="bilstm")(x)
    x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    emissions = keras.layers.Dense(len(tags), name="emissions")(x)
    mask = NotPadding(name="mask")(word_ids)
    allowed, allowed_start = iob_constraints(tags)
    decoded = CRF(len(tags), allowed=allowed, allowed_start=allowed_start,
                  name="crf")([emissions, mask])
    return CRFTagger(inputs={"words": word_ids, "chars": char_ids}, outputs=decoded,
                     name="ner_bilstm_crf")
