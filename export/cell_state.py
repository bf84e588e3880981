"""The LSTM cell-state update in a converted graph, for int8 files that keep it in float.

A full-int8 LSTM requantizes its cell state ``c_t = f * c_{t-1} + i * g`` to 8 bits at every
step. The cell state is the LSTM's long-range memory, and its rounding error accumulates over
the sequence: textgen-shakespeare's int8 file lost 2.5 % nats/char that way (its tolerance is
1 %), with the state kept in float 0.3 %, at the same size and speed (the matmuls, which hold
the weights and the time, stay int8; TFLite's fused LSTM op keeps the cell state in 16 bits for
the same reason). `cell_state_tensors` finds those ops by the graph's shape, so that
`export.convert_worker` can put them on the quantizer's deny list:

    MUL(f, c_prev) --+
                     ADD -> c_t -> TANH -> MUL(o, .) -> h_t
    MUL(i, g) -------+

The ADD's inputs are two MULs, one of them reading a subgraph input (the carried state); the
ADD's output feeds a TANH whose output feeds a MUL. A GRU's update ``z * h + (1 - z) * n`` has
no TANH after it and is left alone.
"""

from __future__ import annotations

from collections import defaultdict

from export import tflite_file
from export.tflite_file import fb

# Tensors named per cell update by `cell_state_tensors`: f * c, i * g, their sum, its tanh.
TENSORS_PER_CELL = 4


def _graph_cells(model: fb.ModelT, graph) -> list[list[int]]:
    """Tensor indices of each cell-state update in ``graph``: [f*c, i*g, c_t, tanh(c_t)]."""
    producer: dict[int, object] = {}
    consumers: dict[int, list] = defaultdict(list)
    for op in graph.operators:
        for tensor in tflite_file._ints(op.outputs):
            producer[tensor] = op
        for tensor in tflite_file._ints(op.inputs):
            if tensor >= 0:
                consumers[tensor].append(op)
    inputs = set(tflite_file._ints(graph.inputs))

    def code(op) -> int:
        return tflite_file.builtin_code(model, op)

    cells = []
    for op in graph.operators:
        if code(op) != fb.BuiltinOperator.ADD:
            continue
        terms = [producer.get(t) for t in tflite_file._ints(op.inputs)]
        if len(terms) != 2 or any(t is None or code(t) != fb.BuiltinOperator.MUL
                                  for t in terms):
            continue
        if not any(t in inputs for term in terms for t in tflite_file._ints(term.inputs)):
            continue
        (state,) = tflite_file._ints(op.outputs)
        squashes = [c for c in consumers[state] if code(c) == fb.BuiltinOperator.TANH]
        squashes = [t for t in squashes
                    if any(code(c) == fb.BuiltinOperator.MUL
                           for c in consumers[tflite_file._ints(t.outputs)[0]])]
        if len(squashes) != 1:
            continue
        cells.append([tflite_file._ints(terms[0].outputs)[0],
                      tflite_file._ints(terms[1].outputs)[0], state,
                      tflite_file._ints(squashes[0].outputs)[0]])
    return cells


def cell_state_tensors(data: bytes) -> list[str]:
    """Names of the output tensors of every LSTM cell-state update (the two products, their
    sum and its tanh) in every subgraph of the float or calibrated model ``data``: the names
    the quantizer's ``denylisted_nodes`` take. Empty for a model without an LSTM."""
    model = tflite_file.read(data)
    names = []
    for graph in model.subgraphs:
        for cell in _graph_cells(model, graph):
            names += [tflite_file.as_text(graph.tensors[t].name) for t in cell]
    return names
