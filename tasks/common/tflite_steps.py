"""Running exported TFLite step models from numpy, as an app would (no TensorFlow needed).

Shared by the samplers of music (`tasks.music.tflite_sampler`) and text generation
(`tasks.textgen.tflite_sampler`): the interpreter (``ai_edge_litert``, else
``tensorflow.lite``), float <-> int8 tensor conversion with a tensor's quantization
parameters, the ``rnnzoo`` metadata stored inside a file, and the short names of
signature tensors (state inputs and outputs start with ``state_``).
"""

from __future__ import annotations

import json

import numpy as np

STATE_PREFIX = "state_"
METADATA_NAME = "rnnzoo"  # export.tflite_file.METADATA_NAME


def interpreter(path: str, threads: int):
    """A TFLite interpreter for the file at ``path`` with ``threads`` threads."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - tensorflow ships one too
        from tensorflow.lite.python.interpreter import Interpreter
    return Interpreter(model_path=path, num_threads=threads)


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """``x`` in the dtype of the tensor ``detail`` describes (int8: with its scale and zero;
    an integer tensor without a scale, such as token ids, as it is)."""
    dtype = detail["dtype"]
    scale, zero = detail["quantization"]
    if np.issubdtype(dtype, np.floating) or not scale:
        return np.asarray(x).astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def dequantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """A tensor's value ``x`` as float32 (int8: with its scale and zero)."""
    scale, zero = detail["quantization"]
    if np.issubdtype(x.dtype, np.floating) or not scale:
        return x.astype(np.float32)
    return ((x.astype(np.float32) - zero) * scale).astype(np.float32)


def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:  # pragma: no cover - tensorflow ships one too
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def read_metadata(path: str) -> dict:
    """The ``rnnzoo`` metadata JSON stored inside the TFLite file at ``path`` ({} if none)."""
    with open(path, "rb") as file:
        data = bytearray(file.read())
    root = _schema().Model.GetRootAsModel(data, 0)
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        name = entry.Name()
        if (name.decode() if isinstance(name, bytes) else name) == METADATA_NAME:
            payload = root.Buffers(entry.Buffer()).DataAsNumpy()
            return {} if isinstance(payload, int) else json.loads(bytes(payload).decode())
    return {}


def short_name(name: str) -> str:
    """``serving_default_state_h_0:0`` -> ``state_h_0``; other names unchanged."""
    name = name.split(":")[0]
    index = name.find(STATE_PREFIX)
    return name[index:] if index >= 0 else name
