"""Builders for the adding problem (Hochreiter & Schmidhuber, 1997).

Input: T steps of (value, marker); output: the sum of the two marked values.
"""

from __future__ import annotations

import keras

from zoo.layers import recurrent
from zoo.registry import register


def _adding_model(kind: str, *, length: int | None, units: int, name: str) -> keras.Model:
    inputs = keras.Input(shape=(length, 2), name="sequence")
    hidden = recurrent(kind, units, name=f"{kind}")(inputs)
    outputs = keras.layers.Dense(1, name="sum")(hidden)
    return keras.Model(inputs, outputs, name=name)


@register("adding-lstm", task="adding")
def adding_lstm(length: int | None = None, units: int = 128) -> keras.Model:
    """LSTM regressor for the adding problem."""
    return _adding_model("lstm", length=length, units=units, name="adding_lstm")


@register("adding-gru", task="adding")
def adding_gru(length: int | None = None, units: int = 128) -> keras.Model:
    """GRU regressor for the adding problem."""
    return _adding_model("gru", length=length, units=units, name="adding_gru")


@register("adding-simple", task="adding")
def adding_simple(length: int | None = None, units: int = 128) -> keras.Model:
    """Vanilla (tanh) RNN regressor for the adding problem; fails at long T, by design."""
    return _adding_model("simple", length=length, units=units, name="adding_simple")
