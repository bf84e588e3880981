"""Running exported TFLite step models from numpy, as an app would (no TensorFlow needed).

Shared by the samplers of music (`tasks.music.tflite_sampler`) and text generation
(`tasks.textgen.tflite_sampler`): the interpreter (``ai_edge_litert``, else
``tensorflow.lite``), float <-> int8 tensor conversion with a tensor's quantization
parameters, the ``rnnzoo`` metadata stored inside a file, and the short names of
signature tensors (state inputs and outputs start with ``state_``).
"""

from __future__ import annotations

import json
import os

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


def open_step_file(path: str | os.PathLike, threads: int = 1):
    """``(interpreter, runner, inputs, outputs)`` of the TFLite file at ``path``: the
    signature runner of its ``step`` signature (else its first) with the input and output
    details by signature name, or, for a file without signatures, ``runner`` None and the
    details by `short_name` (tensors allocated). FileNotFoundError when there is no file."""
    from zoo.quiet import quiet_stderr

    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such TFLite file")
    with quiet_stderr():
        found = interpreter(path, threads)
        signatures = found.get_signature_list()
        if signatures:
            runner = found.get_signature_runner("step" if "step" in signatures
                                                else sorted(signatures)[0])
            return found, runner, runner.get_input_details(), runner.get_output_details()
        found.allocate_tensors()
        return (found, None, {short_name(d["name"]): d for d in found.get_input_details()},
                {short_name(d["name"]): d for d in found.get_output_details()})


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
