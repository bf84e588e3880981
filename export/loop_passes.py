"""Tidy the TFLite WHILE loops that `export.step_loop` and `export.loop_graph` build.

Those loops run step models converted with float inputs and outputs, so in an int8 (or int16x8)
file every state and every last-step result crosses the loop boundary as a float, and a
model's head runs at every step although only the last step's value is returned. `tidy_loops`
applies three rewrites that leave every computed value as it was:

1. **Duplicate results** (`_drop_duplicate`): a last-step result that is the same tensor as a
   state's next value (a recurrent layer returning its last output) is read from the state's
   final value; the loop variable goes.
2. **Integer state** (`_carry_integer`): a loop variable that the body quantizes on entry and
   dequantizes on exit carries the integer tensor instead. Where the step model quantizes
   that input with the scale and zero point of the integer value, both ops go; elsewhere
   (the step model was calibrated with another scale for the input, perhaps a deliberately
   narrower one: `quantized_cell_range`) the DEQUANTIZE moves to the top of the step, so
   the loop computes exactly what the step file computes. The loop starts from a FILL of the
   zero point (it was a FILL of 0.0) or from the start value quantized; a final value read
   after the loop is dequantized there, once. A per-step output collected into a sequence
   (DYNAMIC_UPDATE_SLICE, `_carry_sequence`) is collected as integers and dequantized once.
3. **Last-step tails** (`_hoist_tail`): the ops that compute a last-step result only from
   values the loop carries out anyway (a classifier or regression head on the last state) run
   once after the loop instead of at every step; the loop variable goes.

Then a DEQUANTIZE read only by a QUANTIZE to the same scale and zero point goes with it, ops
whose results nobody reads go, and so do unused tensors.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from tensorflow.lite.python import schema_py_generated as fb

from export.step_loop import _Graph, _opcode
from export.tflite_file import (
    builtin_code,
    per_tensor_quantization as _quantization,
    signature_tensors,
)

_OP = fb.BuiltinOperator
_INTEGER = {fb.TensorType.INT8: np.int8, fb.TensorType.INT16: np.int16}
# Ops without side effects that may be dropped when nothing reads their results.
_PURE = {_OP.FILL, _OP.CONCATENATION, _OP.GATHER, _OP.SHAPE, _OP.QUANTIZE, _OP.DEQUANTIZE,
         _OP.RESHAPE, _OP.PACK}


@dataclass
class LoopChanges:
    """How many loop variables each rewrite of `tidy_loops` changed."""

    duplicates: int = 0
    integer: int = 0
    hoisted: int = 0

    def __bool__(self) -> bool:
        return bool(self.duplicates or self.integer or self.hoisted)

    def describe(self, quantize: str) -> str:
        parts = []
        if self.integer:
            integer = "int16" if quantize == "int16x8" else quantize
            parts.append(f"{self.integer} loop variable(s) stay {integer} across steps")
        if self.hoisted:
            parts.append(f"{self.hoisted} last-step head(s) run once after the loop")
        if self.duplicates:
            parts.append(f"{self.duplicates} last-step result(s) read from the final state")
        return "; ".join(parts)


def _readers(graph: fb.SubGraphT, tensor: int) -> list[fb.OperatorT]:
    return [op for op in graph.operators if tensor in list(op.inputs)]


def _writer(graph: fb.SubGraphT, tensor: int) -> fb.OperatorT | None:
    return next((op for op in graph.operators if tensor in list(op.outputs)), None)


def _is_constant(model: fb.ModelT, tensor: fb.TensorT) -> bool:
    data = model.buffers[tensor.buffer].data if tensor.buffer else None
    return data is not None and len(data) > 0


def _becomes(tensor: fb.TensorT, like: fb.TensorT, scaled: bool = True) -> None:
    """Give ``tensor`` the type of ``like`` and, when ``scaled``, its quantization (tensors
    that only pass through WHILE or FILL need none: those ops copy bytes)."""
    tensor.type = like.type
    tensor.quantization = copy.deepcopy(like.quantization) if scaled else None


def _append(graph: fb.SubGraphT, tensor: fb.TensorT) -> int:
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _new_tensor(graph: fb.SubGraphT, like: fb.TensorT, shape_of: fb.TensorT) -> int:
    t = fb.TensorT()
    t.shape = list(shape_of.shape)
    t.shapeSignature = (None if shape_of.shapeSignature is None
                        else list(shape_of.shapeSignature))
    t.buffer = 0
    _becomes(t, like)
    return _append(graph, t)


def _op(model: fb.ModelT, code: int, inputs: list[int], outputs: list[int]) -> fb.OperatorT:
    op = fb.OperatorT()
    op.opcodeIndex = _opcode(model, code, 1)
    op.inputs, op.outputs = list(inputs), list(outputs)
    op.builtinOptionsType, op.builtinOptions = 0, None
    return op


def _rename_input(graph: fb.SubGraphT, old: int, new: int) -> None:
    for op in graph.operators:
        op.inputs = [new if t == old else t for t in op.inputs]
    graph.outputs = [new if t == old else t for t in graph.outputs]


class _While:
    """One WHILE op with its subgraphs: the graph holding it, its cond and its body."""

    def __init__(self, model: fb.ModelT, index: int, op: fb.OperatorT, keep: set[int]):
        self.model, self.index, self.op, self.keep = model, index, op, keep
        self.outer = model.subgraphs[index]
        self.body = model.subgraphs[op.builtinOptions.bodySubgraphIndex]
        self.cond = model.subgraphs[op.builtinOptions.condSubgraphIndex]
        op.inputs, op.outputs = list(op.inputs), list(op.outputs)
        for graph in (self.body, self.cond):
            graph.inputs, graph.outputs = list(graph.inputs), list(graph.outputs)

    def __len__(self) -> int:
        return len(self.op.inputs)

    def final_is_read(self, k: int) -> bool:
        final = self.op.outputs[k]
        return bool(_readers(self.outer, final)) or final in list(self.outer.outputs) \
            or final in self.keep

    def pure_result(self, k: int) -> bool:
        """Variable ``k`` is a result: its body input and cond input are read by nothing."""
        b_in, b_out = self.body.inputs[k], self.body.outputs[k]
        return (b_in != b_out and not _readers(self.body, b_in)
                and not _readers(self.cond, self.cond.inputs[k]))

    def remove(self, k: int) -> None:
        """Drop loop variable ``k`` (its final value must be read no more)."""
        for vector in (self.op.inputs, self.op.outputs, self.body.inputs, self.body.outputs,
                       self.cond.inputs):
            del vector[k]


def _drop_duplicate(loop: _While, k: int) -> bool:
    """Result ``k`` is the same tensor as another variable's next value: read that one's."""
    outputs = list(loop.body.outputs)
    if not loop.pure_result(k) or outputs.count(outputs[k]) < 2:
        return False
    j = next(j for j, t in enumerate(outputs) if t == outputs[k] and j != k)
    final_k, final_j = loop.op.outputs[k], loop.op.outputs[j]
    _rename_input(loop.outer, final_k, final_j)
    if final_k in loop.keep:  # a signature output: it names the state's final value now
        for sig in loop.model.signatureDefs or []:
            for m in sig.outputs or []:
                if sig.subgraphIndex == loop.index and m.tensorIndex == final_k:
                    m.tensorIndex = final_j
        loop.keep.discard(final_k)
        loop.keep.add(final_j)
    loop.remove(k)
    return True


def _is_float_zero_fill(model: fb.ModelT, graph: fb.SubGraphT, op: fb.OperatorT | None) -> bool:
    if op is None or builtin_code(model, op) != _OP.FILL:
        return False
    value = graph.tensors[op.inputs[1]]
    return (value.type == fb.TensorType.FLOAT32 and _is_constant(model, value)
            and len(model.buffers[value.buffer].data) == 4
            and float(np.frombuffer(bytes(model.buffers[value.buffer].data), np.float32)[0])
            == 0.0)


def _zero_point(model: fb.ModelT, graph: fb.SubGraphT, like: fb.TensorT,
                cache: dict[tuple[int, int], int]) -> int:
    """A scalar constant in ``graph`` holding the zero point of ``like`` (one per value)."""
    key = (like.type, _quantization(like)[1])
    if key not in cache:
        cache[key] = _Graph(model, graph).tensor("zero_point", [], like.type,
                                                 np.asarray(key[1], _INTEGER[like.type]))
    return cache[key]


def _loop_boundary_ok(loop: _While, k: int) -> bool:
    """Variable ``k`` can change type: cond does not read it, the WHILE op passes it once."""
    start, final = loop.op.inputs[k], loop.op.outputs[k]
    return (not _readers(loop.cond, loop.cond.inputs[k])
            and list(loop.op.inputs).count(start) == 1
            and list(loop.op.outputs).count(final) == 1)


def _integer_boundary(loop: _While, k: int, like: fb.TensorT,
                      zero_points: dict[tuple[int, int], int]) -> None:
    """Variable ``k`` enters and leaves the loop as integers quantized like ``like``: it
    starts from the zero point (or the start value quantized) and its final value, if read,
    is dequantized once after the loop."""
    model, outer = loop.model, loop.outer
    start, final = loop.op.inputs[k], loop.op.outputs[k]
    _becomes(loop.cond.tensors[loop.cond.inputs[k]], like, scaled=False)
    at = outer.operators.index(loop.op)
    fill = _writer(outer, start)
    if _is_float_zero_fill(model, outer, fill) and _readers(outer, start) == [loop.op] \
            and start not in list(outer.outputs):
        fill.inputs = [fill.inputs[0], _zero_point(model, outer, like, zero_points)]
        _becomes(outer.tensors[start], like, scaled=False)
    else:
        quantized = _new_tensor(outer, like, outer.tensors[start])
        outer.operators.insert(at, _op(model, _OP.QUANTIZE, [start], [quantized]))
        loop.op.inputs[k] = quantized
        at += 1
    if loop.final_is_read(k):
        integer = _new_tensor(outer, like, outer.tensors[final])
        loop.op.outputs[k] = integer
        outer.operators.insert(at + 1, _op(model, _OP.DEQUANTIZE, [integer], [final]))
    else:
        _becomes(outer.tensors[final], like, scaled=False)


def _dequantized(model: fb.ModelT, graph: fb.SubGraphT, tensor: int) -> fb.OperatorT | None:
    """The DEQUANTIZE op that makes float ``tensor`` from a computed integer tensor, or None."""
    op = _writer(graph, tensor)
    if op is None or builtin_code(model, op) != _OP.DEQUANTIZE:
        return None
    source = graph.tensors[op.inputs[0]]
    if source.type not in _INTEGER or _quantization(source) is None \
            or _is_constant(model, source):
        return None
    return op


def _carry_integer(loop: _While, k: int, zero_points: dict[tuple[int, int], int]) -> bool:
    """Carry loop variable ``k`` as the integer tensor its body computes."""
    model, body = loop.model, loop.body
    b_in, b_out = body.inputs[k], body.outputs[k]
    if b_in == b_out or body.tensors[b_in].type != fb.TensorType.FLOAT32:
        return False
    if list(body.outputs).count(b_out) != 1 or b_out in list(body.inputs):
        return False
    dequantize = _dequantized(model, body, b_out)
    if dequantize is None:
        return False
    source = body.tensors[dequantize.inputs[0]]
    if list(source.shape) != list(body.tensors[b_in].shape):
        return False
    quantizes = _readers(body, b_in)
    if any(builtin_code(model, op) != _OP.QUANTIZE
           or body.tensors[op.outputs[0]].type != source.type for op in quantizes):
        return False
    if not _loop_boundary_ok(loop, k):
        return False

    # body: the variable is the integer tensor; its QUANTIZE goes where the scales agree, and
    # elsewhere reads the value dequantized at the top of the step (not an int8-to-int8
    # QUANTIZE: run by XNNPACK it rounds differently from the float round trip, and moved a
    # tiny LSTM's outputs by half their int8 error)
    float_copy = None
    for op in quantizes:
        q = op.outputs[0]
        if _quantization(body.tensors[q]) == _quantization(source):
            body.operators.remove(op)
            _rename_input(body, q, b_in)
            continue
        if float_copy is None:
            float_copy = _append(body, copy.deepcopy(body.tensors[b_in]))
            body.operators.insert(body.operators.index(op),
                                  _op(model, _OP.DEQUANTIZE, [b_in], [float_copy]))
        op.inputs = [float_copy]
    _becomes(body.tensors[b_in], source)
    if not _readers(body, b_out):  # else the float value is still used in the step
        body.operators.remove(dequantize)
    body.outputs[k] = dequantize.inputs[0]
    _integer_boundary(loop, k, source, zero_points)
    return True


def _carry_sequence(loop: _While, k: int, zero_points: dict[tuple[int, int], int]) -> bool:
    """Variable ``k`` collects a per-step output (DEQUANTIZE, RESHAPE, DYNAMIC_UPDATE_SLICE
    into a float sequence): collect the integer values instead, dequantized once after the
    loop."""
    model, body = loop.model, loop.body
    b_in, b_out = body.inputs[k], body.outputs[k]
    if b_in == b_out or body.tensors[b_in].type != fb.TensorType.FLOAT32:
        return False
    update = _writer(body, b_out)
    if update is None or builtin_code(model, update) != _OP.DYNAMIC_UPDATE_SLICE \
            or update.inputs[0] != b_in or [update] != _readers(body, b_in) \
            or _readers(body, b_out) or list(body.outputs).count(b_out) != 1:
        return False
    reshape = _writer(body, update.inputs[1])
    if reshape is None or builtin_code(model, reshape) != _OP.RESHAPE \
            or _readers(body, update.inputs[1]) != [update]:
        return False
    dequantize = _dequantized(model, body, reshape.inputs[0])
    if dequantize is None or not _loop_boundary_ok(loop, k):
        return False
    source = body.tensors[dequantize.inputs[0]]
    for t in (b_in, b_out, update.inputs[1]):  # RESHAPE and the update copy integer bytes
        _becomes(body.tensors[t], source)
    reshape.inputs = [dequantize.inputs[0], *reshape.inputs[1:]]
    if not _readers(body, dequantize.outputs[0]) \
            and dequantize.outputs[0] not in list(body.outputs):
        body.operators.remove(dequantize)
    _integer_boundary(loop, k, source, zero_points)
    return True


def _tail(loop: _While, k: int) -> tuple[list[fb.OperatorT], dict[int, int]] | None:
    """The body ops that only compute result ``k``, and the tensors they read that the loop
    carries out (tensor -> loop variable); None when the result needs anything else."""
    model, body = loop.model, loop.body
    result = body.outputs[k]
    if not loop.pure_result(k) or list(body.outputs).count(result) != 1 \
            or _readers(body, result):
        return None
    carried = {t: j for j, t in enumerate(body.outputs) if j != k}
    ops: list[fb.OperatorT] = []
    frontier: dict[int, int] = {}
    stack, seen = [result], set()
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        if t in carried:
            frontier[t] = carried[t]
            continue
        if _is_constant(model, body.tensors[t]):
            continue
        writer = _writer(body, t)
        if writer is None or builtin_code(model, writer) not in _HOISTABLE:
            return None  # reads a step input or the counter, or an op we do not move
        if writer not in ops:
            ops.append(writer)
            stack.extend(i for i in writer.inputs if i >= 0)
    for op in ops:
        for out in op.outputs:
            if out != result and (out in list(body.outputs)
                                  or any(r not in ops for r in _readers(body, out))):
                return None
    return ([op for op in body.operators if op in ops], frontier) if ops else None


# Ops a last-step tail may consist of: stateless maths on their inputs.
_HOISTABLE = {_OP.FULLY_CONNECTED, _OP.ADD, _OP.SUB, _OP.MUL, _OP.TANH, _OP.LOGISTIC,
              _OP.SOFTMAX, _OP.RELU, _OP.CONCATENATION, _OP.RESHAPE, _OP.QUANTIZE,
              _OP.DEQUANTIZE, _OP.STRIDED_SLICE, _OP.SLICE, _OP.SPLIT, _OP.SPLIT_V}


def _hoist_tail(loop: _While, k: int) -> bool:
    """Run result ``k``'s tail once after the loop, on the carried-out final values."""
    found = _tail(loop, k)
    if found is None:
        return False
    ops, frontier = found
    body, outer = loop.body, loop.outer
    if any(outer.tensors[loop.op.outputs[j]].type != body.tensors[t].type
           for t, j in frontier.items()):
        return False
    mapping = {}
    for t, j in frontier.items():
        final = loop.op.outputs[j]
        # the tail reads the final value with the scale the body gave it
        outer.tensors[final].quantization = copy.deepcopy(body.tensors[t].quantization)
        mapping[t] = final
    result_final = loop.op.outputs[k]
    _becomes(outer.tensors[result_final], body.tensors[body.outputs[k]])
    mapping[body.outputs[k]] = result_final
    at = outer.operators.index(loop.op) + 1
    for op in ops:
        for t in [*op.inputs, *op.outputs]:
            if t >= 0 and t not in mapping:
                mapping[t] = _append(outer, copy.deepcopy(body.tensors[t]))
        op.inputs = [mapping[t] if t >= 0 else t for t in op.inputs]
        op.outputs = [mapping[t] for t in op.outputs]
        body.operators.remove(op)
        outer.operators.insert(at, op)
        at += 1
    loop.remove(k)  # the tail writes result_final now
    return True


