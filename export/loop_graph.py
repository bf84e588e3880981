"""Splice converted loop step models into the converted rest of a model (`export.loop_form`).

Input: the rest's TFLite file (one subgraph; besides the model's inputs and outputs it returns
``<layer>__input`` and takes ``<layer>__<direction>`` for every loop) and one converted step
model per loop (float input/output tensors, int8 inside for int8 files). Output: one file
whose ``main`` subgraph is the rest's, with one builtin WHILE op per loop placed between the
ops that make the loop's input and those that read its outputs (the operators are sorted
topologically again), and per loop a ``cond`` subgraph (``counter < T``) and a ``body``
subgraph: the step model's operators between a GATHER of step ``t`` for the forward cell and
of step ``T - 1 - t`` for the backward one (of the input, and of the mask for masked layers),
and the writes of both outputs back at the same positions (DYNAMIC_UPDATE_SLICE; a layer
returning its last output keeps the value after the last step, which for the backward cell
is time 0, as Keras has it). States start at zero
(FILL; with a dynamic batch, of the input's batch) and cross the loop boundary as floats,
like `export.step_loop` (until `export.loop_passes` makes integer ones integers). The step
model's
constants are copied once into the file; the cut tensors leave the signature.
"""

from __future__ import annotations

from tensorflow.lite.python import schema_py_generated as fb

from export.step_loop import _FLOAT32, _INT32, _Graph, _opcode, _signature_maps, _write_step
from export.tflite_file import SUBGRAPH_OPS, builtin_code, read, write


def _copy_subgraph(dst: fb.ModelT, src: fb.ModelT) -> fb.SubGraphT:
    """A copy of ``src``'s only subgraph whose buffers and operator codes live in ``dst``."""
    if len(src.subgraphs) != 1:
        raise ValueError("a loop step model must have one subgraph (no control flow)")
    graph = src.subgraphs[0]
    copy = fb.SubGraphT()
    copy.inputs, copy.outputs = list(graph.inputs), list(graph.outputs)
    copy.tensors, copy.operators = [], []
    for tensor in graph.tensors:
        buffer = src.buffers[tensor.buffer] if tensor.buffer else None
        if buffer is not None and buffer.data is not None and len(buffer.data):
            dst.buffers.append(buffer)
            tensor.buffer = len(dst.buffers) - 1
        else:
            tensor.buffer = 0
        copy.tensors.append(tensor)
    for op in graph.operators:
        code = src.operatorCodes[op.opcodeIndex]
        builtin = builtin_code(src, op)
        if code.customCode or builtin in SUBGRAPH_OPS:
            raise ValueError("a loop step model may use builtin ops without subgraphs only")
        op.opcodeIndex = _opcode(dst, builtin, code.version)
        copy.operators.append(op)
    return copy


def _sort_operators(graph: fb.SubGraphT, model: fb.ModelT) -> None:
    """Order the operators so that each runs after the ops making its inputs (stable)."""
    made = {t for op in graph.operators for t in op.outputs}
    ready = set(range(len(graph.tensors))) - made
    pending, ordered = list(graph.operators), []
    while pending:
        for index, op in enumerate(pending):
            if all(t < 0 or t in ready for t in op.inputs):
                ordered.append(pending.pop(index))
                ready.update(op.outputs)
                break
        else:
            raise ValueError("the loops and the rest form a cycle")
    graph.operators = ordered


