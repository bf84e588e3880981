"""Wrap a converted TFLite step model in a TFLite WHILE loop over the time axis.

Why this exists (tensorflow 2.21 / keras 3.15): the converter turns Keras 3 LSTM, GRU and
SimpleRNN layers into a WHILE loop, and full-integer (int8) quantization of those loops
crashes the converter process (segmentation fault, all three kinds). The alternatives we
measured:

* ``unroll=True``: converts to int8, but every time step gets its own tensors, quantization
  parameters and (long, fused) tensor names; for a 128-unit LSTM at T=100 the int8 file is
  767 kB, against 278 kB for the float32 WHILE file (names 56 %, per-step tensor and operator
  tables most of the rest; the shared int8 weights 9 %).
* the fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` path needs the Keras 2 ``api_implements``
  composite function, which Keras 3 no longer emits, and exists for LSTM only.
* a single-step model (cells with explicit state inputs and outputs) converts to full int8 at
  0.27-0.29 of float32 (128 units, per-tensor weights, see `export.tflite`).

So a full-int8 *sequence* model is assembled here from the int8 *step* model: its converted
subgraph becomes the body of a builtin WHILE loop, with a loop counter, a GATHER that takes
step ``i`` of each input sequence (a model may have several, all of one length), and the state
outputs fed back as loop variables (starting as zeros made by FILL). The step model is
converted with float input/output tensors, so each state crosses the loop boundary as a float
(QUANTIZE at the top of the body, DEQUANTIZE at its end: exact for the int8 value, and it lets
the state output's scale differ from the state input's); `export.loop_passes` later carries
such states as integers and runs a last-step head once after the loop. The file stays as
small as the step model (weights are stored once) and the loop runs with builtin ops only.

Outputs of the step model marked as per-step (the model returned sequences) are written into a
``[batch, T, ...]`` loop variable with DYNAMIC_UPDATE_SLICE; the others are the value of the
last step. The length is fixed (``length``) or open (``length=None``: the loop runs over the
time axis of whatever it is given, read with SHAPE at run time); the batch is the step model's,
fixed or dynamic. Zero states and per-step outputs take their open dimensions from the input's
shape (SHAPE, GATHER, CONCATENATION).

The file has three subgraphs: ``main`` (zero-initialised loop variables, the WHILE op, the
results), ``step_cond`` (counter < length) and ``step_body`` (the step model's operators between
a GATHER of step ``i`` and the updates of the loop variables).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from tensorflow.lite.python import schema_py_generated as fb
from tensorflow.lite.tools import flatbuffer_utils

from export.tflite_file import as_text

_FLOAT32, _INT32, _BOOL = fb.TensorType.FLOAT32, fb.TensorType.INT32, fb.TensorType.BOOL
_BATCH, _TIME = 0, 1


class _Graph:
    """Helpers to append tensors, buffers and operators to one subgraph of a model."""

    def __init__(self, model: fb.ModelT, subgraph: fb.SubGraphT):
        self.model, self.sg = model, subgraph
        self.sg.tensors = self.sg.tensors or []
        self.sg.operators = self.sg.operators or []

    def tensor(self, name: str, shape: list[int], dtype: int, data: np.ndarray | None = None,
               like: fb.TensorT | None = None, open_axes: Iterable[int] = ()) -> int:
        """Append a tensor (a constant when ``data`` is given) and return its index.

        ``like``: take its quantization parameters. ``open_axes``: axes of unknown size
        (``-1`` in the shape signature; ``shape`` then holds a placeholder there).
        """
        buffer = 0
        if data is not None:
            self.model.buffers.append(fb.BufferT())
            self.model.buffers[-1].data = np.frombuffer(np.ascontiguousarray(data).tobytes(),
                                                        dtype=np.uint8)
            buffer = len(self.model.buffers) - 1
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), dtype, buffer
        if like is not None:
            t.quantization = like.quantization
        open_axes = [a for a in open_axes if a < len(shape)]
        if open_axes:
            t.shapeSignature = [-1 if a in open_axes else d for a, d in enumerate(shape)]
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def constant(self, name: str, value, dtype: int = _INT32) -> int:
        array = np.asarray(value, np.int32 if dtype == _INT32 else np.float32)
        return self.tensor(name, list(array.shape), dtype, array)

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0,
           options=None, version: int = 1) -> None:
        o = fb.OperatorT()
        o.opcodeIndex = _opcode(self.model, code, version)
        o.inputs, o.outputs = list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.sg.operators.append(o)

    def gather(self, params: int, indices: int, output: int, axis: int) -> None:
        options = fb.GatherOptionsT()
        options.axis, options.batchDims = axis, 0
        self.op(fb.BuiltinOperator.GATHER, [params, indices], [output],
                fb.BuiltinOptions.GatherOptions, options)

    def shape_of(self, tensor: int, name: str) -> int:
        """Append a SHAPE op: the int32 shape vector of ``tensor``."""
        rank = len(self.sg.tensors[tensor].shape)
        shape = self.tensor(name, [rank], _INT32)
        options = fb.ShapeOptionsT()
        options.outType = _INT32
        self.op(fb.BuiltinOperator.SHAPE, [tensor], [shape], fb.BuiltinOptions.ShapeOptions,
                options)
        return shape


def _opcode(model: fb.ModelT, code: int, version: int) -> int:
    for index, oc in enumerate(model.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code and not oc.customCode:
            oc.version = max(oc.version, version)
            return index
    oc = fb.OperatorCodeT()
    oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), version
    model.operatorCodes.append(oc)
    return len(model.operatorCodes) - 1


def _signature_maps(model: fb.ModelT) -> tuple[dict[str, int], dict[str, int]]:
    if not model.signatureDefs or len(model.signatureDefs) != 1:
        raise ValueError("the step model must have exactly one signature")
    sig = model.signatureDefs[0]
    return ({as_text(m.name): m.tensorIndex for m in sig.inputs},
            {as_text(m.name): m.tensorIndex for m in sig.outputs})


@dataclass
class _LoopVar:
    """One loop variable of the WHILE op (the same in main, cond and body)."""

    name: str
    shape: list[int]
    dtype: int
    like: fb.TensorT | None = None
    open_axes: tuple[int, ...] = ()


@dataclass
class _Loop:
    """What the three subgraphs are built from: the step model's signature and loop variables.

    Loop variables, in order: the counter, the input sequences, the states, then the results
    (the step model's other outputs: a whole sequence for ``sequence_outputs``, else the value
    of the last step).
    """

    model: fb.ModelT
    inputs: dict[str, int]
    outputs: dict[str, int]
    input_names: list[str]
    states: list[str]
    results: list[str]
    sequence_outputs: set[str]
    length: int | None
    open_batch: bool
    variables: list[_LoopVar] = field(default_factory=list)

    @property
    def n_sequences(self) -> int:
        return len(self.input_names)

    @property
    def n_fixed(self) -> int:
        """Loop variables before the results: counter, sequences, states."""
        return 1 + self.n_sequences + len(self.states)


def _plan_loop(model: fb.ModelT, length: int | None, input_names: list[str], states: list[str],
               sequence_outputs: set[str]) -> _Loop:
    if len(model.subgraphs) != 1:
        raise ValueError("the step model must have one subgraph (no control flow)")
    if not input_names:
        raise ValueError("the step model needs at least one input besides the states")
    inputs, outputs = _signature_maps(model)
    missing = [n for n in [*input_names, *states] if n not in inputs]
    missing += [n for n in [*states, *sequence_outputs] if n not in outputs]
    if missing:
        raise ValueError(f"the step model's signature lacks {', '.join(sorted(set(missing)))}")
    tensors = model.subgraphs[0].tensors
    x_steps = [tensors[inputs[n]] for n in input_names]
    signature = []
    for x_step in x_steps:
        signature = list(x_step.shapeSignature) if x_step.shapeSignature is not None else []
        if any(d < 0 for d in signature[1:]):
            raise ValueError("the step model must have a fixed feature shape")
    loop = _Loop(model=model, inputs=inputs, outputs=outputs, input_names=list(input_names),
                 states=states, results=[n for n in outputs if n not in states],
                 sequence_outputs=sequence_outputs, length=length,
                 open_batch=bool(signature) and signature[0] < 0)
    batch_axes = (_BATCH,) if loop.open_batch else ()
    sequence_axes = batch_axes + (() if length is not None else (_TIME,))

    def as_sequence(shape: list[int]) -> list[int]:
        return [shape[0], length or 1, *shape[1:]]

    loop.variables = [_LoopVar("counter", [], _INT32)]
    loop.variables += [_LoopVar(n, as_sequence(list(x.shape)), x.type, x, sequence_axes)
                       for n, x in zip(input_names, x_steps)]
    loop.variables += [_LoopVar(n, list(tensors[inputs[n]].shape), tensors[inputs[n]].type,
                                tensors[inputs[n]], batch_axes) for n in states]
    for n in loop.results:
        t = tensors[outputs[n]]
        if n in sequence_outputs:
            loop.variables.append(_LoopVar(n, as_sequence(list(t.shape)), t.type, t,
                                           sequence_axes))
        else:
            loop.variables.append(_LoopVar(n, list(t.shape), t.type, t, batch_axes))
    return loop


def _build_body(loop: _Loop) -> _Graph:
    """The step subgraph between a GATHER of step ``counter`` and the loop-variable updates."""
    body = _Graph(loop.model, loop.model.subgraphs[0])
    sequences = [body.tensor(v.name, v.shape, v.dtype, like=v.like, open_axes=v.open_axes)
                 for v in loop.variables[1:1 + loop.n_sequences]]
    b_in = [body.tensor("counter", [], _INT32), *sequences]
    b_in += [loop.inputs[n] for n in loop.states]
    result_inputs = [body.tensor(f"{v.name}_loop", v.shape, v.dtype, like=v.like,
                                 open_axes=v.open_axes)
                     for v in loop.variables[loop.n_fixed:]]
    b_in += result_inputs
    step_ops, body.sg.operators = body.sg.operators, []
    for name, sequence in zip(loop.input_names, sequences):
        body.gather(sequence, b_in[0], loop.inputs[name], axis=_TIME)
    body.sg.operators += step_ops
    next_counter = body.tensor("counter_next", [], _INT32)
    body.op(fb.BuiltinOperator.ADD, [b_in[0], body.constant("one", 1)], [next_counter],
            fb.BuiltinOptions.AddOptions, fb.AddOptionsT())
    results = []
    for n, loop_in in zip(loop.results, result_inputs):
        if n in loop.sequence_outputs:
            results.append(_write_step(body, n, loop.outputs[n], loop_in, b_in[0],
                                       open_batch=loop.open_batch))
        else:
            results.append(loop.outputs[n])
    body.sg.inputs = b_in
    body.sg.outputs = [next_counter, *sequences, *[loop.outputs[n] for n in loop.states],
                       *results]
    body.sg.name = "step_body"
    return body


def _build_cond(loop: _Loop) -> _Graph:
    """``counter < length``; an open length is the (first) input sequence's time axis."""
    cond = _Graph(loop.model, fb.SubGraphT())
    c_in = [cond.tensor(f"{v.name}_cond", v.shape, v.dtype, like=v.like, open_axes=v.open_axes)
            for v in loop.variables]
    if loop.length is not None:
        limit = cond.constant("length", loop.length)
    else:
        limit = cond.tensor("length", [], _INT32)
        cond.gather(cond.shape_of(c_in[1], "sequence_shape"), cond.constant("time_axis", _TIME),
                    limit, axis=0)
    keep_going = cond.tensor("keep_going", [], _BOOL)
    cond.op(fb.BuiltinOperator.LESS, [c_in[0], limit], [keep_going],
            fb.BuiltinOptions.LessOptions, fb.LessOptionsT())
    cond.sg.inputs, cond.sg.outputs, cond.sg.name = c_in, [keep_going], "step_cond"
    return cond


