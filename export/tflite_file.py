"""Reading and editing converted ``.tflite`` flatbuffers: names, signature, metadata, ops.

* `strip_debug_strings`: the converter names every tensor after the fused TF ops it came from
  (long strings joined by ';'). They serve debugging only, and in an int8 file they are a large
  share of the bytes (about 30 % of a 64-unit int8 LSTM step model, and most of an unrolled
  sequence), which would hide the size of the weights. Exports drop them, with the other
  strings TFLite's own ``strip_strings`` tool drops (the model description, subgraph names),
  but keep the signature and the names of its inputs and outputs (what apps use);
  ``keep_tensor_names=True`` keeps every string.
* `drop_empty_buffers`: one shared empty buffer for tensors without data.
* `add_metadata` / `read_metadata`: an ``rnnzoo`` entry in the model's metadata table holding
  the export's JSON (task, labels, feature settings, input spec): the TFLite runtime ignores
  entries it does not know, and any flatbuffer reader finds it.
* `op_summary`: builtin ops used (all subgraphs), and which of them compute in float.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
from tensorflow.lite.python import schema_py_generated as fb
from tensorflow.lite.tools import flatbuffer_utils

METADATA_NAME = "rnnzoo"
_OP_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
_FLOAT_TYPES = {fb.TensorType.FLOAT32, fb.TensorType.FLOAT16, fb.TensorType.FLOAT64}
_TYPE_NAMES = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
# Ops that move, reshape or convert data, or run subgraphs: they are not counted as computing
# in float even when their tensors are float (QUANTIZE/DEQUANTIZE are the int8 boundaries).
DATA_MOVEMENT = frozenset({
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "GATHER", "GATHER_ND", "STRIDED_SLICE", "SLICE",
    "SPLIT", "SPLIT_V", "CONCATENATION", "PACK", "UNPACK", "TRANSPOSE", "DYNAMIC_UPDATE_SLICE",
    "WHILE", "IF", "CALL_ONCE", "QUANTIZE", "DEQUANTIZE", "SHAPE", "FILL", "ZEROS_LIKE",
    "BROADCAST_TO", "TILE", "PAD", "PADV2", "CAST",
})


# Builtin ops that run other subgraphs (control flow).
SUBGRAPH_OPS = frozenset({fb.BuiltinOperator.WHILE, fb.BuiltinOperator.IF,
                          fb.BuiltinOperator.CALL_ONCE})


def builtin_code(model: fb.ModelT, op) -> int:
    """The builtin operator code of ``op`` (files write it to ``builtinCode`` or, for codes
    under 127, to the older ``deprecatedBuiltinCode``: the larger of the two is the code)."""
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def type_name(tensor_type: int) -> str:
    """The schema name of a tensor type (``FLOAT32``, ``INT8``, ...)."""
    return _TYPE_NAMES.get(tensor_type, str(tensor_type))


def read(model: bytes) -> fb.ModelT:
    """The object form of a flatbuffer model."""
    return flatbuffer_utils.convert_bytearray_to_object(bytearray(model))


def write(model: fb.ModelT) -> bytes:
    """The flatbuffer bytes of an object-form model."""
    return flatbuffer_utils.convert_object_to_bytearray(model)


def _ints(values) -> list[int]:
    """A flatbuffer index vector (None, list or numpy array) as a list."""
    return [] if values is None else [int(v) for v in values]


def as_text(value) -> str:
    """A flatbuffer string field (bytes, str or None) as str."""
    return value.decode() if isinstance(value, bytes) else (value or "")


def tensor_names(data: bytes) -> list[str]:
    """The names of every tensor of every subgraph of the model in ``data``."""
    return [as_text(t.name) for graph in read(data).subgraphs for t in graph.tensors]


def per_tensor_quantization(tensor: fb.TensorT) -> tuple[float, int] | None:
    """``(scale, zero point)`` of a tensor quantized per tensor, else None."""
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) != 1:
        return None
    zero = 0 if q.zeroPoint is None or len(q.zeroPoint) == 0 else int(q.zeroPoint[0])
    return float(q.scale[0]), zero


def signature_tensors(model: fb.ModelT) -> dict[int, set[int]]:
    """Subgraph index -> the tensors its signatures name (inputs and outputs)."""
    named: dict[int, set[int]] = {}
    for sig in model.signatureDefs or []:
        named.setdefault(sig.subgraphIndex, set()).update(
            m.tensorIndex for m in [*(sig.inputs or []), *(sig.outputs or [])])
    return named


def strip_debug_strings(model: fb.ModelT) -> fb.ModelT:
    """Drop the model description, subgraph names and tensor names except those of the
    signature's and the main subgraph's inputs and outputs."""
    model.description = None
    for subgraph in model.subgraphs:
        subgraph.name = None
    keep = signature_tensors(model)
    keep.setdefault(0, set()).update(_ints(model.subgraphs[0].inputs),
                                     _ints(model.subgraphs[0].outputs))
    for index, subgraph in enumerate(model.subgraphs):
        kept = keep.get(index, set())
        for t_index, tensor in enumerate(subgraph.tensors or []):
            if t_index not in kept:
                tensor.name = None
    return model


def set_signature_key(model: fb.ModelT, key: str) -> fb.ModelT:
    """Rename the model's only signature to ``key``."""
    if not model.signatureDefs or len(model.signatureDefs) != 1:
        raise ValueError("expected a model with exactly one signature")
    model.signatureDefs[0].signatureKey = key
    return model


