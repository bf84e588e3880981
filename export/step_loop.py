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
step ``i`` of the input sequence, and the state outputs fed back as loop variables (starting
as zeros made by FILL). The step model is converted with float input/output tensors, so each
state crosses the loop boundary as a float (QUANTIZE at the top of the body, DEQUANTIZE at its
end: exact for the int8 value, and it lets the state output's scale differ from the state
input's). The file stays as small as the step model (weights are stored once) and the loop
runs with builtin ops only.

Outputs of the step model marked as per-step (the model returned sequences) are written into a
``[1, T, ...]`` loop variable with DYNAMIC_UPDATE_SLICE; the others are the value of the last
step. The length is fixed (``length``); the batch is the step model's, fixed or dynamic (then
the zero states take the batch of the input with SHAPE, GATHER and CONCATENATION).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from tensorflow.lite.python import schema_py_generated as fb
from tensorflow.lite.tools import flatbuffer_utils

_FLOAT32, _INT32, _BOOL = fb.TensorType.FLOAT32, fb.TensorType.INT32, fb.TensorType.BOOL


class _Graph:
    """Helpers to append tensors, buffers and operators to one subgraph of a model."""

    def __init__(self, model: fb.ModelT, subgraph: fb.SubGraphT):
        self.model, self.sg = model, subgraph
        self.sg.tensors = self.sg.tensors or []
        self.sg.operators = self.sg.operators or []

    def tensor(self, name: str, shape: list[int], dtype: int, data: np.ndarray | None = None,
               like: fb.TensorT | None = None, dynamic_batch: bool = False) -> int:
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
        if dynamic_batch and shape:
            t.shapeSignature = [-1, *shape[1:]]
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0,
           options=None, version: int = 1) -> None:
        o = fb.OperatorT()
        o.opcodeIndex = _opcode(self.model, code, version)
        o.inputs, o.outputs = list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.sg.operators.append(o)


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
    decode = lambda n: n.decode() if isinstance(n, bytes) else n  # noqa: E731
    return ({decode(m.name): m.tensorIndex for m in sig.inputs},
            {decode(m.name): m.tensorIndex for m in sig.outputs})


