"""The on-device generator: a stepper over an exported TFLite step model.

The step model (``export.step_model`` then ``export.to_tflite``) takes one input vector and the
recurrent states (``state_h_<i>``, ``state_c_<i>``) and returns the model outputs (a note
model's ``pitch_logits`` and ``step_duration``, each with its own int8 scale; one ``[130]``
output in files exported before the heads were split) and the next states under the same
names. `TFLiteStepper` feeds each state output back into the input of
the same name; with the sampling loops of `tasks.music.sampling` (one seeded numpy Generator,
same draws) it generates what the Keras model generates. It needs only numpy and the TFLite
interpreter (``ai_edge_litert``, else ``tensorflow.lite``), as an app would.

An autoregressive model's step file has a second input, ``frame`` (the frame whose keys it
models), and carries the float parameters of its key loop in its ``rnnzoo`` metadata
(``layer_data``, written by `export`); the stepper reads them into ``keys``
(`tasks.music.keys.KeyModel`), so the sampling loop draws the keys of each frame in order from
one run of the file per frame, as the Keras stepper does. The ``rnn-nade`` key loop also reads
the key layer's hidden input, which in the zoo's piano-roll models is the last recurrent
layer's output: the stepper's ``context`` is that layer's ``state_h`` after the step.
"""

from __future__ import annotations

import os

import numpy as np

from tasks.common.tflite_steps import (
    STATE_PREFIX,
    dequantize,
    open_step_file,
    quantize,
    read_metadata,
)
from tasks.music.keys import METADATA_KIND, KeyModel

FRAME_INPUT = "frame"  # zoo.music.FRAME (not imported: that would load Keras)


def key_model(metadata: dict) -> KeyModel | None:
    """The key loop of an autoregressive model from a file's metadata, or None."""
    entries = [e for e in (metadata.get("layer_data") or {}).values()
               if isinstance(e, dict) and e.get("kind") == METADATA_KIND]
    if len(entries) > 1:
        raise ValueError("more than one autoregressive output layer in the file's metadata")
    return KeyModel.from_metadata(entries[0]) if entries else None


class TFLiteStepper:
    """Step a TFLite step model with batch 1 (float, fp16 or int8; float or int8 I/O).

    Inputs and outputs are found by name through the model's signature (``step`` or its only
    one), else by tensor name: the states start with ``state_``, the one other input is the
    step's input vector (autoregressive models: besides ``frame``) and the other outputs are
    the model outputs: `step` returns the one as an array, several as a dict by name.
    ``keys``: the key loop of an autoregressive model, else None.
    """

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        self.path = str(path)
        self.interpreter, self.runner, inputs, outputs = open_step_file(path, threads)
        self.state_inputs = {n: d for n, d in inputs.items() if n.startswith(STATE_PREFIX)}
        self.state_outputs = {n: d for n, d in outputs.items() if n.startswith(STATE_PREFIX)}
        main_in = [n for n in inputs if n not in self.state_inputs]
        main_out = [n for n in outputs if n not in self.state_outputs]
        self.keys = key_model(read_metadata(path))
        self.frame_input = None
        if self.keys is not None and FRAME_INPUT in main_in and len(main_in) == 2:
            self.frame_input = inputs[FRAME_INPUT]
            main_in.remove(FRAME_INPUT)
        if len(main_in) != 1 or not main_out or not self.state_inputs:
            raise ValueError(f"{path}: not a step model with one input, outputs and "
                             f"{STATE_PREFIX}* states (inputs {sorted(inputs)}, outputs "
                             f"{sorted(outputs)})")
        if set(self.state_inputs) != set(self.state_outputs):
            raise ValueError(f"{path}: state inputs {sorted(self.state_inputs)} and outputs "
                             f"{sorted(self.state_outputs)} differ")
        self.input_name, self.input = main_in[0], inputs[main_in[0]]
        self.outputs = {name: outputs[name] for name in sorted(main_out)}
        self.features = int(self.input["shape"][-1])
        self.states: dict[str, np.ndarray] = {}
        hidden = sorted((n for n in self.state_inputs if n.startswith(f"{STATE_PREFIX}h_")),
                        key=lambda n: int(n.rsplit("_", 1)[-1]))
        self.context_state = hidden[-1] if hidden else None  # the last recurrent layer's h
        self.reset()

    def reset(self) -> None:
        """Zero every state."""
        self.states = {n: np.zeros(d["shape"], np.float32) for n, d in self.state_inputs.items()}
        self.context = None

    def step(self, x: np.ndarray, frame: np.ndarray | None = None
             ) -> np.ndarray | dict[str, np.ndarray]:
        """One step: feed ``x`` and the states, keep the new states, return the output (a dict
        by name when the model has several), each dequantized with its own scale.
        ``frame``: the modelled frame of an autoregressive model (zeros when None)."""
        x = np.asarray(x, np.float32).reshape(self.input["shape"])
        feeds = {self.input_name: quantize(x, self.input)}
        if self.frame_input is not None:
            shape = self.frame_input["shape"]
            frame = np.zeros(shape, np.float32) if frame is None else np.asarray(
                frame, np.float32).reshape(shape)
            feeds[FRAME_INPUT] = quantize(frame, self.frame_input)
        for name, detail in self.state_inputs.items():
            feeds[name] = quantize(self.states[name], detail)
        if self.runner is not None:
            results = self.runner(**feeds)
        else:
            it = self.interpreter
            for name, value in feeds.items():
                detail = (self.input if name == self.input_name else self.frame_input
                          if name == FRAME_INPUT else self.state_inputs[name])
                it.set_tensor(detail["index"], value)
            it.invoke()
            results = {name: it.get_tensor(d["index"])
                       for name, d in [*self.outputs.items(), *self.state_outputs.items()]}
        for name, detail in self.state_outputs.items():
            self.states[name] = dequantize(np.asarray(results[name]), detail).reshape(
                self.state_inputs[name]["shape"])
        if self.context_state is not None:
            self.context = self.states[self.context_state].reshape(-1)
        outputs = {name: dequantize(np.asarray(results[name]), detail).reshape(-1)
                   for name, detail in self.outputs.items()}
        return next(iter(outputs.values())) if len(outputs) == 1 else outputs
