"""TFLite's fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op for Keras 3 LSTM layers (``lstm_op="fused"``).

Keras 3 LSTM layers convert to a TFLite WHILE loop; TensorFlow Lite Micro and NPU delegates
want the builtin fused op instead (no control flow). Keras 2 got it through the converter's
composite-function path, which this reuses without Keras 2: while the sequence function is
traced (`fused_lstms`), each LSTM layer's ``call`` runs `composite_lstm`, a ``tf.function``
carrying the attributes Keras 2 gave its ``standard_lstm`` (``api_implements="lstm_<uuid>"``,
``time_major``, ``go_backwards``) and its argument order (inputs, initial h, initial c,
kernel, recurrent kernel, bias; five results). The converter's
``tfl-prepare-composite-funcs-tf`` pass replaces the body of such a function by the fused op,
provided the initial states and the weights have static shapes (a fixed batch size, weights
passed as tensors rather than variables) and only the sequence or last output is used (not the
final states). The body itself is a correct LSTM (a ``tf.scan``), so a function the pass
leaves alone still computes the right thing; `check_fused` then refuses the file.

What the fused route takes (`fused_refusal` says why not, naming the layer): ``keras.layers.LSTM``
layers with their own ``LSTMCell``, tanh/sigmoid activations, no ``return_state``, no
``stateful``, no initial state, no mask; ``go_backwards`` (hence bidirectional LSTMs) by
reversing the input before the op; stacks (`zoo.layers.RecurrentStack`) whose inner layers are
LSTMs. GRU, SimpleRNN, ConvLSTM and custom cells have no fused op here.

The fused op keeps its states in TFLite *variable* tensors that persist across ``invoke()``
calls: an app calls ``interpreter.reset_all_variables()`` before each sequence (the file's
metadata says ``variable_state``; `export.runner.TFLiteRunner` does it).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import keras
import tensorflow as tf

from export.child import ConversionError
from zoo.errors import RnnzooError

# The builtin op the fused files hold, one per LSTM layer call.
FUSED_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"


class FusedLSTMError(RnnzooError, ValueError):
    """The model has a layer the fused TFLite LSTM op cannot take."""


def composite_lstm() -> tf.types.experimental.GenericFunction:
    """A ``tf.function`` the TFLite converter fuses into ``UNIDIRECTIONAL_SEQUENCE_LSTM``:
    ``(inputs [batch, time, features], init_h, init_c, kernel, recurrent_kernel, bias) ->
    (last output, outputs, final h, final c, runtime)``, gates in Keras order (i, f, c, o)."""
    attributes = {"api_implements": f"lstm_{uuid.uuid4()}", "api_preferred_device": "CPU",
                  "time_major": False, "go_backwards": False}

    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        def step(carry, x):
            h, c = carry
            z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
            i, f, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        hs, cs = tf.scan(step, tf.transpose(inputs, [1, 0, 2]), initializer=(init_h, init_c))
        outputs = tf.transpose(hs, [1, 0, 2])
        return outputs[:, -1], outputs, hs[-1], cs[-1], tf.constant(1.0)  # 1.0: Keras 2's CPU

    return tf.function(standard_lstm, autograph=False, experimental_attributes=attributes)


def _why_not(layer: keras.layers.Layer) -> str | None:
    """Why ``layer`` (a recurrent layer) cannot become the fused op (None: it can)."""
    kind = type(layer).__name__
    if not isinstance(layer, keras.layers.LSTM) or type(layer.cell) is not keras.layers.LSTMCell:
        return f"it is a {kind}, and only LSTM layers have a fused TFLite op"
    cell = layer.cell
    if (keras.activations.serialize(cell.activation) != "tanh"
            or keras.activations.serialize(cell.recurrent_activation) != "sigmoid"):
        return "the fused op computes tanh/sigmoid activations only"
    if layer.return_state:
        return "it returns its states (return_state), which the fused op keeps inside"
    if layer.stateful:
        return "it is stateful"
    if layer.compute_dtype != "float32":
        return f"it computes in {layer.compute_dtype}, the fused route in float32"
    return None


def fused_refusal(model: keras.Model) -> str | None:
    """Why ``model`` has no fused-LSTM form, naming the first layer that cannot take it (None:
    every recurrent layer is an LSTM the fused op can run)."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.RNN):
            why = _why_not(layer)
            if why:
                return f"layer {layer.name!r}: {why}"
    return None


def _fused_call(layer: keras.layers.LSTM, function, calls: list[str]):
    def call(sequences, initial_state=None, mask=None, training=False):
        if initial_state is not None:
            raise FusedLSTMError(f"layer {layer.name!r}: the fused LSTM op starts from zero "
                                 "states; this layer is given an initial state")
        if mask is not None:
            raise FusedLSTMError(f"layer {layer.name!r}: the fused LSTM op takes no mask")
        x = tf.convert_to_tensor(sequences)
        batch, units = x.shape[0], layer.units
        if batch is None:
            raise FusedLSTMError(f"layer {layer.name!r}: the fused LSTM op needs a fixed batch "
                                 "size (not 'dynamic')")
        if layer.go_backwards:  # Keras returns the outputs in the order it read them
            x = tf.reverse(x, axis=[1])
        cell = layer.cell
        kernel = tf.convert_to_tensor(cell.kernel)
        recurrent = tf.convert_to_tensor(cell.recurrent_kernel)
        bias = (tf.convert_to_tensor(cell.bias) if cell.use_bias
                else tf.zeros([4 * units], x.dtype))
        zeros = tf.zeros([batch, units], x.dtype)
        last, outputs, _, _, _ = function(x, zeros, zeros, kernel, recurrent, bias)
        calls.append(layer.name)
        return outputs if layer.return_sequences else last

    return call


@contextlib.contextmanager
def fused_lstms(model: keras.Model) -> Iterator[list[str]]:
    """Within the block, every LSTM layer of ``model`` (inside wrappers and stacks too) traces
    as the converter's fusable composite function; yields the list of layer calls traced so far
    (names). Raises `FusedLSTMError` naming a layer the fused op cannot take."""
    why = fused_refusal(model)
    if why:
        raise FusedLSTMError(f"--lstm-op fused: {why}")
    layers = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
              if isinstance(layer, keras.layers.LSTM)]
    calls: list[str] = []
    try:
        for layer in layers:
            vars(layer)["call"] = _fused_call(layer, composite_lstm(), calls)
        yield calls
    finally:
        for layer in layers:
            vars(layer).pop("call", None)


def check_fused(ops: dict, layers: list[str], label: str) -> None:
    """Refuse a converted file (``ops``: `export.tflite_file.op_summary`) that does not hold
    one fused op per LSTM layer call (``layers``) or still has a WHILE loop."""
    found = ops["builtin"].get(FUSED_OP, 0)
    if found != len(layers) or ops["builtin"].get("WHILE"):
        raise ConversionError(
            f"{label}: the converter made {found} {FUSED_OP} op(s) for {len(layers)} LSTM "
            f"layer call(s) ({', '.join(layers)})"
            + (" and kept a WHILE loop" if ops["builtin"].get("WHILE") else "")
            + "; this model has no fused-LSTM file")
