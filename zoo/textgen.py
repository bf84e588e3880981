"""Builders for character-level text generation (task ``textgen``).

``textgen-char-lstm`` / ``textgen-char-gru``: input ``[T]`` character ids (int32, the ids of
`tasks.common.characters.CharVocabulary`), output ``[T, V]`` logits of the next character at
every step. Layers: ``embedding`` -> recurrent layers ``{kind}_{i}`` (sequences, each
followed by a ``dropout_{i}``) -> ``logits`` (Dense). Every layer acts on one time step or is
recurrent, so the model has a step form (`export.step_model`): one character id and the
states in, the next character's logits and the states out.

The character list itself is part of the config (``characters``: the vocabulary's tokens, ids
in list order), so a preset knows its own mapping; ``rnnzoo train`` also writes it as the
asset ``characters.json``.
"""

from __future__ import annotations

import keras

from zoo.checks import check_fraction
from zoo.layers import recurrent
from zoo.registry import register

INPUT_NAME, OUTPUT_NAME = "characters", "logits"


def _units_list(units: int | list[int]) -> list[int]:
    units = [units] if isinstance(units, int) else list(units)
    if not units or any(isinstance(u, bool) or not isinstance(u, int) or u <= 0 for u in units):
        raise ValueError(f"units must be a positive integer or a list of them, got {units!r}")
    return units


def _char_model(kind: str, characters: list[str], units, embedding: int,
                dropout: float) -> keras.Model:
    if not isinstance(characters, (list, tuple)) or len(characters) < 3:
        raise ValueError("characters must list the vocabulary's tokens (<pad>, <unk> and at "
                         f"least one character), got {characters!r}")
    if isinstance(embedding, bool) or not isinstance(embedding, int) or embedding <= 0:
        raise ValueError(f"embedding must be a positive integer, got {embedding!r}")
    check_fraction(dropout, "dropout")
    inputs = keras.Input(shape=(None,), dtype="int32", name=INPUT_NAME)
    x = keras.layers.Embedding(len(characters), embedding, name="embedding")(inputs)
    for i, width in enumerate(_units_list(units)):
        x = recurrent(kind, width, return_sequences=True, name=f"{kind}_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(len(characters), name=OUTPUT_NAME)(x)
    return keras.Model(inputs, logits, name=f"textgen_char_{kind}")


@register("textgen-char-lstm", task="textgen")
def textgen_char_lstm(characters: list[str], units: int | list[int] = 256, embedding: int = 64,
                      dropout: float = 0.0) -> keras.Model:
    """Character LSTM language model: ids [T] -> next-character logits [T, V] (``units``: one
    width per stacked layer, ``dropout`` after each)."""
    return _char_model("lstm", characters, units, embedding, dropout)


@register("textgen-char-gru", task="textgen")
def textgen_char_gru(characters: list[str], units: int | list[int] = 256, embedding: int = 64,
                     dropout: float = 0.0) -> keras.Model:
    """Character GRU language model: ids [T] -> next-character logits [T, V]."""
    return _char_model("gru", characters, units, embedding, dropout)