def _zeros(main: _Graph, var: _LoopVar, input_shape: int | None, zero: int) -> int:
    """Append ops making the zero initial value of ``var``: FILL at run time rather than stored
    zeros, so the file keeps only the weights' size. A variable with open axes takes its leading
    dimensions (batch, and time for sequences) from the input sequence's shape (``input_shape``,
    its SHAPE vector): they are the same there."""
    if var.dtype != _FLOAT32:
        raise ValueError(f"step tensor {var.name!r} is {var.dtype}; convert the step model with "
                         "float input and output tensors")
    if var.open_axes:
        lead = max(var.open_axes) + 1
        taken = main.tensor(f"{var.name}_lead_dims", [lead], _INT32)
        main.gather(input_shape, main.constant(f"{var.name}_lead_axes", list(range(lead))),
                    taken, axis=0)
        rest = main.constant(f"{var.name}_rest", var.shape[lead:])
        dims = main.tensor(f"{var.name}_shape", [len(var.shape)], _INT32)
        concat = fb.ConcatenationOptionsT()
        concat.axis = 0
        main.op(fb.BuiltinOperator.CONCATENATION, [taken, rest], [dims],
                fb.BuiltinOptions.ConcatenationOptions, concat)
    else:
        dims = main.constant(f"{var.name}_shape", var.shape)
    init = main.tensor(f"{var.name}_init", var.shape, var.dtype, open_axes=var.open_axes)
    main.op(fb.BuiltinOperator.FILL, [dims, zero], [init], fb.BuiltinOptions.FillOptions,
            fb.FillOptionsT())
    return init


