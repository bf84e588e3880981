"""Music sampling loops shared by every backend (Keras here, TFLite: `tflite_sampler`).

A *stepper* runs a music model one time step at a time: ``reset()`` zeroes its recurrent
state and ``step(x)`` takes one input vector and returns the step's output (numpy): one vector
for a piano-roll model, a dict of vectors by output name for a note model (``pitch_logits``,
``step_duration``; or the one 130-vector of a file exported before the heads were split, which
`tasks.music.notes.split_outputs` reads alike). The loops
below draw every random number from one seeded ``numpy.random.Generator`` in a fixed order,
so two steppers of the same model generate the same music from the same seed (the rule
for one pitch is the shared `tasks.common.sampling.sample_logits`).

Autoregressive piano-roll models (``music-pianoroll-*-ar``) also take the frame whose keys
they model: their steppers' ``step(x, frame)`` feeds it (all zeros when None, which gives the
output a `KeyModel` samples from), and ``keys`` holds the key loop (`tasks.music.keys`) that
both backends share. Other steppers have ``keys = None``.
"""

from __future__ import annotations

from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

from tasks.common.sampling import check_sampling, sample_logits
from tasks.music.keys import KeyModel
from tasks.music.notes import encode_note, split_outputs
from zoo.autoregressive import AutoregressiveBernoulli
from zoo.music import FRAME, KEYS, PITCH_HEAD, PREVIOUS_FRAME, TIMING_HEAD


class Stepper(Protocol):
    keys: KeyModel | None  # the key loop of an autoregressive model, else None
    context: np.ndarray | None  # the key layer's hidden input at the last step (rnn-nade)

    def reset(self) -> None: ...
    def step(self, x: np.ndarray, frame: np.ndarray | None = None
             ) -> np.ndarray | dict[str, np.ndarray]: ...


sample_pitch = sample_logits  # the music name of the shared rule


class KerasStepper:
    """Runs a zoo music model (``music-notes-*`` or ``music-pianoroll-*``) step by step with
    its own recurrent cells and output layers, in one compiled function per step (a note
    model's step returns its two heads by name, a piano-roll model's its logits)."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.recurrent = [layer for layer in model.layers
                          if isinstance(layer, keras.layers.RNN)]
        if not self.recurrent:
            raise ValueError(f"{model.name}: no recurrent layer to step")
        names = {layer.name for layer in model.layers}
        self.heads = [PITCH_HEAD, TIMING_HEAD] if PITCH_HEAD in names else None
        self.key_layer = next((layer for layer in model.layers
                               if isinstance(layer, AutoregressiveBernoulli)), None)
        self.keys = None if self.key_layer is None else KeyModel.from_layer(self.key_layer)
        self.features = int(model.inputs[0].shape[-1])
        self.states = None
        self._step = tf.function(self._step_fn, reduce_retracing=True)
        self.reset()

    def _zero_states(self) -> list[list[tf.Tensor]]:
        states = []
        for layer in self.recurrent:
            units = layer.cell.units
            count = 2 if isinstance(layer, keras.layers.LSTM) else 1
            states.append([tf.zeros((1, units)) for _ in range(count)])
        return states

    def reset(self) -> None:
        self.states = self._zero_states()
        self.context = None

    def _step_fn(self, x, frame, states):
        new_states = []
        for layer, state in zip(self.recurrent, states):
            x, new = layer.cell(x, list(state), training=False)
            new_states.append(list(new))
        if self.key_layer is not None:
            return (self.key_layer([x, frame])[0], x[0]), new_states
        if self.heads is None:
            return self.model.get_layer("logits")(x)[0], new_states
        return {name: self.model.get_layer(name)(x)[0] for name in self.heads}, new_states

    def step(self, x: np.ndarray, frame: np.ndarray | None = None
             ) -> np.ndarray | dict[str, np.ndarray]:
        """One step from input ``x``; ``frame``: the modelled frame of an autoregressive
        model (zeros when None), ignored by the others."""
        x = tf.constant(np.asarray(x, np.float32).reshape(1, self.features))
        frame = np.zeros((1, KEYS), np.float32) if frame is None else frame
        frame = tf.constant(np.asarray(frame, np.float32).reshape(1, -1))
        output, self.states = self._step(x, frame, self.states)
        if isinstance(output, tuple):  # autoregressive: logits and the key layer's input
            output, context = output
            self.context = context.numpy()
            return output.numpy()
        if isinstance(output, dict):
            return {name: value.numpy() for name, value in output.items()}
        return output.numpy()


def generate_notes(stepper: Stepper, *, primer: np.ndarray | None = None, length: int = 128,
                   temperature: float = 1.0, top_k: int | None = None,
                   seed: int | None = 0) -> np.ndarray:
    """``[length, 3]`` new notes (pitch, step, duration) after ``primer`` (``[P, 3]`` or None:
    from scratch). Pitches are sampled (temperature, top-k); step and duration are the
    model's regression outputs, floored at 0. Draws: one ``rng.random()`` per note."""
    check_sampling(temperature, top_k)
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    rng = np.random.default_rng(seed)
    stepper.reset()
    output = stepper.step(encode_note(None))
    for note in (np.zeros((0, 3)) if primer is None else np.asarray(primer, np.float32)):
        output = stepper.step(encode_note(note))
    notes = np.zeros((length, 3), np.float32)
    for i in range(length):
        logits, timing = split_outputs(output)
        pitch = sample_pitch(logits, rng, temperature, top_k)
        notes[i] = (pitch, max(float(timing[0]), 0.0), max(float(timing[1]), 0.0))
        if i + 1 < length:
            output = stepper.step(encode_note(notes[i]))
    return notes


