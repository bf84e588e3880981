"""Builders for music models: polyphonic piano rolls and note sequences.

Piano roll (``music-pianoroll-*``, task ``music-jsb``): input ``[T, 88]`` is the previous
frame (keys MIDI 21-108, 1 = sounding; all zeros before the first frame), output ``[T, 88]``
the logits of the independent Bernoulli of each key in the current frame.

Note sequence (``music-notes-*``, tasks ``music-melody`` and ``music-piano``): input
``[T, 130]`` is the previous note, ``one_hot(pitch, 128) ++ [step, duration]`` (seconds),
output ``[T, 130]`` holds the 128 pitch logits of the next note and its predicted step and
duration (regression, as in the TensorFlow music-generation tutorial). One input and one
output tensor keep the models simple to export as step models.

Every model is causal: output ``t`` depends on inputs ``<= t`` only.
"""

from __future__ import annotations

import keras

from zoo.layers import recurrent
from zoo.registry import register

KEYS = 88
LOWEST_KEY = 21  # A0; the highest is 108 (C8)
PITCHES = 128
NOTE_FEATURES = PITCHES + 2  # one-hot pitch, step, duration
STEP, DURATION = PITCHES, PITCHES + 1  # columns of step and duration in inputs and outputs


def _units_list(units: int | list[int]) -> list[int]:
    units = [units] if isinstance(units, int) else list(units)
    if not units or any(not isinstance(u, int) or u <= 0 for u in units):
        raise ValueError(f"units must be a positive integer or a list of them, got {units!r}")
    return units


def _recurrent_body(x, kind: str, units: int | list[int], *, dropout: float,
                    input_dropout: float):
    """Stacked sequence-returning recurrent layers ``{kind}_{i}`` and an output dropout."""
    if not 0.0 <= dropout < 1.0 or not 0.0 <= input_dropout < 1.0:
        raise ValueError(f"dropout and input_dropout must be in [0, 1), got {dropout}, "
                         f"{input_dropout}")
    for i, width in enumerate(_units_list(units)):
        x = recurrent(kind, width, return_sequences=True, name=f"{kind}_{i}",
                      dropout=input_dropout if i == 0 else dropout)(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return x


def _pianoroll(kind: str, units, dropout: float, input_dropout: float) -> keras.Model:
    inputs = keras.Input(shape=(None, KEYS), name="previous_frame")
    hidden = _recurrent_body(inputs, kind, units, dropout=dropout, input_dropout=input_dropout)
    logits = keras.layers.Dense(KEYS, name="logits")(hidden)
    return keras.Model(inputs, logits, name=f"music_pianoroll_{kind}")


@register("music-pianoroll-gru", task="music-jsb")
def music_pianoroll_gru(units: int | list[int] = 100, dropout: float = 0.0,
                        input_dropout: float = 0.0) -> keras.Model:
    """GRU piano-roll model: previous frame [T, 88] -> key logits [T, 88]."""
    return _pianoroll("gru", units, dropout, input_dropout)


@register("music-pianoroll-lstm", task="music-jsb")
def music_pianoroll_lstm(units: int | list[int] = 100, dropout: float = 0.0,
                         input_dropout: float = 0.0) -> keras.Model:
    """LSTM piano-roll model: previous frame [T, 88] -> key logits [T, 88]."""
    return _pianoroll("lstm", units, dropout, input_dropout)


@register("music-pianoroll-simple", task="music-jsb")
def music_pianoroll_simple(units: int | list[int] = 100, dropout: float = 0.0,
                           input_dropout: float = 0.0) -> keras.Model:
    """Vanilla tanh RNN piano-roll model: previous frame [T, 88] -> key logits [T, 88]."""
    return _pianoroll("simple", units, dropout, input_dropout)


def _notes(kind: str, units, dropout: float, input_dropout: float) -> keras.Model:
    inputs = keras.Input(shape=(None, NOTE_FEATURES), name="previous_note")
    hidden = _recurrent_body(inputs, kind, units, dropout=dropout, input_dropout=input_dropout)
    pitch = keras.layers.Dense(PITCHES, name="pitch_logits")(hidden)
    timing = keras.layers.Dense(2, name="step_duration")(hidden)
    outputs = keras.layers.Concatenate(name="next_note")([pitch, timing])
    return keras.Model(inputs, outputs, name=f"music_notes_{kind}")


@register("music-notes-lstm", task="music-melody")
def music_notes_lstm(units: int | list[int] = 128, dropout: float = 0.0,
                     input_dropout: float = 0.0) -> keras.Model:
    """LSTM note model: previous note [T, 130] -> next pitch logits, step, duration [T, 130]."""
    return _notes("lstm", units, dropout, input_dropout)


@register("music-notes-gru", task="music-melody")
def music_notes_gru(units: int | list[int] = 128, dropout: float = 0.0,
                    input_dropout: float = 0.0) -> keras.Model:
    """GRU note model: previous note [T, 130] -> next pitch logits, step, duration [T, 130]."""
    return _notes("gru", units, dropout, input_dropout)