def _fold_round_trips(model: fb.ModelT, graph: fb.SubGraphT, keep: set[int]) -> None:
    """DEQUANTIZE then QUANTIZE of its float result (read by nothing else) to the same scale
    and zero point: both go (other scales keep the float round trip, which is exact where an
    int8-to-int8 QUANTIZE under XNNPACK is not)."""
    for dequantize in list(graph.operators):
        if builtin_code(model, dequantize) != _OP.DEQUANTIZE:
            continue
        middle = dequantize.outputs[0]
        readers = _readers(graph, middle)
        if (len(readers) != 1 or builtin_code(model, readers[0]) != _OP.QUANTIZE
                or middle in list(graph.outputs) or middle in keep):
            continue
        source, target = dequantize.inputs[0], readers[0].outputs[0]
        if graph.tensors[source].type != graph.tensors[target].type \
                or _quantization(graph.tensors[source]) != _quantization(graph.tensors[target]) \
                or target in list(graph.outputs) or target in keep:
            continue
        graph.operators.remove(dequantize)
        graph.operators.remove(readers[0])
        _rename_input(graph, target, source)


def _drop_dead_ops(model: fb.ModelT, graph: fb.SubGraphT, keep: set[int]) -> None:
    """Remove side-effect-free ops whose results nothing reads."""
    changed = True
    while changed:
        changed = False
        read = {t for op in graph.operators for t in op.inputs} | set(graph.outputs) | keep
        for op in list(graph.operators):
            if builtin_code(model, op) in _PURE and not any(t in read for t in op.outputs):
                graph.operators.remove(op)
                changed = True


