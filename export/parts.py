"""Models exported in two parts: an encoder run once per input and a decoder step run per
output token (image captioning, translation).

A zoo builder that has parts registers a function ``parts(model) -> dict`` (`zoo.register`'s
``parts``; `zoo.build` records it on the model as ``rnnzoo_parts``) returning:

* ``encoder``: a Keras model of the model's non-sequence inputs (an image, a source
  sentence) whose outputs are the decoder's initial states (names starting ``state_``) and its
  context (everything else: a feature grid, the encoder's outputs);
* ``decoder``: a Keras model of one step: ``step_input`` (one token, ``[batch, 1]``), the
  states and the context in; ``output`` (the model's output at that step), the new states
  under the same names, and anything else (attention weights) out;
* ``sequence_input`` (the model's input the decoder walks along, e.g. ``tokens``),
  ``step_input`` and ``output`` (names).

Run the parts with `PartsRunner`: the encoder once, then the decoder step by step. Called on
the whole model's inputs it gives the whole model's output, teacher-forced (so a task's metric
scores an exported pair like the Keras model); `encode` and `step` are what a decode loop
(`tasks.common.decoding`) uses. Int8 calibration of the decoder uses the inputs the Keras
decoder sees when fed the representative sequences one token at a time (`calibration`).
Token 0 pads a sequence (Keras ``mask_zero``): at a padded step the runner carries the state
over, as a masked Keras recurrent layer does (outputs at padded steps mean nothing, in Keras
too, and are not compared: `valid_steps`), and calibration stops at the first 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import keras
import numpy as np

from export.signatures import input_packer
from export.step import input_names, output_names
from zoo.errors import RnnzooError

PART_NAMES = ("encoder", "decoder")
STATE_PREFIX = "state_"
Fn = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


class PartsError(RnnzooError, ValueError):
    """A model's parts do not fit the encoder/decoder protocol."""


@dataclass
class Parts:
    """A model's encoder and decoder-step models and the names that join them."""

    encoder: keras.Model
    decoder: keras.Model
    sequence_input: str
    step_input: str
    output: str

    @property
    def states(self) -> list[str]:
        return [n for n in input_names(self.decoder) if n.startswith(STATE_PREFIX)]

    @property
    def context(self) -> list[str]:
        return [n for n in input_names(self.decoder)
                if n != self.step_input and not n.startswith(STATE_PREFIX)]

    def check(self, label: str) -> Parts:
        encoder_out = set(output_names(self.encoder))
        decoder_in, decoder_out = set(input_names(self.decoder)), set(output_names(self.decoder))
        problems = []
        if self.step_input not in decoder_in:
            problems.append(f"the decoder has no input {self.step_input!r}")
        if self.output not in decoder_out:
            problems.append(f"the decoder has no output {self.output!r}")
        missing = [n for n in self.states + self.context if n not in encoder_out]
        if missing:
            problems.append(f"decoder inputs {missing} are not encoder outputs")
        unfed = [n for n in self.states if n not in decoder_out]
        if unfed:
            problems.append(f"decoder states {unfed} are not decoder outputs")
        if problems:
            raise PartsError(f"model {label!r}: its parts do not fit: {'; '.join(problems)}")
        return self


def parts_of(model: keras.Model) -> Parts | None:
    """The model's `Parts` (checked), or None for a model exported whole."""
    make = getattr(model, "rnnzoo_parts", None)
    if make is None:
        return None
    found = dict(make(model))
    unknown = set(found) - {*PART_NAMES, "sequence_input", "step_input", "output"}
    if unknown:
        raise PartsError(f"model {model.name!r}: unknown parts entries {sorted(unknown)}")
    return Parts(**found).check(model.name)


def _as_dict(outputs, names: list[str]) -> dict[str, np.ndarray]:
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {n: np.asarray(v) for n, v in zip(names, flat)}


