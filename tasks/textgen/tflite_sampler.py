"""The on-device text generator: a stepper over an exported TFLite step file.

``rnnzoo export`` writes ``step.<quantize>.tflite`` for a ``textgen`` preset: inputs
``characters`` (int32 ``[1]``, one character id) and the states ``state_h_<i>``,
``state_c_<i>`` (LSTM); outputs ``logits`` (``[1, V]``) and the next states under the same
names. The vocabulary lies beside it (``assets/characters.json``, also inside the file's
``rnnzoo`` metadata). `TFLiteStepper` feeds each state output back into the input of the same
name; with `tasks.textgen.sampling.generate_ids` it generates what the Keras model generates
from the same seed. It needs only numpy and the TFLite interpreter, as an app would.
"""

from __future__ import annotations

import os

import numpy as np

from tasks.common.characters import CharVocabulary
from tasks.common.tflite_steps import (
    STATE_PREFIX,
    dequantize,
    open_step_file,
    quantize,
    read_metadata,
)

VOCABULARY_ASSET = "characters.json"


def file_vocabulary(path: str | os.PathLike) -> CharVocabulary | None:
    """The character vocabulary stored in a step file's ``rnnzoo`` metadata (``assets``,
    written by ``rnnzoo export``), or None when the file holds none."""
    import tempfile
    from pathlib import Path

    text = (read_metadata(str(path)).get("assets") or {}).get(VOCABULARY_ASSET)
    if not isinstance(text, str):
        return None
    with tempfile.TemporaryDirectory() as folder:  # one parser and one set of checks
        copy = Path(folder) / VOCABULARY_ASSET
        copy.write_text(text, encoding="utf-8")
        return CharVocabulary.load(copy)


class TFLiteStepper:
    """Step a TFLite character step model with batch 1 (float32, fp16 or int8)."""

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        self.path = str(path)
        self.interpreter, self.runner, inputs, outputs = open_step_file(path, threads)
        if self.runner is None:
            raise ValueError(f"{path}: no signature (export it with 'rnnzoo export')")
        self.state_inputs = {n: d for n, d in inputs.items() if n.startswith(STATE_PREFIX)}
        self.state_outputs = {n: d for n, d in outputs.items() if n.startswith(STATE_PREFIX)}
        main_in = [n for n in inputs if n not in self.state_inputs]
        main_out = [n for n in outputs if n not in self.state_outputs]
        if (len(main_in) != 1 or len(main_out) != 1 or not self.state_inputs
                or set(self.state_inputs) != set(self.state_outputs)):
            raise ValueError(f"{path}: not a character step model (one input, one output and "
                             f"{STATE_PREFIX}* states; inputs {sorted(inputs)}, outputs "
                             f"{sorted(outputs)})")
        self.input_name, self.output_name = main_in[0], main_out[0]
        self.input, self.output = inputs[self.input_name], outputs[self.output_name]
        self.states: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Zero every state."""
        self.states = {n: np.zeros(d["shape"], np.float32) for n, d in self.state_inputs.items()}

    def step(self, char_id: int) -> np.ndarray:
        """Feed one character id and the states; keep the new states; return the logits."""
        feeds = {self.input_name: quantize(np.full(self.input["shape"], int(char_id)),
                                           self.input)}
        for name, detail in self.state_inputs.items():
            feeds[name] = quantize(self.states[name], detail)
        results = self.runner(**feeds)
        for name, detail in self.state_outputs.items():
            self.states[name] = dequantize(np.asarray(results[name]), detail).reshape(
                self.state_inputs[name]["shape"])
        return dequantize(np.asarray(results[self.output_name]), self.output).reshape(-1)
