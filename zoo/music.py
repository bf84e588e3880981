"""Builders for music models: polyphonic piano rolls and note sequences.

Piano roll (``music-pianoroll-*``, task ``music-jsb``): input ``[T, 88]`` is the previous
frame (keys MIDI 21-108, 1 = sounding; all zeros before the first frame), output ``[T, 88]``
the logits of the independent Bernoulli of each key in the current frame.

Autoregressive piano roll (``music-pianoroll-{gru,lstm}-ar``): inputs ``{"previous_frame":
[T, 88], "frame": [T, 88]}``, the second the frame whose keys are modelled; output ``[T, 88]``
logits in which key ``k`` is conditioned on the true keys ``< k`` of ``frame``
(`zoo.autoregressive.AutoregressiveBernoulli`, ``triangular`` or ``nade``). The loss stays the
binary cross-entropy from logits, and its sum over keys is the exact NLL of the frame.
Sampling draws the keys in order (`tasks.music.keys`).

Note sequence (``music-notes-*``, tasks ``music-melody`` and ``music-piano``): input
``[T, 130]`` is the previous note, ``one_hot(pitch, 128) ++ [step, duration]`` (seconds);
outputs a dict of two heads, ``pitch_logits`` ``[T, 128]`` (the next note's pitch) and
``step_duration`` ``[T, 2]`` (its step and duration in seconds, a regression as in the
TensorFlow music-generation tutorial). Two output tensors, not one concatenated tensor, so
that full-int8 export gives each its own scale: logits spanning tens of nats beside timings
under a second shared one scale before, and the pitch NLL lost 3.5 % in int8. Weights saved
from the earlier one-output graph (a ``next_note`` Concatenate, which has no weights) load
into this one unchanged.

Every model is causal: output ``t`` depends on inputs ``<= t`` only (and on ``frame`` at step
``t`` only through the keys below each key).
"""

from __future__ import annotations

import keras

from zoo.autoregressive import AutoregressiveBernoulli
from zoo.checks import check_fraction
from zoo.layers import recurrent
from zoo.registry import register

KEYS = 88
PREVIOUS_FRAME, FRAME = "previous_frame", "frame"  # input names of the piano-roll models
LOWEST_KEY = 21  # A0; the highest is 108 (C8)
PITCHES = 128
NOTE_FEATURES = PITCHES + 2  # one-hot pitch, step, duration
STEP, DURATION = PITCHES, PITCHES + 1  # columns of step and duration in the input vector
PITCH_HEAD, TIMING_HEAD = "pitch_logits", "step_duration"  # output names of the note models
# int8 files calibrate the note LSTMs' cell states on [-2, 2] (`export.step`): on whole
# sequences they reach +-113, and one int8 scale over that range cost 3-10 % pitch NLL;
# chosen on validation among 2, 4, 8 (design notes).
NOTE_CELL_RANGE = 2.0
# the same for the autoregressive piano-roll LSTMs: music-jsb-lstm-ar's int8 step file on the
# JSB validation split, NLL relative to float32: unclipped +1.34 %, 2 +0.08 %, 4 +0.16 %,
# 8 +0.17 % (design notes)
PIANOROLL_AR_CELL_RANGE = 2.0


def _units_list(units: int | list[int]) -> list[int]:
    units = [units] if isinstance(units, int) else list(units)
    if not units or any(not isinstance(u, int) or u <= 0 for u in units):
        raise ValueError(f"units must be a positive integer or a list of them, got {units!r}")
    return units


