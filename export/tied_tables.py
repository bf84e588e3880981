"""One int8 copy of a tied embedding table in a TFLite file (`share_tied_tables`).

A tied embedding (`zoo.translation.TiedEmbedding`: the decoder looks its input tokens up in the
table and projects its output onto the same table) is one float32 buffer in a float file, but
the int8 quantizer makes two: the FULLY_CONNECTED weights (symmetric, zero point 0) and the
GATHER table (quantized like an activation, with its own scale and zero point, and clipped to
the range of the embeddings calibration looked up, so rarer tokens lose their larger values). For a
3,000 x 128 vocabulary that is 384 KB twice. `share_tied_tables` points such a GATHER at the
FULLY_CONNECTED's buffer and quantization (the GATHER's output takes the same parameters, as
TFLite's int8 GATHER requires), after checking that both hold the same float table within
their quantization steps (where the GATHER table is not clipped), and empties the buffer no
tensor uses any more. The shared table is the unclipped one, at the weights' step (0.0037
against 0.0031 for translate-en-fr-tatoeba).
"""

from __future__ import annotations

import copy

import numpy as np
from tensorflow.lite.python import schema_py_generated as fb

from export.tflite_file import SUBGRAPH_OPS, builtin_code, per_tensor_quantization as _per_tensor


def _constant(model: fb.ModelT, tensor) -> np.ndarray | None:
    data = model.buffers[tensor.buffer].data
    if data is None or len(data) == 0 or tensor.type != fb.TensorType.INT8:
        return None
    return np.asarray(data, np.uint8).view(np.int8).reshape(tensor.shape)


# ops that copy int8 values unchanged: their output must keep their input's scale and zero point
PASS_THROUGH = {fb.BuiltinOperator.RESHAPE, fb.BuiltinOperator.SQUEEZE,
                fb.BuiltinOperator.EXPAND_DIMS, fb.BuiltinOperator.TRANSPOSE,
                fb.BuiltinOperator.STRIDED_SLICE, fb.BuiltinOperator.SLICE,
                fb.BuiltinOperator.GATHER}


# ops whose int32 bias (input 2) is quantized with their input's scale
BIASED = {fb.BuiltinOperator.FULLY_CONNECTED, fb.BuiltinOperator.CONV_2D,
          fb.BuiltinOperator.DEPTHWISE_CONV_2D}


def _requantize(model: fb.ModelT, graph, index: int, old: tuple[float, int], new) -> bool:
    """Give tensor ``index`` the quantization ``new``, and the outputs of pass-through ops
    that read it and carried ``old``; False (nothing changed) if one of them is a subgraph
    output or the input of a control-flow op (its scale is fixed by another subgraph)."""
    chain, todo = [], [index]
    while todo:
        current = todo.pop()
        if current in list(graph.outputs):
            return False
        chain.append(current)
        for op in graph.operators:
            if current not in list(op.inputs):
                continue
            code = builtin_code(model, op)
            if code in SUBGRAPH_OPS:
                return False
            if code in PASS_THROUGH and list(op.inputs)[0] == current:
                out = op.outputs[0]
                if _per_tensor(graph.tensors[out]) == old and out not in chain:
                    todo.append(out)
    for current in chain:
        graph.tensors[current].quantization = copy.deepcopy(new)
        for op in graph.operators:  # int32 biases are quantized at input scale x weight scale
            if (builtin_code(model, op) in BIASED and list(op.inputs)[0] == current
                    and len(op.inputs) > 2 and op.inputs[2] >= 0):
                _rescale_bias(model, graph.tensors[op.inputs[2]], old[0] / float(new.scale[0]))
    return True


def _rescale_bias(model: fb.ModelT, bias, factor: float) -> None:
    """An int32 bias for an input whose scale was divided by ``factor``: the same float bias
    at the new scale (``scale * ... / factor``)."""
    if bias.type != fb.TensorType.INT32 or bias.quantization is None:
        return
    buffer = model.buffers[bias.buffer]
    values = np.asarray(buffer.data, np.uint8).view("<i4").astype(np.float64)
    buffer.data = np.frombuffer(np.rint(values * factor).astype("<i4").tobytes(), np.uint8)
    bias.quantization.scale = [float(v) / factor for v in bias.quantization.scale]


def share_tied_tables(model: fb.ModelT) -> int:
    """Make every int8 GATHER whose constant table is the same float table as a per-tensor
    int8 FULLY_CONNECTED weight of the same shape use that weight's buffer; returns the bytes
    no longer stored. The GATHER's output, and the outputs of ops that pass its values on
    unchanged (`PASS_THROUGH`), take the weight's quantization; a GATHER whose values reach a
    subgraph output or a control-flow op that way is left alone."""
    weights = []  # (values, tensor) of constant per-tensor int8 FULLY_CONNECTED weights
    for graph in model.subgraphs:
        for op in graph.operators:
            if builtin_code(model, op) == fb.BuiltinOperator.FULLY_CONNECTED and len(op.inputs) > 1:
                tensor = graph.tensors[op.inputs[1]]
                values = _constant(model, tensor)
                if values is not None and _per_tensor(tensor) and _per_tensor(tensor)[1] == 0:
                    weights.append((values, tensor))
    saved = 0
    for graph in model.subgraphs:
        for op in graph.operators:
            if builtin_code(model, op) != fb.BuiltinOperator.GATHER:
                continue
            table, output = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
            values, params = _constant(model, table), _per_tensor(table)
            if values is None or params is None or output.type != fb.TensorType.INT8:
                continue
            scale, zero = params
            floats = (values.astype(np.float32) - zero) * scale
            # the GATHER table is clipped to the range calibration saw (the embeddings of the
            # tokens it met): compare where it is not at its int8 limits
            inside = (values > -128) & (values < 127)
            for weight_values, weight in weights:
                if weight_values.shape != values.shape or weight.buffer == table.buffer:
                    continue
                weight_scale = _per_tensor(weight)[0]
                if inside.mean() < 0.5 or np.abs(weight_values * weight_scale - floats)[
                        inside].max() > scale + weight_scale:
                    continue  # another table of the same shape
                if _per_tensor(output) != params or not _requantize(
                        model, graph, op.outputs[0], params, weight.quantization):
                    break  # the output's scale is tied elsewhere: leave this table alone
                old = table.buffer
                table.buffer = weight.buffer
                table.quantization = copy.deepcopy(weight.quantization)
                if not any(t.buffer == old for g in model.subgraphs for t in g.tensors):
                    saved += len(model.buffers[old].data)
                    model.buffers[old].data = None
                break
    return saved
