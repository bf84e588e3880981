"""Generating text one character at a time: a Keras stepper and the sampling loop.

A *stepper* runs a character model one step at a time: ``reset()`` zeroes its recurrent
states and ``step(char_id)`` feeds one character id and returns the logits of the next
character (numpy ``[V]``). `KerasStepper` steps a zoo ``textgen-char-*`` model with its own
layers (embedding, recurrent cells, output Dense); `tasks.textgen.tflite_sampler.TFLiteStepper`
steps its exported TFLite step file. `generate_ids` draws with the shared rule
(`tasks.common.sampling.sample_logits`: temperature, top-k, one ``rng.random()`` per
character from ``numpy.random.default_rng(seed)``), so both steppers of one model generate
the same text from the same seed. ``<pad>`` and ``<unk>`` are never drawn.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tasks.common.characters import CHAR_SPECIALS, CharVocabulary
from tasks.common.sampling import check_sampling, sample_logits


class Stepper(Protocol):
    def reset(self) -> None: ...
    def step(self, char_id: int) -> np.ndarray: ...


class KerasStepper:
    """Runs a ``textgen-char-*`` Keras model step by step in one compiled function per step:
    its Embedding, the cell of each recurrent layer on explicit states, then its Dense
    layers (dropout is off at inference)."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        self.model = model
        self.layers = [layer for layer in model.layers
                       if isinstance(layer, (keras.layers.Embedding, keras.layers.RNN,
                                             keras.layers.Dense))]
        self.recurrent = [layer for layer in self.layers if isinstance(layer, keras.layers.RNN)]
        if not self.recurrent:
            raise ValueError(f"{model.name}: no recurrent layer to step")
        self._lstm = [isinstance(layer, keras.layers.LSTM) for layer in self.recurrent]
        self._tf = tf
        self._step = tf.function(self._step_fn, reduce_retracing=True)
        self.states: list = []
        self.reset()

    def reset(self) -> None:
        tf = self._tf
        self.states = [[tf.zeros((1, layer.cell.units)) for _ in range(2 if lstm else 1)]
                       for layer, lstm in zip(self.recurrent, self._lstm)]

    def _step_fn(self, x, states):
        import keras

        new_states, i = [], 0
        for layer in self.layers:
            if isinstance(layer, keras.layers.RNN):
                x, new = layer.cell(x, list(states[i]), training=False)
                new_states.append(list(new))
                i += 1
            else:
                x = layer(x)
        return x[0], new_states

    def step(self, char_id: int) -> np.ndarray:
        x = self._tf.constant([int(char_id)], self._tf.int32)
        logits, self.states = self._step(x, self.states)
        return logits.numpy()


def generate_ids(stepper: Stepper, prompt_ids: list[int], *, length: int = 400,
                 temperature: float = 1.0, top_k: int | None = None,
                 seed: int | None = 0) -> list[int]:
    """``length`` new character ids after ``prompt_ids`` (at least one), each drawn from the
    logits of the step before (``<pad>`` and ``<unk>`` masked out)."""
    check_sampling(temperature, top_k)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    if not prompt_ids:
        raise ValueError("the prompt is empty: give at least one character to start from")
    rng = np.random.default_rng(seed)
    stepper.reset()
    for char_id in prompt_ids:
        logits = stepper.step(char_id)
    out: list[int] = []
    for i in range(length):
        logits = np.array(logits, np.float64)
        logits[:len(CHAR_SPECIALS)] = -np.inf
        out.append(sample_logits(logits, rng, temperature, top_k))
        if i + 1 < length:
            logits = stepper.step(out[-1])
    return out


def generate_text(stepper: Stepper, vocabulary: CharVocabulary, prompt: str, *,
                  length: int = 400, temperature: float = 1.0, top_k: int | None = None,
                  seed: int | None = 0) -> str:
    """``length`` new characters after ``prompt`` (see `generate_ids`)."""
    ids = generate_ids(stepper, vocabulary.encode(prompt), length=length,
                       temperature=temperature, top_k=top_k, seed=seed)
    return vocabulary.decode(ids)
