"""Factories for the recurrent layers every zoo model is built from.

All layers returned here are plain Keras layers (or `RecurrentStack`, registered
for serialization), so models save and load with ``safe_mode=True``. The
defaults keep Keras' cuDNN-eligible settings for LSTM and GRU: tanh/sigmoid,
no recurrent dropout, ``unroll=False``, GRU ``reset_after=True``.
"""

from __future__ import annotations

import keras

KINDS = ("simple", "lstm", "gru")
MERGE_MODES = ("concat", "sum", "ave", "mul")

_LAYER_CLASSES = {
    "simple": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def _check_kind(kind: str) -> None:
    if kind not in _LAYER_CLASSES:
        raise ValueError(f"unknown recurrent kind {kind!r}; expected one of {', '.join(KINDS)}")


def recurrent(
    kind: str,
    units: int,
    *,
    bidirectional: bool = False,
    merge_mode: str = "concat",
    return_sequences: bool = False,
    return_state: bool = False,
    stateful: bool = False,
    dropout: float = 0.0,
    activation: str = "tanh",
    name: str | None = None,
) -> keras.layers.Layer:
    """Return one recurrent layer: vanilla RNN (``"simple"``), LSTM or GRU.

    ``kind="simple"`` is the classic h_t = f(W h_{t-1} + U x_t + b) with
    ``f = activation``. ``bidirectional`` wraps the layer in
    ``keras.layers.Bidirectional`` with ``merge_mode`` (concat, sum, ave, mul).
    """
    _check_kind(kind)
    if units <= 0:
        raise ValueError(f"units must be positive, got {units}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if bidirectional and merge_mode not in MERGE_MODES:
        raise ValueError(f"unknown merge_mode {merge_mode!r}; expected one of {', '.join(MERGE_MODES)}")
    layer = _LAYER_CLASSES[kind](
        units,
        activation=activation,
        return_sequences=return_sequences,
        return_state=return_state,
        stateful=stateful,
        dropout=dropout,
        name=None if bidirectional else name,
    )
    if bidirectional:
        return keras.layers.Bidirectional(layer, merge_mode=merge_mode, name=name)
    return layer
