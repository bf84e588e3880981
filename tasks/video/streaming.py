"""Frame-by-frame classification with a video model's own layers (a live camera feed).

`FrameStreamer` runs a clip classifier whose layers form one chain (the builders of
`zoo.video`: per-frame layers, recurrent layers, a head) one frame at a time: per-frame layers
(``TimeDistributed``) act on the frame, each recurrent layer's cell advances its state, and the
layers after the last recurrent layer turn its output into the running class probabilities.
After the last frame of a clip they equal the clip model's output (the same computation, in
time order). The exported step model (`rnnzoo export`, ``step.<q>.tflite``) does the same on
device.
"""

from __future__ import annotations

import keras
import numpy as np


class FrameStreamer:
    """Feeds frames ``[H, W, 3]`` (0-255) to a chain-shaped clip model one at a time."""

    def __init__(self, model: keras.Model):
        layers = [layer for layer in model.layers
                  if not isinstance(layer, keras.layers.InputLayer)]
        for before, layer in zip([None, *layers], layers):
            parents = {t._keras_history.operation.name
                       for node in layer._inbound_nodes for t in node.arguments.keras_tensors}
            expected = {model.inputs[0]._keras_history.operation.name} if before is None \
                else {before.name}
            if parents != expected:
                raise ValueError(f"{model.name}: layer {layer.name!r} does not follow "
                                 "the previous one; frame-by-frame streaming needs a chain")
        recurrent = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.RNN)]
        if not recurrent:
            raise ValueError(f"{model.name}: no recurrent layer, nothing to stream")
        for layer in layers[recurrent[-1] + 1:]:
            if isinstance(layer, keras.layers.TimeDistributed):
                raise ValueError(f"{model.name}: per-frame layer {layer.name!r} after the last "
                                 "recurrent layer")
        self.model, self.layers, self.last_recurrent = model, layers, recurrent[-1]
        self.states: dict[str, list] = {}
        self.reset()

    def reset(self) -> None:
        """Start a new clip: zero recurrent states."""
        self.states = {layer.name: layer.cell.get_initial_state(batch_size=1)
                       for layer in self.layers if isinstance(layer, keras.layers.RNN)}

    def step(self, frame: np.ndarray) -> np.ndarray:
        """The class probabilities after one more frame ``[H, W, 3]``."""
        x = keras.ops.convert_to_tensor(np.asarray(frame, np.float32)[None])
        for index, layer in enumerate(self.layers):
            if isinstance(layer, keras.layers.RNN):
                x, states = layer.cell(x, self.states[layer.name], training=False)
                self.states[layer.name] = list(states) if isinstance(states, (list, tuple)) \
                    else [states]
            elif isinstance(layer, keras.layers.TimeDistributed):
                x = layer.layer(x, training=False)
            elif index > self.last_recurrent or _per_frame(layer):
                x = layer(x, training=False)
            else:
                raise ValueError(f"{self.model.name}: layer {layer.name!r} "
                                 f"({type(layer).__name__}) before the recurrence is not known "
                                 "to act on each frame")
        return np.asarray(x)[0]


def _per_frame(layer: keras.layers.Layer) -> bool:
    return type(layer).__name__ in ("Rescaling", "Dropout", "Activation", "ReLU")