def _prune(graph: fb.SubGraphT, keep: set[int]) -> dict[int, int]:
    """Drop tensors that no op, graph input or output (or ``keep``) refers to; returns the
    old-to-new index map."""
    used = set(graph.inputs) | set(graph.outputs) | keep
    for op in graph.operators:
        used.update(t for t in [*op.inputs, *op.outputs, *(op.intermediates or [])] if t >= 0)
    order = sorted(used)
    new = {old: i for i, old in enumerate(order)}
    graph.tensors = [graph.tensors[i] for i in order]
    graph.inputs = [new[t] for t in graph.inputs]
    graph.outputs = [new[t] for t in graph.outputs]
    for op in graph.operators:
        op.inputs = [new[t] if t >= 0 else t for t in op.inputs]
        op.outputs = [new[t] if t >= 0 else t for t in op.outputs]
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = [new[t] for t in op.intermediates]
    return new


def tidy_loops(model: fb.ModelT, *, integer: bool = True) -> LoopChanges:
    """Apply the rewrites of the module docstring to every WHILE loop of ``model`` (in place;
    ``integer=False`` skips the integer-state rewrite, for float files)."""
    signatures = signature_tensors(model)
    changes = LoopChanges()
    for index, graph in enumerate(model.subgraphs):
        keep = signatures.get(index, set())
        loops = [_While(model, index, op, keep) for op in graph.operators or []
                 if builtin_code(model, op) == _OP.WHILE]
        zero_points: dict[tuple[int, int], int] = {}
        for loop in loops:
            for k in reversed(range(len(loop))):
                changes.duplicates += _drop_duplicate(loop, k)
            if integer:
                changes.integer += sum(_carry_integer(loop, k, zero_points)
                                       or _carry_sequence(loop, k, zero_points)
                                       for k in range(len(loop)))
            for k in reversed(range(len(loop))):
                changes.hoisted += _hoist_tail(loop, k)
        if loops:
            _fold_round_trips(model, graph, keep)
            _drop_dead_ops(model, graph, keep)
    if changes:
        for index, graph in enumerate(model.subgraphs):
            new = _prune(graph, signatures.get(index, set()))
            for sig in model.signatureDefs or []:
                if sig.subgraphIndex == index:
                    for m in [*(sig.inputs or []), *(sig.outputs or [])]:
                        m.tensorIndex = new[m.tensorIndex]
    return changes
