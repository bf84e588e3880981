"""`export.tied_tables`: a tied embedding's int8 table stored once in the decoder-step file.

The toy translation model (tests/translation_toy.py; tied 300 x 32 embedding) is exported to
int8 with and without the pass; the shared file holds one int8 [300, 32] table where the other
holds two, and its outputs stay as close to the float32 file's as the unshared file's are.
"""

from __future__ import annotations

import numpy as np
import pytest

import export
from export import tflite_file
from tests.translation_toy import trained_toy


def _tables(path) -> int:
    model = tflite_file.read(path.read_bytes())
    return sum(1 for graph in model.subgraphs for t in graph.tensors
               if t.type == 9 and list(t.shape) == [300, 32]  # INT8
               and model.buffers[t.buffer].data is not None
               and len(model.buffers[t.buffer].data)) - _shared(model)


def _shared(model) -> int:
    buffers = [t.buffer for graph in model.subgraphs for t in graph.tensors
               if t.type == 9 and list(t.shape) == [300, 32]]
    return len(buffers) - len(set(buffers))


def _bias_scales_agree(path) -> bool:
    """Every int8 FULLY_CONNECTED's int32 bias scale is its input scale x its weight scale,
    as TFLite's kernel assumes (a moved input scale must move the bias with it)."""
    from tensorflow.lite.python import schema_py_generated as fb

    model = tflite_file.read(path.read_bytes())
    checked = 0
    for graph in model.subgraphs:
        for op in graph.operators:
            if (tflite_file.builtin_code(model, op) != fb.BuiltinOperator.FULLY_CONNECTED
                    or len(op.inputs) < 3 or op.inputs[2] < 0):
                continue
            x, w, b = (graph.tensors[i] for i in list(op.inputs)[:3])
            if x.type != 9 or b.type != 2:  # int8 input, int32 bias
                continue
            expected = float(x.quantization.scale[0]) * np.asarray(w.quantization.scale)
            if not np.allclose(np.asarray(b.quantization.scale), expected, rtol=1e-5):
                return False
            checked += 1
    return checked > 0


def _run(path, feeds: list[dict]) -> dict[str, np.ndarray]:
    runner = export.TFLiteRunner(path)
    results = [runner.invoke(feed) for feed in feeds]
    return {name: np.stack([r[name] for r in results]) for name in results[0]}


@pytest.mark.slow
def test_the_decoder_int8_file_stores_the_tied_table_once(tmp_path, monkeypatch):
    model, _, _, calibration = trained_toy()
    export.export_model(model, tmp_path / "shared", formats=["tflite"],
                        quantize=["fp32", "int8"], representative=calibration)
    import export.tflite as tflite_module

    monkeypatch.setattr(tflite_module, "share_tied_tables", lambda obj: 0)
    export.export_model(model, tmp_path / "unshared", formats=["tflite"], quantize=["int8"],
                        representative=calibration)
    shared, unshared = (tmp_path / "shared" / "decoder.int8.tflite",
                        tmp_path / "unshared" / "decoder.int8.tflite")
    assert _tables(unshared) == 2 and _tables(shared) == 1
    assert unshared.stat().st_size - shared.stat().st_size >= 300 * 32
    assert _bias_scales_agree(unshared) and _bias_scales_agree(shared)
    # the same feeds (random tokens, states and encoder outputs) through the three files
    interpreter = export.TFLiteRunner(tmp_path / "shared" / "decoder.fp32.tflite").interpreter
    details = interpreter.get_signature_runner().get_input_details()
    rng = np.random.default_rng(0)
    feeds = [{name: (rng.integers(1, 300, d["shape"]).astype(d["dtype"])
                     if np.issubdtype(d["dtype"], np.integer)
                     else np.ones(d["shape"], np.float32) if name == "source_mask"
                     else rng.normal(0, 0.5, d["shape"]).astype(np.float32))
              for name, d in details.items()} for _ in range(20)]
    reference = _run(tmp_path / "shared" / "decoder.fp32.tflite", feeds)
    errors = {}
    for label, path in (("shared", shared), ("unshared", unshared)):
        got = _run(path, feeds)
        errors[label] = {name: float(np.abs(got[name] - reference[name]).mean())
                         for name in ("probabilities", "state_h_0")}
    # measured (mean |int8 - float32| over 20 random steps): probabilities 6.1e-4 shared,
    # 6.3e-4 unshared; state 0.0208 and 0.0206
    for name in ("probabilities", "state_h_0"):
        assert errors["shared"][name] <= 1.25 * errors["unshared"][name], errors
