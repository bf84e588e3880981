"""Single-time-step models with explicit state inputs and outputs, for streaming.

`step_model(model)` replays the functional graph of a zoo model on one time step: every
recurrent layer (``SimpleRNN``, ``LSTM``, ``GRU``, ``keras.layers.RNN`` and the inner layers of
`zoo.layers.RecurrentStack`) is replaced by a call of its *cell* on explicit states, and every
other layer is called as it is, on the step's tensor, so the step model shares the original
layers and their weights. States are named ``state_h_<i>`` (and ``state_c_<i>`` for LSTM),
``i`` counting the recurrent layers in graph order; the step model's outputs are the model's
outputs plus the next states under the same names, so an app feeds each state output back
into the input of the same name.

A recurrent layer may carry ``quantized_cell_range = C`` (set by its builder): int8 files
calibrate its LSTM cell state on ``[-C, C]`` (`StepSpec.state_ranges`, used by
`export.calibration.step_calibration`), so the state's int8 scale resolves the values where
``tanh(c)`` still moves, and larger cell values saturate at about ``C``.

Which layers may act on one step: a tensor that still has its time axis (a model input, or a
recurrent layer's output with ``return_sequences=True``) may only go through layers known to
treat time steps independently (`PER_STEP_LAYERS`); a tensor whose time axis is gone (after a
recurrent layer that returns its last output) may go through any layer. A layer whose class
sets ``returns_last_step = True`` (``zoo.timeseries.LastStep``: the last time step of its
input) is the identity on one step, and its output has no time axis. Bidirectional layers,
``go_backwards`` and recurrent layers given an ``initial_state`` have no step form and raise
`StepModelError` naming the layer. Every model input is taken to be a sequence. (TFLite
conversion traces a plain ``Embedding`` as one gather of its table: `export.plain_lookups`.)

The graph walk uses Keras' functional internals (``_nodes_by_depth``, ``node.arguments``),
as ``keras.Model.call`` does; tests cover it for the Keras version pinned in constraints.txt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import keras

from export.float_layers import training_only
from zoo.errors import RnnzooError
from zoo.layers import RecurrentStack

STATE_PREFIX = "state_"

# Layers known to act on each time step independently (class names; Keras and keras.ops).
# Layers that set ``training_only = True`` (identity at inference, e.g. augmentation) or
# ``acts_per_step = True`` (zoo layers that never mix time steps) count too.
PER_STEP_LAYERS = frozenset({
    "Dense", "EinsumDense", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Masking",
    "LayerNormalization", "BatchNormalization", "UnitNormalization", "RMSNormalization",
    "Embedding", "Rescaling", "Identity", "Add", "Subtract", "Multiply", "Average", "Maximum",
    "Minimum", "Concatenate", "TimeDistributed",
    # keras.ops operations recorded in functional graphs (x + y, keras.ops.tanh(x), ...)
    "Absolute", "Divide", "TrueDivide", "Tanh", "Sigmoid", "Relu", "Negative", "Square",
    "Sqrt", "Exp", "Log", "Clip",
})


class StepModelError(RnnzooError, ValueError):
    """The model has a layer with no single-time-step form."""


@dataclass
class StepSpec:
    """What a step model takes and returns (recorded on it as ``rnnzoo_step``).

    Attributes:
        inputs: names of the per-step model inputs (as in the sequence model).
        states: state names, in order, with their widths (or shapes, for image-shaped
            states such as ConvLSTM's).
        outputs: names of the model outputs (as in the sequence model).
        sequence_outputs: the outputs that are per-step in the sequence model (it returns
            sequences for them); the others are the sequence model's output if the sequence
            ended at this step.
        length: the sequence model's time length (None if variable).
        state_ranges: states whose int8 calibration is clipped to ``[-C, C]`` (the cell
            states of layers with ``quantized_cell_range``), by name.
    """

    inputs: list[str]
    states: dict[str, int | list[int]]
    outputs: list[str]
    sequence_outputs: list[str] = field(default_factory=list)
    length: int | None = None
    state_ranges: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"inputs": self.inputs, "states": self.states, "outputs": self.outputs,
                "sequence_outputs": self.sequence_outputs, "length": self.length,
                **({"state_ranges": self.state_ranges} if self.state_ranges else {})}


def _functional(model: keras.Model) -> keras.Model:
    if isinstance(model, keras.Sequential):
        inner = getattr(model, "_functional", None)
        if inner is None:
            raise StepModelError(f"model {model.name!r}: build the Sequential model with an "
                                 "Input before exporting it")
        return inner
    if not hasattr(model, "_nodes_by_depth"):
        raise StepModelError(f"model {model.name!r} ({type(model).__name__}) is not a "
                             "functional model; step models need a functional graph")
    return model


def _state_shapes(cell) -> list[tuple[int, ...]]:
    """The shape of each state of ``cell`` without the batch axis: ``(units,)`` for the
    vector states of LSTM, GRU and SimpleRNN cells; the image-shaped states of cells whose
    ``state_size`` is not a number (ConvLSTM) are read from their initial state."""
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    if all(isinstance(s, int) and s > 0 for s in sizes):
        return [(int(s),) for s in sizes]
    return [tuple(int(d) for d in state.shape[1:])
            for state in cell.get_initial_state(batch_size=1)]


def _state_names(cell, count: int, index: int) -> list[str]:
    """``state_h_<index>`` and ``state_c_<index>`` for LSTM-like cells (LSTM, ConvLSTM),
    else ``state_h_<index>``, ``state_s1_<index>``, ..."""
    if count == 2 and type(cell).__name__.endswith("LSTMCell"):
        kinds = ["h", "c"]
    else:
        kinds = ["h"] + [f"s{j}" for j in range(1, count)]
    return [f"{STATE_PREFIX}{kind}_{index}" for kind in kinds]


class _CellStep(keras.layers.Layer):
    """Calls a recurrent cell once under a unique name (the cells of the layers of a
    `RecurrentStack` share one default name, which a functional model does not allow)."""

    def __init__(self, cell: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell

    def call(self, inputs, states):
        return self.cell(inputs, states, training=False)


def runnable_nodes(graph: keras.Model, values: dict) -> Iterator:
    """The operation nodes of a functional ``graph``, deepest first, whose input tensors all
    have a value in ``values`` (keyed by ``id`` of the Keras tensor). A generator: the check
    of each node sees the values the caller added for the nodes before it."""
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if not node.operation or node.is_input:
                continue
            if any(id(t) not in values for t in node.arguments.keras_tensors):
                continue
            yield node


class _Replay:
    """Rebuilds a functional graph on one time step (see the module docstring)."""

    def __init__(self):
        self.state_inputs: dict[str, Any] = {}
        self.state_outputs: dict[str, Any] = {}
        self.state_sizes: dict[str, int | list[int]] = {}
        self.state_ranges: dict[str, float] = {}
        self.count = 0

    # -- recurrent layers ------------------------------------------------------------------
    def cell_step(self, layer: keras.layers.Layer, x):
        if isinstance(layer, keras.layers.Bidirectional):
            raise StepModelError(f"layer {layer.name!r} is bidirectional: it needs the whole "
                                 "sequence, so the model has no step form")
        if not isinstance(layer, keras.layers.RNN):
            raise StepModelError(f"layer {layer.name!r} ({type(layer).__name__}) is not a "
                                 "recurrent layer with a cell")
        if layer.go_backwards:
            raise StepModelError(f"layer {layer.name!r} runs backwards (go_backwards=True): "
                                 "no step form")
        cell = layer.cell
        shapes = _state_shapes(cell)
        names = _state_names(cell, len(shapes), self.count)
        self.count += 1
        cell_range = getattr(layer, "quantized_cell_range", None)
        if cell_range is not None:
            cell_states = [n for n in names if n.startswith(f"{STATE_PREFIX}c_")]
            if not cell_states or not cell_range > 0:
                raise StepModelError(f"layer {layer.name!r}: quantized_cell_range needs an "
                                     f"LSTM cell state and a positive range, got {cell_range!r}")
            self.state_ranges.update({n: float(cell_range) for n in cell_states})
        states = []
        for name, shape in zip(names, shapes):
            tensor = keras.Input(shape=shape, name=name, dtype=x.dtype)
            self.state_inputs[name] = tensor
            self.state_sizes[name] = shape[0] if len(shape) == 1 else list(shape)
            states.append(tensor)
        output, new_states = _CellStep(cell, name=f"{layer.name}_step")(x, states)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        for name, tensor in zip(names, new_states):
            self.state_outputs[name] = tensor
        return output, new_states

    def recurrent(self, layer, x, kwargs) -> tuple[list, list[bool]]:
        if kwargs.get("initial_state") is not None:
            raise StepModelError(f"layer {layer.name!r} is given an initial_state: no step form")
        output, states = self.cell_step(layer, x)
        per_step = bool(layer.return_sequences)
        if layer.return_state:
            return [output, *states], [per_step] + [False] * len(states)
        return [output], [per_step]

    def stack(self, stack: RecurrentStack, x) -> tuple[list, list[bool]]:
        last = len(stack.layers) - 1
        for i, layer in enumerate(stack.layers):
            y, _ = self.cell_step(layer, x)
            returns_sequence = i < last or stack.return_sequences
            if stack.residual and returns_sequence and x.shape[-1] == y.shape[-1]:
                y = keras.layers.Add(name=f"{stack.name}_residual_{i}")([x, y])
            if stack.norms:
                y = stack.norms[i](y)
            x = y
        return [x], [bool(stack.return_sequences)]

    # -- the graph walk --------------------------------------------------------------------
    def run(self, model: keras.Model, inputs: list,
            per_step: list[bool]) -> tuple[list, list[bool]]:
        graph = _functional(model)
        values: dict[int, tuple[Any, bool]] = {
            id(k): (v, s) for k, v, s in zip(graph.inputs, inputs, per_step)}
        for node in runnable_nodes(graph, values):
            outputs, flags = self.node(node, values)
            for ref, value, flag in zip(node.outputs, outputs, flags):
                values[id(ref)] = (value, flag)
        results = [values[id(t)] for t in graph.outputs]
        return [v for v, _ in results], [s for _, s in results]

    def node(self, node, values) -> tuple[list, list[bool]]:
        op = node.operation
        tensors = {id(t): values[id(t)][0] for t in node.arguments.keras_tensors}
        args, kwargs = node.arguments.fill_in(tensors)
        kwargs.pop("training", None)
        kwargs.pop("mask", None)
        time_inputs = [values[id(t)][1] for t in node.arguments.keras_tensors]
        has_time = any(time_inputs)
        if isinstance(op, (RecurrentStack, keras.layers.RNN, keras.layers.Bidirectional)):
            if not has_time:
                raise StepModelError(f"recurrent layer {op.name!r} gets an input without a "
                                     "time axis: no step form")
            if isinstance(op, RecurrentStack):
                return self.stack(op, args[0])
            return self.recurrent(op, args[0], kwargs)
        if isinstance(op, keras.Model) and hasattr(op, "_nodes_by_depth"):
            flat = keras.tree.flatten(args)
            return self.run(op, flat, [values[id(t)][1] for t in node.arguments.keras_tensors])
        if has_time and getattr(op, "returns_last_step", False):
            return [args[0]], [False]  # the step's observation is the last one so far
        if has_time and not all(time_inputs):
            raise StepModelError(f"layer {op.name!r} ({type(op).__name__}) mixes a sequence "
                                 "with a tensor that has no time axis: no step form")
        if has_time:
            name = type(op).__name__
            if (name not in PER_STEP_LAYERS and not training_only(op)
                    and not getattr(op, "acts_per_step", False)):
                raise StepModelError(f"layer {op.name!r} ({name}) is not known to act on each "
                                     "time step independently: no step form")
            if isinstance(op, keras.layers.Concatenate) and op.axis not in (-1,):
                rank = len(node.outputs[0].shape)
                if op.axis != rank - 1:
                    raise StepModelError(f"layer {op.name!r} concatenates along axis "
                                         f"{op.axis}: no step form")
                op = keras.layers.Concatenate(axis=-1, name=f"{op.name}_step")
            if isinstance(op, keras.layers.TimeDistributed):
                op = op.layer
        outputs = op(*args, **kwargs)
        flat = keras.tree.flatten(outputs)
        return flat, [has_time] * len(flat)


def step_model(model: keras.Model) -> keras.Model:
    """Return the single-time-step model of ``model`` (a unidirectional recurrent model).

    Inputs: one time step of each model input (same names, without the time axis) and the
    states (``state_h_<i>``, ``state_c_<i>``). Outputs: a dict of the model outputs for this
    step and the next states under the state names. The step model shares ``model``'s layers
    and weights. Its `StepSpec` is ``step.rnnzoo_step`` (see `step_spec`). Raises
    `StepModelError` naming the layer for models without a step form.
    """
    graph = _functional(model)
    if not graph.inputs:
        raise StepModelError(f"model {model.name!r} has no inputs")
    step_inputs, lengths = [], set()
    for tensor in graph.inputs:
        shape = tuple(tensor.shape)
        if len(shape) < 2:
            raise StepModelError(f"input {tensor.name!r} has shape {shape}: a sequence input "
                                 "needs a batch and a time axis")
        lengths.add(shape[1])
        step_inputs.append(keras.Input(shape=shape[2:], name=_input_name(tensor),
                                       dtype=tensor.dtype))
    replay = _Replay()
    outputs, per_step = replay.run(model, step_inputs, [True] * len(step_inputs))
    if not replay.state_inputs:
        raise StepModelError(f"model {model.name!r} has no recurrent layer")
    names = output_names(model)
    result = dict(zip(names, outputs))
    result.update(replay.state_outputs)
    inputs = {_input_name(t): s for t, s in zip(graph.inputs, step_inputs)}
    inputs.update(replay.state_inputs)
    step = keras.Model(inputs, result, name=f"{model.name}_step")
    step.rnnzoo_step = StepSpec(
        inputs=[_input_name(t) for t in graph.inputs], states=dict(replay.state_sizes),
        outputs=names, sequence_outputs=[n for n, s in zip(names, per_step) if s],
        length=lengths.pop() if len(lengths) == 1 else None,
        state_ranges=dict(replay.state_ranges))
    return step


def step_spec(step: keras.Model) -> StepSpec:
    """The `StepSpec` of a model made by `step_model`."""
    spec = getattr(step, "rnnzoo_step", None)
    if not isinstance(spec, StepSpec):
        raise ValueError(f"{step.name!r} was not made by export.step_model()")
    return spec


def _input_name(tensor) -> str:
    history = getattr(tensor, "_keras_history", None)
    if history is not None and getattr(history, "operation", None) is not None:
        return history.operation.name
    return tensor.name


def input_names(model: keras.Model) -> list[str]:
    """Stable names of the model's inputs: the names of its Input layers."""
    return [_input_name(t) for t in _functional(model).inputs]


def output_names(model: keras.Model) -> list[str]:
    """Stable names of the model's outputs: Keras' ``output_names`` (the output layers' names)."""
    functional = _functional(model)
    struct = getattr(functional, "_outputs_struct", None)
    if isinstance(struct, dict):  # a dict of outputs: its keys, in flattening order
        return list(struct)
    names = list(getattr(model, "output_names", None) or [])
    count = len(keras.tree.flatten(functional.outputs))
    if len(names) != count or len(set(names)) != count:
        names = [f"output_{i}" for i in range(count)]
    return names


def recurrent_layers(model: keras.Model) -> Iterator[keras.layers.RNN]:
    """Every ``keras.layers.RNN`` inside ``model`` (inside wrappers and stacks too)."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.RNN):
            yield layer


@contextlib.contextmanager
def unrolled(model: keras.Model) -> Iterator[keras.Model]:
    """Within the block, every recurrent layer of ``model`` traces as an unrolled loop."""
    layers = list(recurrent_layers(model))
    saved = [layer.unroll for layer in layers]
    try:
        for layer in layers:
            layer.unroll = True
        yield model
    finally:
        for layer, value in zip(layers, saved):
            layer.unroll = value
