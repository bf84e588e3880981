"""Arrays inside JSON metadata (a layer's ``app_metadata``, stored in every exported file).

An entry is ``{"shape": [...], <encoding>: base64 of little-endian bytes}`` with one of:

* ``"float32"``: the array as it is (Keras and float32 files);
* ``"float16"``: half precision (fp16 files);
* ``"int8"`` with ``"scale"``: symmetric int8, one scale per row (index on the first axis;
  ``value = int8 * scale[row]``), for the int8, int16x8 and dynamic-range files, whose own
  weights are int8. Zeros stay exactly zero (a triangular kernel stays triangular).

`compact` rewrites the float32 arrays of a metadata tree for a file's ``quantize`` mode, so a
key model's float parameters do not outweigh an int8 file's own weights (RNN-NADE: 302 KB of
base64 float32 beside 307 KB of int8 weights). Needs numpy only.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

FLOAT32, FLOAT16, INT8 = "float32", "float16", "int8"
INT8_MODES = ("int8", "int16x8", "dynamic")  # quantize modes whose files store arrays in int8


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def encode_array(array: np.ndarray, encoding: str = FLOAT32) -> dict:
    """``array`` as a JSON entry (see the module docstring). 0-d and 1-d arrays are always
    float32: one int8 scale over a bias would cost more precision than bytes saved."""
    array = np.asarray(array, np.float32)
    entry: dict[str, Any] = {"shape": list(array.shape)}
    if encoding == INT8 and array.ndim >= 2 and array.size:
        rows = array.reshape(array.shape[0], -1)
        scale = np.abs(rows).max(axis=1) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        entry[INT8] = _b64(np.clip(np.rint(rows / scale[:, None]), -127, 127).astype("i1"))
        entry["scale"] = [float(s) for s in scale]
    elif encoding == FLOAT16 and array.ndim >= 2:
        entry[FLOAT16] = _b64(array.astype("<f2"))
    elif encoding in (FLOAT32, FLOAT16, INT8):
        entry[FLOAT32] = _b64(array.astype("<f4"))
    else:
        raise ValueError(f"unknown array encoding {encoding!r}")
    return entry


def decode_array(entry: dict) -> np.ndarray:
    """The float32 array of an entry written by `encode_array`, whatever its encoding."""
    shape = entry["shape"]
    if FLOAT32 in entry:
        data = np.frombuffer(base64.b64decode(entry[FLOAT32]), dtype="<f4")
    elif FLOAT16 in entry:
        data = np.frombuffer(base64.b64decode(entry[FLOAT16]), dtype="<f2")
    elif INT8 in entry:
        rows = np.frombuffer(base64.b64decode(entry[INT8]), dtype="i1").astype(np.float32)
        scale = np.asarray(entry["scale"], np.float32)
        data = rows.reshape(len(scale), -1) * scale[:, None]
    else:
        raise ValueError(f"array entry without float32, float16 or int8 data (keys "
                         f"{sorted(entry)})")
    return data.reshape(shape).astype(np.float32)


def _is_array(value: Any) -> bool:
    return isinstance(value, dict) and FLOAT32 in value and "shape" in value


def compact(tree: Any, quantize: str) -> Any:
    """A copy of the JSON ``tree`` whose float32 array entries are re-encoded for a file of
    ``quantize`` mode: int8 for int8/int16x8/dynamic, float16 for fp16, as they are for
    fp32 (so a float32 file samples exactly as Keras does)."""
    encoding = INT8 if quantize in INT8_MODES else FLOAT16 if quantize == "fp16" else None
    if encoding is None:
        return tree
    if _is_array(tree):
        return encode_array(decode_array(tree), encoding)
    if isinstance(tree, dict):
        return {key: compact(value, quantize) for key, value in tree.items()}
    if isinstance(tree, list):
        return [compact(value, quantize) for value in tree]
    return tree