def generate_frames(stepper: Stepper, *, primer: np.ndarray | None = None, length: int = 64,
                    temperature: float = 1.0, seed: int | None = 0) -> np.ndarray:
    """``[length, 88]`` new piano-roll frames after ``primer`` (``[P, 88]`` or None), each key
    drawn from ``sigmoid(logit / temperature)``: independently, or for an autoregressive model
    (``stepper.keys``) key by key from the lowest, each logit given the keys already drawn.
    Draws: one ``rng.random(88)`` per frame (key ``k`` sounds when its draw is below its
    probability)."""
    check_sampling(temperature, None)
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    rng = np.random.default_rng(seed)
    stepper.reset()
    output = stepper.step(np.zeros(KEYS, np.float32))
    for frame in (np.zeros((0, KEYS)) if primer is None else np.asarray(primer, np.float32)):
        output = stepper.step(frame)
    keys = getattr(stepper, "keys", None)
    frames = np.zeros((length, KEYS), np.float32)
    for i in range(length):
        uniforms = rng.random(KEYS)
        if keys is not None:
            frames[i] = keys.sample(output, uniforms, temperature,
                                    context=getattr(stepper, "context", None))
        else:
            probs = 1.0 / (1.0 + np.exp(-np.asarray(output, np.float64) / temperature))
            frames[i] = uniforms < probs
        if i + 1 < length:
            output = stepper.step(frames[i])
    return frames


def _stack(steps: list):
    """One array (or dict of arrays, for dict outputs) stacking ``steps`` on a new first axis."""
    if steps and isinstance(steps[0], dict):
        return {name: np.stack([s[name] for s in steps]) for name in steps[0]}
    return np.stack(steps)


def stepwise_model_fn(stepper: Stepper):
    """A ``model_fn`` (batch of sequences ``[B, T, F]`` -> outputs ``[B, T, F_out]``, a dict of
    them for a stepper of dict outputs) that runs each sequence through ``stepper`` from a zero
    state, for scoring step models with the task metrics. Autoregressive models' inputs are
    ``{"previous_frame", "frame"}`` dicts."""

    def model_fn(inputs):
        frames = None
        if isinstance(inputs, dict):
            inputs, frames = inputs[PREVIOUS_FRAME], np.asarray(inputs[FRAME], np.float32)
        outputs = []
        for b, sequence in enumerate(np.asarray(inputs, np.float32)):
            stepper.reset()
            outputs.append(_stack([stepper.step(x) if frames is None
                                   else stepper.step(x, frames[b, t])
                                   for t, x in enumerate(sequence)]))
        return _stack(outputs)

    return model_fn
