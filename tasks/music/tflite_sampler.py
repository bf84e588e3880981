"""The on-device generator: a stepper over an exported TFLite step model.

The step model (``export.step_model`` then ``export.to_tflite``) takes one input vector and the
recurrent states (``state_h_<i>``, ``state_c_<i>``) and returns the model output and the next
states under the same names. `TFLiteStepper` feeds each state output back into the input of
the same name; with the sampling loops of `tasks.music.sampling` (one seeded numpy Generator,
same draws) it generates what the Keras model generates. It needs only numpy and the TFLite
interpreter (``ai_edge_litert``, else ``tensorflow.lite``), as an app would.
"""

from __future__ import annotations

import os

import numpy as np

from zoo.quiet import quiet_stderr

STATE_PREFIX = "state_"


def _interpreter(path: str, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - tensorflow ships one too
        from tensorflow.lite.python.interpreter import Interpreter
    return Interpreter(model_path=path, num_threads=threads)


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(x: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((x.astype(np.float32) - zero) * scale).astype(np.float32)


def _short(name: str) -> str:
    """``serving_default_state_h_0:0`` -> ``state_h_0``; other names unchanged."""
    name = name.split(":")[0]
    index = name.find(STATE_PREFIX)
    return name[index:] if index >= 0 else name


class TFLiteStepper:
    """Step a TFLite step model with batch 1 (float, fp16 or int8; float or int8 I/O).

    Inputs and outputs are found by name through the model's signature (``step`` or its only
    one), else by tensor name: the states start with ``state_``, the one other input is the
    step's input vector and the one other output the model output.
    """

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        path = str(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such TFLite file")
        self.path = path
        with quiet_stderr():
            self.interpreter = _interpreter(path, threads)
            signatures = self.interpreter.get_signature_list()
            if signatures:
                key = "step" if "step" in signatures else sorted(signatures)[0]
                self.runner = self.interpreter.get_signature_runner(key)
                inputs = self.runner.get_input_details()
                outputs = self.runner.get_output_details()
            else:
                self.runner = None
                self.interpreter.allocate_tensors()
                inputs = {_short(d["name"]): d for d in self.interpreter.get_input_details()}
                outputs = {_short(d["name"]): d for d in self.interpreter.get_output_details()}
        self.state_inputs = {n: d for n, d in inputs.items() if n.startswith(STATE_PREFIX)}
        self.state_outputs = {n: d for n, d in outputs.items() if n.startswith(STATE_PREFIX)}
        main_in = [n for n in inputs if n not in self.state_inputs]
        main_out = [n for n in outputs if n not in self.state_outputs]
        if len(main_in) != 1 or len(main_out) != 1 or not self.state_inputs:
            raise ValueError(f"{path}: not a step model with one input, one output and "
                             f"{STATE_PREFIX}* states (inputs {sorted(inputs)}, outputs "
                             f"{sorted(outputs)})")
        if set(self.state_inputs) != set(self.state_outputs):
            raise ValueError(f"{path}: state inputs {sorted(self.state_inputs)} and outputs "
                             f"{sorted(self.state_outputs)} differ")
        self.input_name, self.output_name = main_in[0], main_out[0]
        self.input, self.output = inputs[self.input_name], outputs[self.output_name]
        self.features = int(self.input["shape"][-1])
        self.states: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Zero every state."""
        self.states = {n: np.zeros(d["shape"], np.float32) for n, d in self.state_inputs.items()}

    def step(self, x: np.ndarray) -> np.ndarray:
        """One step: feed ``x`` and the states, keep the new states, return the output."""
        x = np.asarray(x, np.float32).reshape(self.input["shape"])
        feeds = {self.input_name: _quantize(x, self.input)}
        for name, detail in self.state_inputs.items():
            feeds[name] = _quantize(self.states[name], detail)
        if self.runner is not None:
            results = self.runner(**feeds)
        else:
            it = self.interpreter
            for name, value in feeds.items():
                detail = self.input if name == self.input_name else self.state_inputs[name]
                it.set_tensor(detail["index"], value)
            it.invoke()
            results = {
                name: it.get_tensor(d["index"])
                for name, d in [(self.output_name, self.output), *self.state_outputs.items()]
            }
        for name, detail in self.state_outputs.items():
            self.states[name] = _dequantize(np.asarray(results[name]), detail).reshape(
                self.state_inputs[name]["shape"])
        return _dequantize(np.asarray(results[self.output_name]), self.output).reshape(-1)