def _build_main(loop: _Loop, body: _Graph,
                int8_io: bool) -> tuple[_Graph, list[int], list[int]]:
    """Zero-initialised loop variables, the WHILE op and the results; returns the graph, its
    input tensors and its result tensors."""
    main = _Graph(loop.model, fb.SubGraphT())
    m_ins, m_seqs = [], []
    for name, sequence in zip(loop.input_names, loop.variables[1:1 + loop.n_sequences]):
        if int8_io:
            x_int8 = body.sg.tensors[_quantized_input(body, loop.inputs[name])]
            m_in = main.tensor(sequence.name, sequence.shape, fb.TensorType.INT8, like=x_int8,
                               open_axes=sequence.open_axes)
            m_seq = main.tensor(f"{sequence.name}_float", sequence.shape, sequence.dtype,
                                open_axes=sequence.open_axes)
            main.op(fb.BuiltinOperator.DEQUANTIZE, [m_in], [m_seq])
        else:
            m_in = m_seq = main.tensor(sequence.name, sequence.shape, sequence.dtype,
                                       like=sequence.like, open_axes=sequence.open_axes)
        m_ins.append(m_in)
        m_seqs.append(m_seq)
    first = loop.variables[1]
    input_shape = main.shape_of(m_seqs[0], "input_shape") if first.open_axes else None
    init = [main.constant("counter_init", 0), *m_seqs]
    zero = main.constant("zero", 0.0, _FLOAT32)
    init += [_zeros(main, v, input_shape, zero) for v in loop.variables[1 + loop.n_sequences:]]
    finals = [main.tensor(f"{v.name}_final", v.shape, v.dtype, open_axes=v.open_axes)
              for v in loop.variables]
    options = fb.WhileOptionsT()
    options.condSubgraphIndex, options.bodySubgraphIndex = 1, 2
    main.op(fb.BuiltinOperator.WHILE, init, finals, fb.BuiltinOptions.WhileOptions, options)
    results = finals[loop.n_fixed:]
    if int8_io:
        quantized = []
        for var, index in zip(loop.variables[loop.n_fixed:], results):
            source = body.sg.tensors[_dequantized_output(body, loop.outputs[var.name])]
            out = main.tensor(var.name, var.shape, fb.TensorType.INT8, like=source,
                              open_axes=var.open_axes)
            main.op(fb.BuiltinOperator.QUANTIZE, [index], [out])
            quantized.append(out)
        results = quantized
    else:
        for var, index in zip(loop.variables[loop.n_fixed:], results):
            main.sg.tensors[index].name = var.name
    main.sg.inputs, main.sg.outputs, main.sg.name = m_ins, results, "main"
    return main, m_ins, results


