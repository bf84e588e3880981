"""Named-entity taggers: word embeddings and a character feature per word, a bidirectional
LSTM, and a linear-chain CRF (`zoo.crf`) that decodes with Viterbi. The character feature is a
CNN with max pooling over the word (Ma & Hovy 2016) or a character BiLSTM's final states
(Lample et al. 2016), ``char_encoder``.

Inputs: ``words`` int32 ``[B, T]`` (word ids, 0 = padding) and ``chars`` int32
``[B, T, C]`` (character ids of each word, 0 = padding), T and C fixed by the config so that
the model exports with one length. Output ``tags``: int32 ``[B, T]`` Viterbi tag ids, 0 at
padding. Training scores the CRF's negative log-likelihood (`zoo.crf.CRFTagger`).

The vocabularies are part of the config (``words``, ``characters``, ``tags``): the model
carries the ids it was trained with, and its IOB constraints follow from ``tags``.
"""

from __future__ import annotations

import keras

from zoo.attention import PaddingMask
from zoo.crf import CRF, CRFTagger, iob_constraints
from zoo.layers import recurrent
from zoo.registry import register
from zoo.word_dropout import drop_words


@keras.saving.register_keras_serializable(package="rnnzoo")
class WordsAsBatch(keras.layers.Layer):
    """``[B, T, C, ...]`` -> ``[B * T, C, ...]``: each word's characters as one sequence of
    the batch, so one recurrent layer reads every word."""

    folds_batch = True  # `export.loop_form` refuses a loop over another batch size

    def call(self, x):
        return keras.ops.reshape(x, (-1, *x.shape[2:]))

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[2:])


@keras.saving.register_keras_serializable(package="rnnzoo")
class BatchAsWords(keras.layers.Layer):
    """``[B * T, F]`` -> ``[B, T, F]``, the inverse of `WordsAsBatch` (``words`` = T)."""

    unfolds_batch = True

    def __init__(self, words: int, **kwargs):
        super().__init__(**kwargs)
        self.words = int(words)

    def call(self, x):
        return keras.ops.reshape(x, (-1, self.words, x.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (None, self.words, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "words": self.words}


CHAR_ENCODERS = ("cnn", "bilstm")


def _char_features(char_ids, embedded, encoder: str, filters: int, kernel: int,
                   units: int, max_length: int):
    """``[B, T, F]`` character features of each word from its embedded characters."""
    if encoder == "cnn":
        x = keras.layers.Conv2D(filters, (1, kernel), padding="same", activation="tanh",
                                name="char_cnn")(embedded)
        x = keras.layers.MaxPooling2D((1, char_ids.shape[-1]), name="char_max")(x)
        return keras.layers.Reshape((max_length, filters), name="char_features")(x)
    # the final states of both directions over the word's real characters (the mask: a
    # padded word reads the same as an unpadded one; an empty slot gives zeros)
    mask = WordsAsBatch(name="char_mask_per_word")(PaddingMask(name="char_mask")(char_ids))
    x = WordsAsBatch(name="chars_per_word")(embedded)
    x = recurrent("lstm", units, bidirectional=True, name="char_bilstm")(x, mask=mask)
    return BatchAsWords(max_length, name="char_features")(x)


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
                   char_dim: int = 30, char_encoder: str = "cnn", char_filters: int = 50,
                   char_kernel: int = 3, char_units: int = 25, units: int = 100,
                   dropout: float = 0.5, word_dropout: float = 0.0) -> keras.Model:
    """Word embedding (``word_dim``) + character feature -> dropout -> BiLSTM (``units``
    each way) -> dropout -> tag scores -> CRF (Viterbi, IOB2 constraints).

    The character feature reads ``char_dim`` embeddings of the word's characters:
    ``char_encoder="cnn"``: ``char_filters`` filters of width ``char_kernel``, max over the
    word; ``"bilstm"``: a BiLSTM of ``char_units`` each way, its two final states over the
    word's real characters (Lample et al. use 25).

    ``word_dropout``: in training each word id becomes ``<unk>`` with this probability
    (`zoo.word_dropout`; its characters stay), so the tagger learns to read unseen words from
    their characters and context."""
    _check(words, characters, tags)
    if char_encoder not in CHAR_ENCODERS:
        raise ValueError(f"char_encoder must be one of {', '.join(CHAR_ENCODERS)}, "
                         f"got {char_encoder!r}")
    word_ids = keras.Input((max_length,), dtype="int32", name="words")
    char_ids = keras.Input((max_length, max_word_length), dtype="int32", name="chars")
    embedded = keras.layers.Embedding(len(words), word_dim, name="word_embedding")(
        drop_words(word_ids, word_dropout, words))
    chars = keras.layers.Embedding(len(characters), char_dim, name="char_embedding")(char_ids)
    chars = _char_features(char_ids, chars, char_encoder, char_filters, char_kernel,
                           char_units, max_length)
    x = keras.layers.Concatenate(name="token_features")([embedded, chars])
    x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    x = recurrent("lstm", units, bidirectional=True, return_sequences=True, name="bilstm")(x)
    x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    emissions = keras.layers.Dense(len(tags), name="emissions")(x)
    mask = PaddingMask(as_float=True, name="mask")(word_ids)
    allowed, allowed_start = iob_constraints(tags)
    decoded = CRF(len(tags), allowed=allowed, allowed_start=allowed_start,
                  name="crf")([emissions, mask])
    return CRFTagger(inputs={"words": word_ids, "chars": char_ids}, outputs=decoded,
                     name="ner_bilstm_crf")