def keras_fn(model: keras.Model) -> Fn:
    """A part as a function of a dict of numpy arrays to a dict of numpy arrays."""
    names, inputs, pack = output_names(model), input_names(model), input_packer(model)

    def run(feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return _as_dict(model.predict_on_batch(pack([feed[n] for n in inputs])), names)

    return run


def _fingerprint(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha1()
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        digest.update(name.encode() + str(value.shape).encode() + value.tobytes())
    return digest.hexdigest()


class PartsRunner:
    """Runs an encoder and a decoder step (Keras models, TFLite files, ...) as one model.

    ``encoder`` and ``decoder`` map a dict of numpy arrays to a dict of numpy arrays (see
    `keras_fn`, `export.runner.TFLiteRunner.invoke`). Calling the runner with the whole
    model's inputs returns its output for every step, teacher-forced. Consecutive calls on the
    same non-sequence inputs whose sequences extend the previous call's (a decode loop that
    re-reads its growing prefix) continue from where the last call stopped.
    """

    def __init__(self, encoder: Fn, decoder: Fn, *, sequence_input: str, step_input: str,
                 output: str, states: list[str], context: list[str]):
        self.encoder_fn, self.decoder_fn = encoder, decoder
        self.sequence_input, self.step_input, self.output = sequence_input, step_input, output
        self.states, self.context = list(states), list(context)
        self._cache: tuple | None = None

    @classmethod
    def from_parts(cls, parts: Parts, encoder: Fn | None = None,
                   decoder: Fn | None = None) -> PartsRunner:
        """A runner of ``parts``' Keras models, or of the given functions in their place."""
        return cls(encoder or keras_fn(parts.encoder), decoder or keras_fn(parts.decoder),
                   sequence_input=parts.sequence_input, step_input=parts.step_input,
                   output=parts.output, states=parts.states, context=parts.context)

    def encode(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The decoder's starting state: its states and context, from the encoder."""
        encoded = self.encoder_fn(inputs)
        return {n: np.asarray(encoded[n]) for n in self.states + self.context}

    def step(self, tokens: np.ndarray, state: dict[str, np.ndarray]
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """One decoder step for a batch of ``tokens`` ``[batch]``: all its outputs, and the
        next state (new states, the same context)."""
        feed = {self.step_input: np.asarray(tokens, np.int32).reshape(-1, 1), **state}
        outputs = self.decoder_fn(feed)
        return outputs, {**state, **{n: np.asarray(outputs[n]) for n in self.states}}

    def step_fn(self, output: str | None = None):
        """A `tasks.common.decoding` step function: ``(tokens, state) -> (output, state)``."""
        name = output or self.output

        def step(tokens, state):
            outputs, state = self.step(tokens, state)
            return outputs[name], state

        return step

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        inputs = {k: np.asarray(v) for k, v in inputs.items()}
        sequence = inputs[self.sequence_input]
        rest = {k: v for k, v in inputs.items() if k != self.sequence_input}
        key = _fingerprint(rest)
        done, outputs, state = 0, [], None
        if self._cache is not None and self._cache[0] == key:
            _, seen, cached_outputs, cached_state = self._cache
            if seen.shape[0] == sequence.shape[0] and seen.shape[1] <= sequence.shape[1] \
                    and np.array_equal(seen, sequence[:, :seen.shape[1]]):
                done, outputs, state = seen.shape[1], list(cached_outputs), cached_state
        if state is None:
            state = self.encode(rest)
        for t in range(done, sequence.shape[1]):
            step_outputs, new_state = self.step(sequence[:, t], state)
            output = np.asarray(step_outputs[self.output])
            padded = sequence[:, t] == 0
            if t > 0 and padded.any():  # as Keras masking: the state carries over
                for n in self.states:
                    new_state[n] = np.where(padded.reshape(-1, *[1] * (state[n].ndim - 1)),
                                            state[n], new_state[n])
            state = new_state
            outputs.append(output)
        self._cache = (key, sequence.copy(), list(outputs), state)
        return np.stack(outputs, axis=1)


def valid_steps(sequence: np.ndarray) -> np.ndarray:
    """``[batch, steps]`` True where a step is not padding (token 0 after the first step)."""
    valid = np.asarray(sequence) != 0
    valid[:, 0] = True
    return valid


def calibration(parts: Parts, samples: Iterable) -> tuple[list[dict], list[dict]]:
    """Int8 calibration inputs of the encoder and of the decoder step from whole-model
    ``samples`` (dicts with a batch axis of 1): the encoder sees their non-sequence inputs,
    the decoder the token, states and context the Keras decoder meets on each sequence up to
    its first padding token (0)."""
    runner = PartsRunner.from_parts(parts)
    encoder_samples, decoder_samples = [], []
    for sample in samples:
        if not isinstance(sample, dict) or parts.sequence_input not in sample:
            raise ValueError(f"calibration samples of a model with parts are dicts of its "
                             f"inputs, with {parts.sequence_input!r}; got {type(sample).__name__}")
        rest = {k: np.asarray(v) for k, v in sample.items() if k != parts.sequence_input}
        encoder_samples.append(rest)
        state = runner.encode(rest)
        for token in np.asarray(sample[parts.sequence_input])[0]:
            if token == 0:
                break
            decoder_samples.append({parts.step_input: np.array([[token]], np.int32), **state})
            _, state = runner.step(np.array([token]), state)
    if not encoder_samples or not decoder_samples:
        raise ValueError("no calibration samples (or every sequence starts with padding)")
    return encoder_samples, decoder_samples