def add_metadata(model: fb.ModelT, payload: dict, name: str = METADATA_NAME) -> fb.ModelT:
    """Store ``payload`` as JSON in the metadata entry ``name`` (replacing an older one)."""
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(data, dtype=np.uint8)
    model.buffers.append(buffer)
    model.metadata = [m for m in (model.metadata or []) if as_text(m.name) != name]
    entry = fb.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    model.metadata.append(entry)
    return model


def read_metadata(model: bytes, name: str = METADATA_NAME) -> dict | None:
    """The JSON stored by `add_metadata` in ``model`` (bytes of a .tflite), or None."""
    root = fb.Model.GetRootAsModel(bytearray(model), 0)
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        if as_text(entry.Name()) == name:
            data = root.Buffers(entry.Buffer()).DataAsNumpy()
            if isinstance(data, int):
                return None
            return json.loads(bytes(data).decode("utf-8"))
    return None


def has_variables(model: bytes) -> bool:
    """Whether the file keeps state in variable tensors across ``invoke()`` calls (e.g. the
    fused LSTM op's states, which ``interpreter.reset_all_variables()`` zeroes)."""
    return any(t.isVariable for sg in read(model).subgraphs for t in sg.tensors or [])


def quantized_weights(model: bytes) -> int:
    """How many constant tensors (weights) the file stores as 8-bit integers."""
    obj = read(model)
    integer = {fb.TensorType.INT8, fb.TensorType.UINT8}
    return sum(1 for sg in obj.subgraphs for t in sg.tensors or []
               if t.type in integer and t.buffer > 0 and obj.buffers[t.buffer].data is not None)


def op_summary(model: bytes) -> dict:
    """``{"builtin": {OP: count}, "float": [OPs computing in float], "custom": [...],
    "flex": [...], "tensor_types": {TYPE: count}}`` over all subgraphs.

    An op computes in float when one of its outputs is a float tensor, except the ops in
    `DATA_MOVEMENT`. Dynamic-range ("hybrid") ops have int8 weights but float activations,
    so they count as float; fp16 models dequantize their weights to float32 and compute in
    float too.
    """
    obj = read(model)
    builtin, custom, flex, float_ops, types = Counter(), set(), set(), set(), Counter()
    for subgraph in obj.subgraphs:
        tensors = subgraph.tensors or []
        for op in subgraph.operators or []:
            code = obj.operatorCodes[op.opcodeIndex]
            if code.customCode:
                name = as_text(code.customCode)
                (flex if name.startswith("Flex") else custom).add(name)
                continue
            name = _OP_NAMES.get(builtin_code(obj, op), "UNKNOWN")
            builtin[name] += 1
            outputs = [tensors[i] for i in _ints(op.outputs) if i >= 0]
            if name not in DATA_MOVEMENT and any(t.type in _FLOAT_TYPES for t in outputs):
                float_ops.add(name)
        for tensor in tensors:
            if tensor.buffer == 0 or obj.buffers[tensor.buffer].data is None:
                types[type_name(tensor.type)] += 1
    return {"builtin": dict(sorted(builtin.items())), "float": sorted(float_ops),
            "custom": sorted(custom), "flex": sorted(flex),
            "activation_types": dict(sorted(types.items()))}


def drop_empty_buffers(model: fb.ModelT) -> fb.ModelT:
    """Point every tensor without data at buffer 0 (the schema's empty buffer) and remove the
    buffers no tensor or metadata entry uses any more. The converter gives each activation
    tensor a buffer of its own, empty: about 8 bytes each, which a small model notices."""
    def has_data(index: int) -> bool:
        buffer = model.buffers[index]
        # a model over 2 GB keeps its data outside the flatbuffer (offset and size)
        return (buffer.data is not None and len(buffer.data) > 0) or (buffer.offset or 0) > 1

    for graph in model.subgraphs:
        for tensor in graph.tensors or []:
            if tensor.buffer and not has_data(tensor.buffer):
                tensor.buffer = 0
    used = {0} | {t.buffer for g in model.subgraphs for t in g.tensors or []}
    used |= {m.buffer for m in model.metadata or []}
    order = sorted(used)
    new = {old: i for i, old in enumerate(order)}
    model.buffers = [model.buffers[i] for i in order]
    for graph in model.subgraphs:
        for tensor in graph.tensors or []:
            tensor.buffer = new[tensor.buffer]
    for entry in model.metadata or []:
        entry.buffer = new[entry.buffer]
    return model