def _recurrent_body(x, kind: str, units: int | list[int], *, dropout: float,
                    input_dropout: float, cell_range: float | None = None):
    """Stacked sequence-returning recurrent layers ``{kind}_{i}`` and an output dropout;
    ``cell_range``: the ``quantized_cell_range`` of LSTM layers (see `export.step`)."""
    check_fraction(dropout, "dropout")
    check_fraction(input_dropout, "input_dropout")
    for i, width in enumerate(_units_list(units)):
        layer = recurrent(kind, width, return_sequences=True, name=f"{kind}_{i}",
                          dropout=input_dropout if i == 0 else dropout)
        if cell_range is not None and kind == "lstm":
            layer.quantized_cell_range = cell_range  # read by export (int8 calibration)
        x = layer(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return x


def _pianoroll(kind: str, units, dropout: float, input_dropout: float) -> keras.Model:
    inputs = keras.Input(shape=(None, KEYS), name=PREVIOUS_FRAME)
    hidden = _recurrent_body(inputs, kind, units, dropout=dropout, input_dropout=input_dropout)
    logits = keras.layers.Dense(KEYS, name="logits")(hidden)
    return keras.Model(inputs, logits, name=f"music_pianoroll_{kind}")


def _pianoroll_ar(kind: str, units, dropout: float, input_dropout: float, form: str,
                  nade_units: int) -> keras.Model:
    previous = keras.Input(shape=(None, KEYS), name=PREVIOUS_FRAME)
    frame = keras.Input(shape=(None, KEYS), name=FRAME)
    hidden = _recurrent_body(previous, kind, units, dropout=dropout,
                             input_dropout=input_dropout, cell_range=PIANOROLL_AR_CELL_RANGE)
    logits = AutoregressiveBernoulli(KEYS, form=form, hidden_units=nade_units,
                                     name="logits")([hidden, frame])
    return keras.Model({PREVIOUS_FRAME: previous, FRAME: frame}, logits,
                       name=f"music_pianoroll_{kind}_ar")


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


@register("music-pianoroll-gru-ar", task="music-jsb")
def music_pianoroll_gru_ar(units: int | list[int] = 100, dropout: float = 0.0,
                           input_dropout: float = 0.0, form: str = "triangular",
                           nade_units: int = 100) -> keras.Model:
    """GRU piano-roll model with keys modelled in order: {previous_frame, frame} [T, 88] ->
    key logits [T, 88], key k given the frame's keys < k (``form``: triangular or nade, the
    NADE hidden layer ``nade_units`` wide)."""
    return _pianoroll_ar("gru", units, dropout, input_dropout, form, nade_units)


@register("music-pianoroll-lstm-ar", task="music-jsb")
def music_pianoroll_lstm_ar(units: int | list[int] = 100, dropout: float = 0.0,
                            input_dropout: float = 0.0, form: str = "triangular",
                            nade_units: int = 100) -> keras.Model:
    """LSTM piano-roll model with keys modelled in order: {previous_frame, frame} [T, 88] ->
    key logits [T, 88], key k given the frame's keys < k (``form``: triangular or nade)."""
    return _pianoroll_ar("lstm", units, dropout, input_dropout, form, nade_units)


def _notes(kind: str, units, dropout: float, input_dropout: float) -> keras.Model:
    inputs = keras.Input(shape=(None, NOTE_FEATURES), name="previous_note")
    hidden = _recurrent_body(inputs, kind, units, dropout=dropout, input_dropout=input_dropout,
                             cell_range=NOTE_CELL_RANGE)
    outputs = {PITCH_HEAD: keras.layers.Dense(PITCHES, name=PITCH_HEAD)(hidden),
               TIMING_HEAD: keras.layers.Dense(2, name=TIMING_HEAD)(hidden)}
    return keras.Model(inputs, outputs, name=f"music_notes_{kind}")


@register("music-notes-lstm", task="music-melody")
def music_notes_lstm(units: int | list[int] = 128, dropout: float = 0.0,
                     input_dropout: float = 0.0) -> keras.Model:
    """LSTM note model: previous note [T, 130] -> {pitch_logits [T, 128], step_duration
    [T, 2]} of the next note."""
    return _notes("lstm", units, dropout, input_dropout)


@register("music-notes-gru", task="music-melody")
def music_notes_gru(units: int | list[int] = 128, dropout: float = 0.0,
                    input_dropout: float = 0.0) -> keras.Model:
    """GRU note model: previous note [T, 130] -> {pitch_logits [T, 128], step_duration
    [T, 2]} of the next note."""
    return _notes("gru", units, dropout, input_dropout)
