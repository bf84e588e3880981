"""Arrays in JSON metadata (`zoo.array_codec`): encodings, their precision, `compact`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.array_codec import compact, decode_array, encode_array


def _kernel() -> np.ndarray:
    rng = np.random.default_rng(0)
    kernel = rng.normal(0.0, 1.0, (6, 5)).astype(np.float32) * np.arange(1, 7)[:, None]
    kernel[2] = 0.0  # an all-zero row
    return np.tril(kernel, k=-1).astype(np.float32)  # zeros above the diagonal (triangular)


def test_float32_round_trips_exactly_and_float16_to_half_precision():
    kernel = _kernel()
    np.testing.assert_array_equal(decode_array(encode_array(kernel)), kernel)
    half = decode_array(encode_array(kernel, "float16"))
    np.testing.assert_allclose(half, kernel, rtol=1e-3, atol=1e-6)
    assert not np.array_equal(half, kernel)  # really rounded


def test_int8_rows_keep_zeros_and_a_per_row_error_bound():
    kernel = _kernel()
    entry = json.loads(json.dumps(encode_array(kernel, "int8")))
    assert "float32" not in entry and len(entry["scale"]) == 6
    decoded = decode_array(entry)
    np.testing.assert_array_equal(decoded == 0, kernel == 0)  # triangular stays triangular
    bound = np.abs(kernel).max(axis=1, keepdims=True) / 127 / 2 * 1.0001
    assert (np.abs(decoded - kernel) <= bound).all()
    # a 1-d array (a bias) stays float32, exact
    bias = np.linspace(-3, 3, 7).astype(np.float32)
    assert "float32" in encode_array(bias, "int8")
    np.testing.assert_array_equal(decode_array(encode_array(bias, "int8")), bias)


def test_int8_entries_are_about_a_quarter_of_float32():
    big = np.random.default_rng(1).normal(size=(88, 150)).astype(np.float32)
    float_bytes = len(json.dumps(encode_array(big)))
    int8_bytes = len(json.dumps(encode_array(big, "int8")))
    assert int8_bytes < 0.3 * float_bytes


def test_compact_rewrites_arrays_by_quantize_mode_and_leaves_the_rest():
    tree = {"layer": {"kind": "x", "form": "nade", "units": 6,
                      "arrays": {"W": encode_array(_kernel()), "c": encode_array(np.ones(3))}}}
    assert compact(tree, "fp32") == tree
    for mode, key in (("int8", "int8"), ("int16x8", "int8"), ("dynamic", "int8"),
                      ("fp16", "float16")):
        small = compact(tree, mode)
        assert key in small["layer"]["arrays"]["W"] and "float32" in small["layer"]["arrays"]["c"]
        assert {k: v for k, v in small["layer"].items() if k != "arrays"} == \
            {k: v for k, v in tree["layer"].items() if k != "arrays"}
    assert "float32" in tree["layer"]["arrays"]["W"]  # the input tree is not changed


def test_bad_entries_raise():
    with pytest.raises(ValueError, match="unknown array encoding"):
        encode_array(np.ones((2, 2)), "int4")
    with pytest.raises(ValueError, match="without float32, float16 or int8"):
        decode_array({"shape": [2]})