def loop_over_steps(step_tflite: bytes, *, length: int, input_name: str,
                    state_names: Iterable[str], sequence_outputs: Iterable[str] = (),
                    int8_io: bool = False, signature_key: str = "serving_default") -> bytes:
    """Return a TFLite sequence model that runs the step model ``length`` times.

    ``step_tflite`` is a converted step model with one signature whose inputs are
    ``input_name`` (one time step, ``[batch, ...]``) and ``state_names``, and whose outputs are
    ``state_names`` (the next states) and the model outputs. The result has one signature,
    ``signature_key``, with input ``input_name`` of shape ``[batch, length, ...]`` and the
    model outputs: ``[batch, length, ...]`` for names in ``sequence_outputs``, else the value
    after the last step. States start at zero. With ``int8_io`` the input and outputs are int8
    tensors, with the scales the step model calibrated for its input and outputs.
    """
    if length < 1:
        raise ValueError(f"length must be positive, got {length}")
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(step_tflite))
    if len(model.subgraphs) != 1:
        raise ValueError("the step model must have one subgraph (no control flow)")
    inputs, outputs = _signature_maps(model)
    states = list(state_names)
    sequence_outputs = set(sequence_outputs)
    missing = [n for n in [input_name, *states] if n not in inputs]
    missing += [n for n in [*states, *sequence_outputs] if n not in outputs]
    if missing:
        raise ValueError(f"the step model's signature lacks {', '.join(sorted(set(missing)))}")
    results = [n for n in outputs if n not in states]

    body = _Graph(model, model.subgraphs[0])
    step_tensors = body.sg.tensors
    x_step = step_tensors[inputs[input_name]]
    batch, *features = list(x_step.shape)
    signature = list(x_step.shapeSignature) if x_step.shapeSignature is not None else []
    if any(d < 0 for d in signature[1:]):
        raise ValueError("the step model must have a fixed feature shape")
    dynamic = bool(signature) and signature[0] < 0
    seq_shape = [batch, length, *features]

    def spec(index: int) -> tuple[list[int], int, fb.TensorT]:
        t = step_tensors[index]
        return list(t.shape), t.type, t

    # Loop variables: counter, input sequence, states, outputs (last value or sequence).
    loop_vars: list[tuple[str, list[int], int, fb.TensorT | None]] = [
        ("counter", [], _INT32, None),
        (input_name, seq_shape, x_step.type, x_step),
    ]
    loop_vars += [(n, *spec(inputs[n])) for n in states]
    for n in results:
        shape, dtype, like = spec(outputs[n])
        if n in sequence_outputs:
            shape = [shape[0], length, *shape[1:]]
        loop_vars.append((n, shape, dtype, like))

    # Body: GATHER step i of the sequence into the step input, the step subgraph's operators,
    # the counter increment and the per-step output updates.
    n_fixed = 2 + len(states)
    b_in = [body.tensor("counter", [], _INT32),
            body.tensor(input_name, seq_shape, x_step.type, like=x_step, dynamic_batch=dynamic)]
    b_in += [inputs[n] for n in states]
    result_inputs = [body.tensor(f"{n}_loop", shape, dtype, like=like, dynamic_batch=dynamic)
                     for (n, shape, dtype, like) in loop_vars[n_fixed:]]
    b_in += result_inputs
    one = body.tensor("one", [], _INT32, np.array(1, np.int32))
    next_counter = body.tensor("counter_next", [], _INT32)
    step_ops, body.sg.operators = body.sg.operators, []
    gather = fb.GatherOptionsT()
    gather.axis, gather.batchDims = 1, 0
    body.op(fb.BuiltinOperator.GATHER, [b_in[1], b_in[0]], [inputs[input_name]],
            fb.BuiltinOptions.GatherOptions, gather)
    body.sg.operators += step_ops
    body.op(fb.BuiltinOperator.ADD, [b_in[0], one], [next_counter],
            fb.BuiltinOptions.AddOptions, fb.AddOptionsT())
    b_out_results = []
    for n, loop_in in zip(results, result_inputs):
        if n in sequence_outputs:
            b_out_results.append(_write_step(body, n, outputs[n], loop_in, b_in[0], dynamic))
        else:
            b_out_results.append(outputs[n])
    body.sg.inputs = b_in
    body.sg.outputs = [next_counter, b_in[1], *[outputs[n] for n in states], *b_out_results]
    body.sg.name = "step_body"

    # Cond: counter < length.
    cond = _Graph(model, fb.SubGraphT())
    c_in = [cond.tensor(f"{n}_cond", shape, dtype, like=like, dynamic_batch=dynamic and i > 0)
            for i, (n, shape, dtype, like) in enumerate(loop_vars)]
    limit = cond.tensor("length", [], _INT32, np.array(length, np.int32))
    keep_going = cond.tensor("keep_going", [], _BOOL)
    cond.op(fb.BuiltinOperator.LESS, [c_in[0], limit], [keep_going],
            fb.BuiltinOptions.LessOptions, fb.LessOptionsT())
    cond.sg.inputs, cond.sg.outputs, cond.sg.name = c_in, [keep_going], "step_cond"

    # Main: zero-initialised loop variables, the WHILE op, the results.
    main = _Graph(model, fb.SubGraphT())
    if int8_io:
        x_int8 = step_tensors[_quantized_input(body, inputs[input_name])]
        m_in = main.tensor(input_name, seq_shape, fb.TensorType.INT8, like=x_int8,
                           dynamic_batch=dynamic)
        m_seq = main.tensor(f"{input_name}_float", seq_shape, x_step.type, dynamic_batch=dynamic)
        main.op(fb.BuiltinOperator.DEQUANTIZE, [m_in], [m_seq])
    else:
        m_in = m_seq = main.tensor(input_name, seq_shape, x_step.type, like=x_step,
                                   dynamic_batch=dynamic)
    init = [main.tensor("counter_init", [], _INT32, np.array(0, np.int32)), m_seq]
    zero = main.tensor("zero", [], _FLOAT32, np.array(0.0, np.float32))
    batch_of_input = _batch_vector(main, m_seq) if dynamic else None
    for n, shape, dtype, like in loop_vars[2:]:
        if dtype != _FLOAT32:
            raise ValueError(f"step tensor {n!r} is {dtype}; convert the step model with float "
                             "input and output tensors")
        # FILL at run time rather than stored zeros: the file keeps only the weights' size.
        if dynamic:
            rest = main.tensor(f"{n}_rest", [len(shape) - 1], _INT32, np.array(shape[1:], np.int32))
            dims = main.tensor(f"{n}_shape", [len(shape)], _INT32)
            concat = fb.ConcatenationOptionsT()
            concat.axis = 0
            main.op(fb.BuiltinOperator.CONCATENATION, [batch_of_input, rest], [dims],
                    fb.BuiltinOptions.ConcatenationOptions, concat)
        else:
            dims = main.tensor(f"{n}_shape", [len(shape)], _INT32, np.array(shape, np.int32))
        init.append(main.tensor(f"{n}_init", shape, dtype, dynamic_batch=dynamic))
        main.op(fb.BuiltinOperator.FILL, [dims, zero], [init[-1]], fb.BuiltinOptions.FillOptions,
                fb.FillOptionsT())
    finals = [main.tensor(f"{n}_final", shape, dtype, dynamic_batch=dynamic and i > 0)
              for i, (n, shape, dtype, _) in enumerate(loop_vars)]
    options = fb.WhileOptionsT()
    options.condSubgraphIndex, options.bodySubgraphIndex = 1, 2
    main.op(fb.BuiltinOperator.WHILE, init, finals, fb.BuiltinOptions.WhileOptions, options)
    result_tensors = finals[n_fixed:]
    if int8_io:
        quantized = []
        for n, index in zip(results, result_tensors):
            source = step_tensors[_dequantized_output(body, outputs[n])]
            out = main.tensor(n, list(main.sg.tensors[index].shape), fb.TensorType.INT8,
                              like=source, dynamic_batch=dynamic)
            main.op(fb.BuiltinOperator.QUANTIZE, [index], [out])
            quantized.append(out)
        result_tensors = quantized
    else:
        for n, index in zip(results, result_tensors):
            main.sg.tensors[index].name = n
    main.sg.inputs, main.sg.outputs, main.sg.name = [m_in], result_tensors, "main"

    model.subgraphs = [main.sg, cond.sg, body.sg]
    sig = fb.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = signature_key, 0
    sig.inputs = [_tensor_map(input_name, m_in)]
    sig.outputs = [_tensor_map(n, t) for n, t in zip(results, result_tensors)]
    model.signatureDefs = [sig]
    return flatbuffer_utils.convert_object_to_bytearray(model)


