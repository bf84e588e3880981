"""int8 files that keep the LSTM cell state in float (export.cell_state, --float-cell-state)."""

from __future__ import annotations

import numpy as np
import pytest

CHARACTERS = ["<pad>", "<unk>", "a", "b", "c", " "]


def _float_step_file(model, path):
    from export import to_tflite

    return to_tflite(model, path, kind="step", quantize="fp32",
                     keep_tensor_names=True).path.read_bytes()


def test_each_lstm_cell_update_is_found_and_a_gru_has_none(tmp_path):
    import zoo
    from export.cell_state import cell_state_tensors

    lstm = zoo.build("textgen-char-lstm", characters=CHARACTERS, units=[8, 8], embedding=4)
    names = cell_state_tensors(_float_step_file(lstm, tmp_path / "lstm.tflite"))
    assert len(names) == 8  # per layer: f * c, i * g, their sum, its tanh
    assert sum("lstm_0" in n for n in names) == 3  # the sum is named after its state output
    assert sum("lstm_1" in n for n in names) == 3
    gru = zoo.build("textgen-char-gru", characters=CHARACTERS, units=[8], embedding=4)
    assert cell_state_tensors(_float_step_file(gru, tmp_path / "gru.tflite")) == []


@pytest.mark.slow
def test_int8_files_keep_the_cell_state_in_float_and_match_keras(tmp_path):
    import zoo
    from export import tflite_file, to_tflite
    from export.runner import TFLiteRunner

    model = zoo.build("textgen-char-lstm", characters=CHARACTERS, units=[16, 16], embedding=4)
    ids = np.random.default_rng(0).integers(2, len(CHARACTERS), (24, 20)).astype(np.int32)
    samples = [row[None] for row in ids[:16]]
    plain = to_tflite(model, tmp_path / "plain.tflite", quantize="int8", kind="step",
                      representative=samples)
    kept = to_tflite(model, tmp_path / "kept.tflite", quantize="int8", kind="step",
                     representative=samples, float_cell_state=True)
    assert not any("cell state" in note for note in plain.notes)
    assert any("LSTM cell state kept in float (2 cell update(s)" in note for note in kept.notes)
    floats = tflite_file.op_summary(kept.path.read_bytes())["float"]
    assert {"ADD", "MUL", "TANH"} <= set(floats)
    assert "TANH" not in tflite_file.op_summary(plain.path.read_bytes()).get("float", [])
    assert tflite_file.read_metadata(kept.path.read_bytes())["file"]["float_cell_state"]
    # the weights stay int8: the file is no larger than 1.05x the integer-only one
    assert kept.path.stat().st_size <= 1.05 * plain.path.stat().st_size

    sequence = to_tflite(model, tmp_path / "sequence.tflite", quantize="int8",
                         representative=samples, float_cell_state=True, length=20)
    assert any("cell state kept in float" in note for note in sequence.notes)
    expected = model.predict(ids[16:], verbose=0)
    got = np.concatenate([TFLiteRunner(sequence.path).predict(row[None]) for row in ids[16:]])
    # logits of an untrained 16-unit model span about +-0.5: int8 keeps them within 0.05
    assert np.abs(got - expected).max() < 0.05