def _loop(model: fb.ModelT, main: _Graph, step: fb.ModelT, loop, rest_in: dict[str, int],
          rest_out: dict[str, int], zero: int) -> None:
    """Append the cond and body subgraphs of ``loop`` and its WHILE op in ``main``."""
    step_in, step_out = _signature_maps(step)
    body = _Graph(model, _copy_subgraph(model, step))
    length, directions = loop.length, loop.directions
    read = {k: rest_out[name] for k, name in loop.sequences.items()}  # x (and mask)
    for k, index in read.items():
        if main.sg.tensors[index].type != _FLOAT32:
            raise ValueError(f"loop {loop.name!r}: its {k} must be float32 at the boundary")
    read_shapes = {k: list(main.sg.tensors[i].shape) for k, i in read.items()}
    signature = main.sg.tensors[read["x"]].shapeSignature
    open_batch = signature is not None and len(signature) > 0 and signature[0] < 0
    lead = (0,) if open_batch else ()  # a dynamic batch axis (shape holds a placeholder)
    states = list(loop.states)

    # loop variables: counter, the input sequence, the states, each direction's result
    results = []
    for d in directions:
        y = body.sg.tensors[step_out[d]]
        batch, units = int(y.shape[0]), list(y.shape[1:])
        shape = [batch, length, *units] if loop.return_sequences else [batch, *units]
        results.append((d, shape))
    fixed = 1 + len(read)  # the counter and the sequences read
    shapes = [[], *read_shapes.values()] + [list(body.sg.tensors[step_in[s]].shape)
                                           for s in states]
    shapes += [shape for _, shape in results]
    types = [_INT32] + [_FLOAT32] * (len(shapes) - 1)

    # body
    counter = body.tensor("counter", [], _INT32)
    seqs = {k: body.tensor(f"sequence_{k}", shape, _FLOAT32, open_axes=lead)
            for k, shape in read_shapes.items()}
    result_in = [body.tensor(f"{d}_loop", shape, _FLOAT32, open_axes=lead)
                 for d, shape in results]
    step_ops, body.sg.operators = body.sg.operators, []
    position = {"forward": counter}
    if "backward" in directions:
        position["backward"] = body.tensor("reversed", [], _INT32)
        body.op(fb.BuiltinOperator.SUB, [body.constant("last", length - 1), counter],
                [position["backward"]], fb.BuiltinOptions.SubOptions, fb.SubOptionsT())
    for d in directions:
        for k, seq in seqs.items():
            body.gather(seq, position[d], step_in[f"{d}_{k}"], axis=1)
    body.sg.operators += step_ops
    next_counter = body.tensor("counter_next", [], _INT32)
    body.op(fb.BuiltinOperator.ADD, [counter, body.constant("one", 1)], [next_counter],
            fb.BuiltinOptions.AddOptions, fb.AddOptionsT())
    result_out = []
    for (d, _), loop_in in zip(results, result_in):
        if loop.return_sequences:
            result_out.append(_write_step(body, d, step_out[d], loop_in, position[d],
                                          open_batch=open_batch))
        else:
            result_out.append(step_out[d])
    body.sg.inputs = [counter, *seqs.values(), *[step_in[s] for s in states], *result_in]
    body.sg.outputs = [next_counter, *seqs.values(), *[step_out[s] for s in states],
                       *result_out]
    body.sg.name = f"{loop.name}_body"

    # cond
    cond = _Graph(model, fb.SubGraphT())
    c_in = [cond.tensor(f"var{i}", shape, dtype, open_axes=lead if i else ())
            for i, (shape, dtype) in enumerate(zip(shapes, types))]
    keep_going = cond.tensor("keep_going", [], fb.TensorType.BOOL)
    cond.op(fb.BuiltinOperator.LESS, [c_in[0], cond.constant("length", length)], [keep_going],
            fb.BuiltinOptions.LessOptions, fb.LessOptionsT())
    cond.sg.inputs, cond.sg.outputs, cond.sg.name = c_in, [keep_going], f"{loop.name}_cond"

    # main: zero loop variables, the WHILE op, its results into the rest's cut inputs
    init = [main.constant(f"{loop.name}_counter_init", 0), *read.values()]
    batch = None
    if open_batch:  # the zeros take the batch from the input's shape at run time
        batch = main.tensor(f"{loop.name}_batch", [1], _INT32)
        main.gather(main.shape_of(read["x"], f"{loop.name}_input_shape"),
                    main.constant(f"{loop.name}_batch_axis", [0]), batch, axis=0)
    for i, shape in enumerate(shapes[fixed:]):
        if open_batch:
            dims = main.tensor(f"{loop.name}_shape{i}", [len(shape)], _INT32)
            concat = fb.ConcatenationOptionsT()
            concat.axis = 0
            main.op(fb.BuiltinOperator.CONCATENATION,
                    [batch, main.constant(f"{loop.name}_rest{i}", shape[1:])], [dims],
                    fb.BuiltinOptions.ConcatenationOptions, concat)
        else:
            dims = main.constant(f"{loop.name}_shape{i}", shape)
        init.append(main.tensor(f"{loop.name}_init{i}", shape, _FLOAT32, open_axes=lead))
        main.op(fb.BuiltinOperator.FILL, [dims, zero], [init[-1]],
                fb.BuiltinOptions.FillOptions, fb.FillOptionsT())
    finals = [main.tensor(f"{loop.name}_final{i}", shape, dtype, open_axes=lead if i else ())
              for i, (shape, dtype) in enumerate(zip(shapes, types))]
    # what the rest reads: each direction's result, and the final states of a layer that
    # returns them
    wanted = [(fixed + i, loop.state_name(state)) for i, state in enumerate(states)]
    wanted += [(len(shapes) - len(results) + i, loop.output_name(d))
               for i, (d, _) in enumerate(results)]
    for index, name in wanted:
        target = rest_in.get(name)
        if target is not None:
            if list(main.sg.tensors[target].shape) != shapes[index]:
                raise ValueError(f"loop {loop.name!r}: {name} has shape {shapes[index]}, "
                                 f"the rest's {list(main.sg.tensors[target].shape)}")
            finals[index] = target
    model.subgraphs += [cond.sg, body.sg]
    options = fb.WhileOptionsT()
    options.condSubgraphIndex = len(model.subgraphs) - 2
    options.bodySubgraphIndex = len(model.subgraphs) - 1
    main.op(fb.BuiltinOperator.WHILE, init, finals, fb.BuiltinOptions.WhileOptions, options)


def splice_loops(rest: bytes, steps: list[bytes], loops: list) -> bytes:
    """The rest's file with every loop of ``loops`` (`export.loop_form.Loop`, in graph order,
    each with its converted step model in ``steps``) run in place by a WHILE op."""
    model = read(rest)
    if len(model.subgraphs) != 1:
        raise ValueError("the rest of the model must have one subgraph (no control flow)")
    main = _Graph(model, model.subgraphs[0])
    rest_in, rest_out = _signature_maps(model)
    zero = main.constant("zero", 0.0, _FLOAT32)
    for loop, data in zip(loops, steps):
        _loop(model, main, read(data), loop, rest_in, rest_out, zero)
    cut_in = {rest_in[n] for loop in loops
              for n in [*map(loop.output_name, loop.directions),
                        *map(loop.state_name, loop.states)] if n in rest_in}
    cut_out = {rest_out[name] for loop in loops for name in loop.sequences.values()}
    main.sg.inputs = [t for t in main.sg.inputs if t not in cut_in]
    main.sg.outputs = [t for t in main.sg.outputs if t not in cut_out]
    sig = model.signatureDefs[0]
    sig.inputs = [m for m in sig.inputs if m.tensorIndex not in cut_in]
    cut_names = {name for loop in loops for name in loop.sequences.values()}
    sig.outputs = [m for m in sig.outputs
                   if (m.name.decode() if isinstance(m.name, bytes) else m.name) not in cut_names]
    _sort_operators(main.sg, model)
    return write(model)