def _batch_vector(graph: _Graph, tensor: int) -> int:
    """Append SHAPE + GATHER ops giving ``[batch]`` (int32, shape [1]) of ``tensor``."""
    rank = len(graph.sg.tensors[tensor].shape)
    shape = graph.tensor("input_shape", [rank], _INT32)
    options = fb.ShapeOptionsT()
    options.outType = _INT32
    graph.op(fb.BuiltinOperator.SHAPE, [tensor], [shape], fb.BuiltinOptions.ShapeOptions, options)
    first = graph.tensor("first", [1], _INT32, np.array([0], np.int32))
    batch = graph.tensor("batch", [1], _INT32)
    gather = fb.GatherOptionsT()
    gather.axis, gather.batchDims = 0, 0
    graph.op(fb.BuiltinOperator.GATHER, [shape, first], [batch], fb.BuiltinOptions.GatherOptions,
             gather)
    return batch


def _write_step(body: _Graph, name: str, y_index: int, sequence: int, counter: int,
                dynamic: bool) -> int:
    """Append ops writing step output ``y_index`` at [:, counter] of loop variable ``sequence``."""
    y = body.sg.tensors[y_index]
    y_shape = list(y.shape)
    step_shape = [y_shape[0], 1, *y_shape[1:]]
    as_step = body.tensor(f"{name}_as_step", step_shape, y.type, like=y, dynamic_batch=dynamic)
    shape = body.tensor(f"{name}_step_shape", [len(step_shape)], _INT32,
                        np.array([-1 if dynamic else step_shape[0], *step_shape[1:]], np.int32))
    body.op(fb.BuiltinOperator.RESHAPE, [y_index, shape], [as_step],
            fb.BuiltinOptions.ReshapeOptions, fb.ReshapeOptionsT())
    zero = body.tensor(f"{name}_zero", [], _INT32, np.array(0, np.int32))
    parts = [zero, counter] + [zero] * (len(y_shape) - 1)
    index = body.tensor(f"{name}_index", [len(parts)], _INT32)
    pack = fb.PackOptionsT()
    pack.valuesCount, pack.axis = len(parts), 0
    body.op(fb.BuiltinOperator.PACK, parts, [index], fb.BuiltinOptions.PackOptions, pack)
    updated = body.tensor(f"{name}_updated", list(body.sg.tensors[sequence].shape), y.type,
                          like=y, dynamic_batch=dynamic)
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
