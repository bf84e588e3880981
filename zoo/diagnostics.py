"""Gradient diagnostics for recurrent models: how dLoss/dh_t behaves across time.

`gradient_norms` measures the vanishing/exploding-gradient quantity of Bengio et al. (1994)
and Pascanu et al. (2013): the norm of the *total* derivative of the loss with respect to
the hidden state h_t, i.e. including every path through the recurrence h_t -> h_{t+1} ->
... -> loss, not only the direct path from h_t to the output.

How: while the model runs (eagerly, ``training=False``), the chosen recurrent layer's
``call`` is temporarily replaced by a Python loop over its cell,
``h_t, states = cell(x_t, states)``, which produces the same outputs as the layer but keeps
every h_t as a tensor on a `tf.GradientTape`. The rest of the model runs unchanged (so
functional, sequential, subclassed, nested and multi-input models all work), and
``tape.gradient(loss, [h_1, ..., h_T])`` gives the total derivatives. The original ``call``
is restored afterwards, even on error. Needs the TensorFlow backend.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from zoo.layers import RecurrentStack

_RECURRENT_TYPES = (keras.layers.RNN, keras.layers.Bidirectional, RecurrentStack)


def _model_name(model) -> str:
    return getattr(model, "name", None) or type(model).__name__


def _walk(layer) -> list:
    """Layers of ``layer`` in order, descending into nested models (not into recurrent layers)."""
    found = []
    for sub in getattr(layer, "layers", []) if isinstance(layer, keras.Model) else []:
        found.append(sub)
        if isinstance(sub, keras.Model):
            found.extend(_walk(sub))
    return found


def _find_layer(model, layer):
    """The recurrent layer to diagnose: ``layer`` (name or layer object) or the first one."""
    layers = _walk(model)
    recurrent = [lay for lay in layers if isinstance(lay, _RECURRENT_TYPES)]
    if layer is None:
        if not recurrent:
            raise ValueError(
                f"model {_model_name(model)!r} has no recurrent layer "
                "(SimpleRNN, LSTM, GRU, Bidirectional or RecurrentStack)"
            )
        return recurrent[0]
    if isinstance(layer, keras.layers.Layer):
        matches = [lay for lay in layers if lay is layer]
        label = layer.name
    else:
        matches = [lay for lay in layers if lay.name == layer]
        label = layer
    if not matches:
        known = ", ".join(lay.name for lay in recurrent) or "none"
        raise ValueError(
            f"model {_model_name(model)!r} has no layer named {label!r}; its recurrent "
            f"layers: {known}"
        )
    found = matches[0]
    if not isinstance(found, _RECURRENT_TYPES):
        raise ValueError(
            f"layer {label!r} of model {_model_name(model)!r} is a {type(found).__name__}, "
            "not a recurrent layer (SimpleRNN, LSTM, GRU, Bidirectional or RecurrentStack)"
        )
    return found


def _unroll_target(layer):
    """The RNN or Bidirectional layer whose call is unrolled by hand."""
    while isinstance(layer, RecurrentStack):
        layer = layer.layers[0]
    if isinstance(layer, keras.layers.Bidirectional) and not isinstance(
        layer.forward_layer, keras.layers.RNN
    ):
        raise ValueError(f"Bidirectional layer {layer.name!r} does not wrap a Keras RNN layer")
    return layer


def _unroll_rnn(rnn, sequences, initial_state, mask, training, tape, record: list):
    """Run ``rnn`` step by step; returns what ``rnn.call`` would, appends each h_t to ``record``.

    h_t is the cell's output at step t (for SimpleRNN, LSTM and GRU this is the hidden state,
    the very tensor also carried as state into step t+1). Steps come in processing order
    (reversed input order for ``go_backwards``), masks as in `keras.backend.rnn`.
    """
    cell = rnn.cell
    x = ops.convert_to_tensor(sequences)
    steps = x.shape[1]
    if steps is None:
        raise ValueError(f"layer {rnn.name!r}: the number of time steps must be known")
    if initial_state is None:
        initial_state = (
            rnn.states if rnn.stateful else rnn.get_initial_state(batch_size=ops.shape(x)[0])
        )
    states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
    states = [ops.convert_to_tensor(s, dtype=cell.compute_dtype) for s in states]
    cell_kwargs = {"training": training} if getattr(cell, "_call_has_training_arg", False) else {}
    order = range(steps - 1, -1, -1) if rnn.go_backwards else range(steps)
    outputs, prev_out = [], None
    for t in order:
        out, new_states = cell(x[:, t], states, **cell_kwargs)
        tape.watch(out)
        record.append(out)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        if mask is not None:
            m = ops.expand_dims(ops.cast(mask[:, t], "bool"), -1)
            if prev_out is None:
                prev_out = ops.zeros_like(out)
            out = ops.where(m, out, ops.zeros_like(out) if rnn.zero_output_for_mask else prev_out)
            new_states = [ops.where(m, n, s) for n, s in zip(new_states, states)]
        outputs.append(out)
        prev_out, states = out, new_states
    if hasattr(cell, "reset_dropout_mask"):
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
    output = ops.stack(outputs, axis=1) if rnn.return_sequences else outputs[-1]
    output = ops.cast(output, rnn.compute_dtype)
    states = [ops.cast(s, rnn.compute_dtype) for s in states]
    if rnn.return_state:
        return (output, *states)
    return output


def _patched_call(target, tape, record: list) -> Callable:
    """A replacement ``call`` for ``target`` (RNN or Bidirectional) that unrolls by hand once."""
    original = target.call

    def rnn_call(sequences, initial_state=None, mask=None, training=False, **kwargs):
        if record:  # a shared layer called again: only its first call is diagnosed
            return original(
                sequences, initial_state=initial_state, mask=mask, training=training, **kwargs
            )
        return _unroll_rnn(target, sequences, initial_state, mask, training, tape, record)

    def bidirectional_call(sequences, initial_state=None, mask=None, training=None, **kwargs):
        if record:
            return original(
                sequences, initial_state=initial_state, mask=mask, training=training, **kwargs
            )
        fw, bw = target.forward_layer, target.backward_layer
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = list(initial_state[:half]), list(initial_state[half:])
        y = _unroll_rnn(fw, sequences, fw_state, mask, training, tape, record)
        bw_kwargs = {}
        if bw._call_has_training_arg:
            bw_kwargs["training"] = training
        if bw._call_has_mask_arg:
            bw_kwargs["mask"] = mask
        y_rev = bw(sequences, initial_state=bw_state, **bw_kwargs)
        states = ()
        if target.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        y = ops.cast(y, target.compute_dtype)
        y_rev = ops.cast(y_rev, target.compute_dtype)
        if target.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        mode = target.merge_mode
        if mode == "concat":
            output = ops.concatenate([y, y_rev], axis=-1)
        elif mode == "sum":
            output = y + y_rev
        elif mode == "ave":
            output = (y + y_rev) / 2
        elif mode == "mul":
            output = y * y_rev
        elif mode is None:
            output = (y, y_rev)
        else:
            raise ValueError(f"unknown merge_mode {mode!r} in layer {target.name!r}")
        if target.return_state:
            return (output + states) if mode is None else (output,) + states
        return output

    return bidirectional_call if isinstance(target, keras.layers.Bidirectional) else rnn_call


def _batch_loss(model, x, y, y_pred, sample_weight, loss):
    if (
        loss is None
        and getattr(model, "compiled", False)
        and getattr(model, "loss", None) is not None
    ):
        return model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )
    if isinstance(loss, dict):  # one loss per named output, added as Keras adds them
        missing = set(loss) - set(y_pred if isinstance(y_pred, dict) else ())
        if missing or not isinstance(y, dict):
            raise ValueError(f"a loss per output {sorted(loss)} needs outputs and targets by "
                             f"those names (missing outputs: {sorted(missing)})")
        return sum(_batch_loss(model, x, y[name], y_pred[name], sample_weight, fn)
                   for name, fn in loss.items())
    fn = keras.losses.get(loss if loss is not None else "mean_squared_error")
    if fn is None:
        raise ValueError(f"unknown loss {loss!r}")
    value = fn(y, y_pred) if sample_weight is None else fn(y, y_pred, sample_weight)
    return ops.mean(value)


def gradient_norms(
    model: keras.Model,
    batch: tuple,
    layer: str | keras.layers.Layer | None = None,
    loss: str | Callable | None = None,
) -> np.ndarray:
    """Norm of the total derivative dLoss/dh_t at every time step t; a numpy array of shape [T].

    ``layer`` names the recurrent layer (SimpleRNN, LSTM, GRU, Bidirectional or
    RecurrentStack; also a layer object); default: the first recurrent layer of ``model``
    (searched in ``model.layers`` order, nested models included). For a Bidirectional
    layer h_t is the *forward* direction's hidden state (the backward direction runs as
    usual); for a RecurrentStack it is the first inner layer's (before its residual/norm).
    The layer may return sequences or only its last state (then the earlier h_t reach the
    loss only through the recurrence). With ``go_backwards`` the steps are in processing
    order.

    ``batch`` is ``(inputs, targets)`` or ``(inputs, targets, sample_weight)``. ``loss``: a
    Keras loss name, object or function ``f(y_true, y_pred)``, or a dict of them by output
    name for a model of named outputs (targets by the same names; the losses add up, each
    with the same sample weights); default: the compiled loss
    (``model.compute_loss``) if the model is compiled with one, else mean squared error.
    The model runs with ``training=False``.

    Batch reduction: returns ``sum_b ||dL/dh_t[b]||_2`` where L is the batch loss. With the
    usual mean-over-batch loss this is the *average over examples* of each example's own
    gradient norm ``||dl_b/dh_t||_2`` (independent of the batch size).
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("gradient_norms needs the TensorFlow backend")
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError("batch must be (inputs, targets) or (inputs, targets, sample_weight)")
    x, y = batch[0], batch[1]
    sample_weight = batch[2] if len(batch) == 3 else None
    chosen = _find_layer(model, layer)
    target = _unroll_target(chosen)

    record: list = []
    had_own_call = "call" in vars(target)
    original = target.call
    with tf.GradientTape(persistent=False) as tape:
        target.call = _patched_call(target, tape, record)
        try:
            y_pred = model(x, training=False)
        finally:
            if had_own_call:
                target.call = original
            else:
                del target.call
        if not record:
            raise ValueError(
                f"layer {chosen.name!r} of model {_model_name(model)!r} was not called when "
                "running the model on the batch"
            )
        loss_value = _batch_loss(model, x, y, y_pred, sample_weight, loss)
    grads = tape.gradient(loss_value, record, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    norms = []
    for g in grads:
        g = tf.reshape(tf.cast(g, tf.float64), [tf.shape(g)[0], -1])
        norms.append(tf.reduce_sum(tf.norm(g, axis=-1)))
    return np.asarray([float(n) for n in norms], dtype=np.float64)


def plot_gradient_norms(norms: Any, path: str | Path, title: str | None = None) -> Path:
    """Write a PNG of ``norms`` (from `gradient_norms`) against time step, log-scale y axis.

    Uses matplotlib's Agg canvas directly (no pyplot, so no global backend change); zero
    norms are drawn at the smallest positive float. Returns the path written.
    """
    values = np.asarray(norms, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"norms must be a non-empty 1-D array, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("norms must be finite")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    steps = np.arange(1, values.size + 1)
    ax.plot(
        steps,
        np.maximum(values, np.finfo(np.float64).tiny),
        marker="." if values.size <= 100 else None,
    )
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dLoss/dh_t||")
    ax.set_title(title or "Gradient norm through time")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
