"""The loop form of a model without a step form: its recurrent layers cut out of the graph.

A bidirectional layer needs the whole sequence, so the model has no single-step form
(`export.step`), and the converter crashes on int8 of Keras' own loops. `loop_form(model)`
splits such a model into

* the *rest*: the model's graph with every recurrent layer (``Bidirectional`` or a forward
  ``SimpleRNN``/``LSTM``/``GRU``) cut out: it returns, beside the model outputs, the sequence
  each recurrent layer reads (``<layer>__input``) and takes, beside the model inputs, what
  each direction of the layer returns (``<layer>__forward``, ``<layer>__backward``: ``[batch,
  T, units]`` in time order, or ``[batch, units]``, the last output), and merges them as the
  layer does (concat, sum, ave, mul, or the pair for ``merge_mode=None``). No loop is left in
  it, so the converter makes it int8 directly (front ends and convolutions included);
* one `Loop` per recurrent layer: a step model calling each direction's cell once
  (``forward_x`` read at step ``t``, ``backward_x`` at step ``T - 1 - t``; states
  ``<direction>_h``/``<direction>_c``), which `export.loop_graph` runs in a TFLite WHILE loop
  between the rest's ops.

The weights of each direction are stored once (in its step model); nothing grows with T.
A Keras mask reaching a recurrent layer (``Embedding(mask_zero=True)``, or ``mask=``) becomes
one more rest output, ``<layer>__mask`` (``[batch, T, 1]``, 1 at real steps), read at the
same step as ``x``: a masked step keeps the states and outputs zeros (a bidirectional layer
returning sequences) or the kept output, as Keras' masked loop; the merged output carries
the mask on to the layers after it. With ``return_state`` the loop's final states are rest
inputs too (``<layer>__<direction>_h``, ...). Refused (`LoopFormError`, the export then falls
back to an unrolled int8 graph): ``initial_state``, ``stateful``, a lone ``go_backwards``
layer, recurrent layers inside other layers (`zoo.layers.RecurrentStack`), an open time axis,
and a recurrent layer that reads a batch of another size (after a layer with ``folds_batch``,
such as `zoo.ner.WordsAsBatch`, and before one with ``unfolds_batch``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from export.step import (
    _functional,
    _state_shapes,
    input_names,
    output_names,
    runnable_nodes,
)
from zoo.errors import RnnzooError

DIRECTIONS = ("forward", "backward")
INPUT_SUFFIX = "__input"


class LoopFormError(RnnzooError, ValueError):
    """The model has no loop form (the message says which layer and why)."""


class _CellCall(keras.layers.Layer):
    """Calls a recurrent cell once (the step model of one direction). With ``keep`` (``[batch,
    1]``, 1 at real steps, 0 at masked ones) masked steps keep the states and output zeros
    (``zero_output``) or the kept output, the previous step's, as Keras' masked loop does."""

    def __init__(self, cell: keras.layers.Layer, zero_output: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.cell, self.zero_output = cell, zero_output

    def call(self, inputs, states, keep=None):
        y, new = self.cell(inputs, states, training=False)
        new = list(new) if isinstance(new, (list, tuple)) else [new]
        if keep is None:
            return y, new
        real = keras.ops.greater(keep, 0.5)
        new = [keras.ops.where(real, n, old) for n, old in zip(new, states)]
        # the cells loop here (SimpleRNN, LSTM, GRU) output their h state
        y = keras.ops.where(real, y, keras.ops.zeros_like(y)) if self.zero_output else new[0]
        return y, new


class _WithMask(keras.layers.Layer):
    """``[x, mask]`` -> ``x`` carrying ``mask`` as its Keras mask (a merged loop output gets
    the mask a Bidirectional layer returning sequences passes on)."""

    def call(self, inputs):
        return inputs[0]

    def compute_mask(self, inputs, mask=None):
        return keras.ops.cast(inputs[1], "bool")

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@dataclass
class Loop:
    """One recurrent layer cut out of the model.

    Attributes:
        name: the layer's name; the rest's tensors are ``<name>__input`` (what the layer
            reads) and ``<name>__<direction>`` (what each direction returns).
        layers: the recurrent layer of each direction (``forward``, then ``backward``).
        return_sequences: whether the directions return sequences (else the last output).
        length: the time length T.
        step: a Keras model of one step: inputs ``<direction>_x`` and the states, outputs
            ``<direction>`` (the cell's output) and the next states.
        states: state name -> shape (without the batch axis), in the step model's order.
    """

    name: str
    layers: list
    return_sequences: bool
    length: int
    step: keras.Model
    states: dict[str, tuple[int, ...]] = field(default_factory=dict)
    masked: bool = False
    return_state: bool = False

    @property
    def directions(self) -> list[str]:
        return list(DIRECTIONS[:len(self.layers)])

    @property
    def input_name(self) -> str:
        return self.name + INPUT_SUFFIX

    @property
    def mask_name(self) -> str:
        """The rest's output holding the layer's mask, ``[batch, T, 1]`` float (1 = real)."""
        return self.name + "__mask"

    @property
    def sequences(self) -> dict[str, str]:
        """What the loop reads at each step: ``{"x": rest output, "mask": rest output}``."""
        found = {"x": self.input_name}
        if self.masked:
            found["mask"] = self.mask_name
        return found

    def output_name(self, direction: str) -> str:
        return f"{self.name}__{direction}"

    def state_name(self, state: str) -> str:
        """The rest's input holding a final state (layers with ``return_state``)."""
        return f"{self.name}__{state}"

    @property
    def signature(self) -> str:
        return f"loop_{self.name}"

    @property
    def step_inputs(self) -> list[str]:
        """The step model's inputs in order: ``<direction>_x`` (and ``<direction>_mask``),
        then the states."""
        return [f"{d}_{k}" for d in self.directions for k in self.sequences] + list(self.states)

    def step_function(self, *, batch_size: int | None = None):
        """``tf.function`` of the step model: named inputs -> dict of named outputs."""
        names = self.step_inputs
        by_name = dict(zip(input_names(self.step), self.step.inputs))
        specs = [tf.TensorSpec([batch_size, *by_name[n].shape[1:]], tf.float32, name=n)
                 for n in names]

        def run_step(*args):
            return dict(self.step(dict(zip(names, args)), training=False))

        return tf.function(run_step, input_signature=specs, autograph=False)

    def run(self, x: np.ndarray, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """What each direction returns on ``x`` ``[N, T, F]`` (``mask`` ``[N, T, 1]``, 1 at
        real steps), by the Keras layers."""
        result = {}
        kwargs = {} if mask is None else {"mask": mask[..., 0] > 0.5}
        states = iter(self.states)
        for direction, layer in zip(self.directions, self.layers):
            y = layer(x, training=False, **kwargs)
            if self.return_state:
                y, *finals = y
                for final in finals:
                    result[self.state_name(next(states))] = np.asarray(final)
            y = np.asarray(y)
            if direction == "backward" and self.return_sequences:
                y = y[:, ::-1]  # Keras returns the backward direction in reading order
            result[self.output_name(direction)] = y
        return result


@dataclass
class LoopForm:
    """A model as its rest and its loops (see the module docstring)."""

    rest: keras.Model
    loops: list[Loop]

    @property
    def steps(self) -> str:
        """The loops' lengths, for notes: ``64`` or ``64, 32``."""
        return ", ".join(str(n) for n in dict.fromkeys(loop.length for loop in self.loops))

    def calibration(self, sequences: dict[str, np.ndarray], *, max_samples: int = 1000,
                    batch: int = 64) -> dict[str, dict[str, np.ndarray]]:
        """int8 calibration data from the float model on ``sequences`` (``{model input:
        [N, T, ...]}``): ``{"rest": {rest input: [N, ...]}, <loop signature>: {step input:
        [M, ...]}}``. Loops are computed in graph order: each loop's input comes from the rest
        given the outputs of the loops before it."""
        n = len(next(iter(sequences.values())))
        known = dict(sequences)
        result: dict[str, dict[str, np.ndarray]] = {}
        for loop in self.loops:
            read = {k: self._rest_output(known, name, n, batch)
                    for k, name in loop.sequences.items()}
            outputs = {}
            for start in range(0, n, batch):
                chunk = {k: v[start:start + batch] for k, v in read.items()}
                for name, y in loop.run(chunk["x"], chunk.get("mask")).items():
                    outputs.setdefault(name, []).append(y)
            known.update({name: np.concatenate(parts) for name, parts in outputs.items()})
            result[loop.signature] = step_samples(loop, read, max_samples=max_samples)
        result["rest"] = {name: known[name] for name in input_names(self.rest)}
        return result

    def _rest_output(self, known: dict[str, np.ndarray], output: str, n: int,
                     batch: int) -> np.ndarray:
        feed = {}
        for name, tensor in zip(input_names(self.rest), self.rest.inputs):
            feed[name] = known.get(name)
            if feed[name] is None:  # a later loop's output: not read by this one's input
                feed[name] = np.zeros((n, *tensor.shape[1:]),
                                      keras.backend.standardize_dtype(tensor.dtype))
        parts = []
        for start in range(0, n, batch):
            chunk = {k: v[start:start + batch] for k, v in feed.items()}
            parts.append(np.asarray(self.rest(chunk, training=False)[output]))
        return np.concatenate(parts)


def step_samples(loop: Loop, sequences: dict[str, np.ndarray], *,
                 max_samples: int = 1000) -> dict[str, np.ndarray]:
    """(input step, states) samples that the float step model of ``loop`` reaches on
    ``sequences`` (``{"x": [N, T, F], "mask": [N, T, 1]}``; forward reads step t, backward
    step T - 1 - t), at most ``max_samples``, evenly spread over sequences and time."""
    run = loop.step_function()
    n, length = sequences["x"].shape[:2]
    states = {s: np.zeros((n, *shape), np.float32) for s, shape in loop.states.items()}
    names = loop.step_inputs
    recorded: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for t in range(length):
        feed = {f"{d}_{k}": v[:, t if d == "forward" else length - 1 - t]
                for d in loop.directions for k, v in sequences.items()}
        feed.update(states)
        for name in names:
            recorded[name].append(feed[name])
        outputs = run(*[feed[name] for name in names])
        states = {s: outputs[s].numpy() for s in loop.states}
    total = n * length
    keep = np.unique(np.linspace(0, total - 1, num=min(total, max_samples)).round().astype(int))
    return {name: np.concatenate(values)[keep] for name, values in recorded.items()}


def _state_kinds(cell, count: int) -> list[str]:
    if count == 2 and type(cell).__name__.endswith("LSTMCell"):
        return ["h", "c"]
    return ["h"] + [f"s{j}" for j in range(1, count)]


def _step_model(name: str, layers: list, features: int,
                masked: bool) -> tuple[keras.Model, dict]:
    inputs, outputs, states = {}, {}, {}
    for direction, layer in zip(DIRECTIONS, layers):
        cell = layer.cell
        shapes = _state_shapes(cell)
        if any(len(s) != 1 for s in shapes):
            raise LoopFormError(f"layer {name!r}: only vector states loop (got {shapes})")
        x = keras.Input((features,), name=f"{direction}_x")
        inputs[f"{direction}_x"] = x
        keep = None
        if masked:
            keep = inputs[f"{direction}_mask"] = keras.Input((1,), name=f"{direction}_mask")
        state_inputs = []
        for kind, shape in zip(_state_kinds(cell, len(shapes)), shapes):
            state_name = f"{direction}_{kind}"
            states[state_name] = shape
            state_inputs.append(keras.Input(shape, name=state_name))
            inputs[state_name] = state_inputs[-1]
        call = _CellCall(cell, zero_output=bool(getattr(layer, "zero_output_for_mask", False)),
                         name=f"{name}_{direction}_cell")
        y, new = call(x, state_inputs, keep) if masked else call(x, state_inputs)
        outputs[direction] = y
        outputs.update(zip([f"{direction}_{k}" for k in _state_kinds(cell, len(shapes))], new))
    kinds = ["x", "mask"] if masked else ["x"]
    ordered = {f"{d}_{k}": inputs[f"{d}_{k}"] for d in DIRECTIONS[:len(layers)] for k in kinds}
    ordered.update({n: inputs[n] for n in states})
    return keras.Model(ordered, outputs, name=f"{name}_loop_step"), states


class _Cutter:
    """Replays a functional graph with its recurrent layers cut out (see `loop_form`)."""

    def __init__(self):
        self.folded: set[int] = set()  # ids of values whose batch is not the model's
        self.loops: list[Loop] = []
        self.loop_inputs: dict[str, object] = {}   # rest inputs made for loop outputs
        self.loop_outputs: dict[str, object] = {}  # rest outputs: what each loop reads

    def cut(self, op, x, kwargs):
        label = f"layer {op.name!r}"
        mask = kwargs.get("mask")
        if mask is None:
            mask = getattr(x, "_keras_mask", None)
        if kwargs.get("initial_state") is not None:
            raise LoopFormError(f"{label} is given an initial_state")
        if isinstance(op, keras.layers.Bidirectional):
            layers, merge = [op.forward_layer, op.backward_layer], op.merge_mode
        else:
            layers, merge = [op], None
            if op.go_backwards:
                raise LoopFormError(f"{label} runs backwards alone (go_backwards=True)")
        for layer in layers:
            if not isinstance(layer, keras.layers.RNN):
                raise LoopFormError(f"{label} wraps {type(layer).__name__}, not a Keras RNN")
            if layer.stateful:
                raise LoopFormError(f"{label} is stateful")
        shape = tuple(x.shape)
        if len(shape) != 3 or shape[2] is None:
            raise LoopFormError(f"{label} reads shape {shape}; loops need [batch, time, "
                                "features]")
        if shape[1] is None:
            raise LoopFormError(f"{label} reads an open time axis; loops need one fixed "
                                "length (length=...)")
        length = int(shape[1])
        step, states = _step_model(op.name, layers, int(shape[2]), mask is not None)
        sequences = bool(layers[0].return_sequences)
        loop = Loop(name=op.name, layers=layers, return_sequences=sequences,
                    length=length, step=step, states=states, masked=mask is not None,
                    return_state=bool(op.return_state))
        self.loops.append(loop)
        self.loop_outputs[loop.input_name] = x
        if mask is not None:
            self.loop_outputs[loop.mask_name] = keras.ops.expand_dims(
                keras.ops.cast(mask, "float32"), -1)
        returned = []
        for direction, layer in zip(loop.directions, layers):
            units = int(getattr(layer.cell, "output_size", None) or layer.cell.units)
            y = keras.Input((length, units) if sequences else (units,),
                            name=loop.output_name(direction))
            self.loop_inputs[loop.output_name(direction)] = y
            returned.append(y)
        merged = self.merge(op.name, returned, merge)
        if mask is not None and sequences:
            # a layer returning sequences passes its input's mask on (Keras' compute_mask)
            flat = keras.tree.flatten(merged)
            carried = [_WithMask(name=f"{op.name}__with_mask_{i}")([y, mask])
                       for i, y in enumerate(flat)]
            merged = carried if isinstance(merged, list) else carried[0]
        if not loop.return_state:
            return merged
        finals = []  # Keras' order: the forward layer's states, then the backward one's
        for state, shape in states.items():
            finals.append(keras.Input(shape, name=loop.state_name(state)))
            self.loop_inputs[loop.state_name(state)] = finals[-1]
        return [*keras.tree.flatten(merged), *finals]

    @staticmethod
    def merge(name: str, returned: list, merge):
        if len(returned) == 1:
            return returned[0]
        if merge == "concat":
            return keras.layers.Concatenate(axis=-1, name=f"{name}__concat")(returned)
        if merge == "sum":
            return keras.layers.Add(name=f"{name}__sum")(returned)
        if merge == "ave":
            return keras.layers.Average(name=f"{name}__ave")(returned)
        if merge == "mul":
            return keras.layers.Multiply(name=f"{name}__mul")(returned)
        if merge is None:
            return returned
        raise LoopFormError(f"layer {name!r}: unknown merge_mode {merge!r}")

    def run(self, model: keras.Model, inputs: list) -> list:
        graph = _functional(model)
        values = {id(k): v for k, v in zip(graph.inputs, inputs)}
        for node in runnable_nodes(graph, values):
            op = node.operation
            tensors = {id(t): values[id(t)] for t in node.arguments.keras_tensors}
            args, kwargs = node.arguments.fill_in(tensors)
            kwargs.pop("training", None)
            folded = any(id(values[id(t)]) in self.folded
                         for t in node.arguments.keras_tensors)
            if isinstance(op, (keras.layers.Bidirectional, keras.layers.RNN)):
                if folded:
                    raise LoopFormError(
                        f"layer {op.name!r} reads a batch of another size than the model's "
                        f"(an earlier layer folds another axis into the batch)")
                outputs = self.cut(op, args[0], kwargs)
            elif isinstance(op, keras.Model) and hasattr(op, "_nodes_by_depth"):
                outputs = self.run(op, keras.tree.flatten(args))
            else:
                outputs = op(*args, **kwargs)
            if getattr(op, "folds_batch", False):
                folded = True
            elif getattr(op, "unfolds_batch", False):
                folded = False
            for ref, value in zip(node.outputs, keras.tree.flatten(outputs)):
                values[id(ref)] = value
                if folded:
                    self.folded.add(id(value))
        return [values[id(t)] for t in graph.outputs]


def loop_form(model: keras.Model, *, length: int | None = None) -> LoopForm:
    """The `LoopForm` of ``model`` (an open time axis of its inputs fixed at ``length``), or
    `LoopFormError` saying why it has none."""
    graph = _functional(model)
    inputs = []
    for name, tensor in zip(input_names(model), graph.inputs):
        shape = list(tensor.shape[1:])
        if length is not None and len(shape) > 1 and shape[0] is None:
            shape[0] = length
        inputs.append(keras.Input(tuple(shape), dtype=tensor.dtype, name=name))
    cutter = _Cutter()
    outputs = cutter.run(model, inputs)
    struct = getattr(graph, "_outputs_struct", None)
    if isinstance(struct, dict):  # by key: the flattened outputs need not follow the keys
        by_tensor = {id(t): value for t, value in zip(graph.outputs, outputs)}
        result = {key: by_tensor[id(tensor)] for key, tensor in struct.items()}
    else:
        result = dict(zip(output_names(model), outputs))
    clash = set(result) & set(cutter.loop_outputs)
    if clash:
        raise LoopFormError(f"model {model.name!r}: output name(s) {sorted(clash)} clash")
    result.update(cutter.loop_outputs)
    rest_inputs = {name: t for name, t in zip(input_names(model), inputs)}
    rest_inputs.update(cutter.loop_inputs)
    rest = keras.Model(rest_inputs, result, name=f"{model.name}_rest")
    left = [layer.name for layer in rest._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.RNN)]
    if left:
        raise LoopFormError(f"model {model.name!r}: recurrent layer(s) {', '.join(left)} sit "
                            "inside other layers and cannot be cut out")
    if not cutter.loops:
        raise LoopFormError(f"model {model.name!r} has no recurrent layer to loop")
    return LoopForm(rest=rest, loops=cutter.loops)