def loop_over_steps(step_tflite: bytes, *, length: int | None, input_name: str | list[str],
                    state_names: Iterable[str], sequence_outputs: Iterable[str] = (),
                    int8_io: bool = False, signature_key: str = "serving_default") -> bytes:
    """Return a TFLite sequence model that runs the step model over the time axis.

    ``step_tflite`` is a converted step model with one signature whose inputs are
    ``input_name`` (one time step, ``[batch, ...]``; a list of names for a model with several
    inputs, each a sequence of the same length) and ``state_names``, and whose outputs are
    ``state_names`` (the next states) and the model outputs. The result has one signature,
    ``signature_key``, with the input(s) ``input_name`` of shape ``[batch, length, ...]``
    (``length`` None: any length) and the model outputs: ``[batch, length, ...]`` for names in
    ``sequence_outputs``, else the value after the last step. States start at zero. With
    ``int8_io`` the inputs and outputs are int8 tensors, with the scales the step model
    calibrated for its inputs and outputs.
    """
    if length is not None and length < 1:
        raise ValueError(f"length must be positive, got {length}")
    names = [input_name] if isinstance(input_name, str) else list(input_name)
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(step_tflite))
    loop = _plan_loop(model, length, names, list(state_names), set(sequence_outputs))
    body = _build_body(loop)
    cond = _build_cond(loop)
    main, m_ins, results = _build_main(loop, body, int8_io)
    model.subgraphs = [main.sg, cond.sg, body.sg]
    sig = fb.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = signature_key, 0
    sig.inputs = [_tensor_map(n, m) for n, m in zip(names, m_ins)]
    sig.outputs = [_tensor_map(v.name, t)
                   for v, t in zip(loop.variables[loop.n_fixed:], results)]
    model.signatureDefs = [sig]
    return flatbuffer_utils.convert_object_to_bytearray(model)


def _write_step(body: _Graph, name: str, y_index: int, sequence: int, counter: int, *,
                open_batch: bool) -> int:
    """Append ops writing step output ``y_index`` at [:, counter] of loop variable ``sequence``."""
    y = body.sg.tensors[y_index]
    y_shape = list(y.shape)
    batch_axes = (_BATCH,) if open_batch else ()
    step_shape = [y_shape[0], 1, *y_shape[1:]]
    as_step = body.tensor(f"{name}_as_step", step_shape, y.type, like=y, open_axes=batch_axes)
    shape = body.constant(f"{name}_step_shape", [-1 if open_batch else step_shape[0],
                                                 *step_shape[1:]])
    body.op(fb.BuiltinOperator.RESHAPE, [y_index, shape], [as_step],
            fb.BuiltinOptions.ReshapeOptions, fb.ReshapeOptionsT())
    zero = body.constant(f"{name}_zero", 0)
    parts = [zero, counter] + [zero] * (len(y_shape) - 1)
    index = body.tensor(f"{name}_index", [len(parts)], _INT32)
    pack = fb.PackOptionsT()
    pack.valuesCount, pack.axis = len(parts), 0
    body.op(fb.BuiltinOperator.PACK, parts, [index], fb.BuiltinOptions.PackOptions, pack)
    target = body.sg.tensors[sequence]
    updated = body.tensor(f"{name}_updated", list(target.shape), y.type, like=y,
                          open_axes=[a for a, d in enumerate(target.shapeSignature or [])
                                     if d < 0])
    body.op(fb.BuiltinOperator.DYNAMIC_UPDATE_SLICE, [sequence, as_step, index], [updated],
            fb.BuiltinOptions.DynamicUpdateSliceOptions, fb.DynamicUpdateSliceOptionsT())
    return updated


def _quantized_input(body: _Graph, index: int) -> int:
    """The int8 tensor that the QUANTIZE op reading float tensor ``index`` writes."""
    for op in body.sg.operators:
        code = body.model.operatorCodes[op.opcodeIndex]
        if code.builtinCode == fb.BuiltinOperator.QUANTIZE and list(op.inputs) == [index]:
            return op.outputs[0]
    raise ValueError("int8 io needs a full-int8 step model (no QUANTIZE on its input)")


def _dequantized_output(body: _Graph, index: int) -> int:
    """The int8 tensor that the DEQUANTIZE op writing float tensor ``index`` reads."""
    for op in body.sg.operators:
        code = body.model.operatorCodes[op.opcodeIndex]
        if code.builtinCode == fb.BuiltinOperator.DEQUANTIZE and list(op.outputs) == [index]:
            return op.inputs[0]
    raise ValueError("int8 io needs a full-int8 step model (no DEQUANTIZE on its output)")


def _tensor_map(name: str, index: int) -> fb.TensorMapT:
    m = fb.TensorMapT()
    m.name, m.tensorIndex = name, index
    return m
