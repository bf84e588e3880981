"""Note models with one output per head (pitch logits; step and duration): builders, the loss
through Keras, weights of the former concatenated head, and int8 step files whose two outputs
keep their own scales."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import export
import zoo
from export.step import output_names
from tasks.common.tflite_steps import open_step_file
from tasks.music.notes import (
    chunks,
    note_loss,
    note_metrics,
    note_targets,
    split_outputs,
)
from tasks.music.sampling import KerasStepper, generate_notes, stepwise_model_fn
from tasks.music.tflite_sampler import TFLiteStepper
from zoo.music import PITCH_HEAD, TIMING_HEAD

HEADS = {PITCH_HEAD: 128, TIMING_HEAD: 2}


def _pieces(count=12, length=40, seed=0):
    rng = np.random.default_rng(seed)
    return [np.stack([rng.integers(55, 80, length), rng.choice([0.25, 0.5], length),
                      rng.choice([0.25, 0.5, 1.0], length)], axis=1).astype(np.float32)
            for _ in range(count)]


def _concatenated(kind: str, units: int) -> keras.Model:
    """The note model as it was built before the heads were split (same layer names)."""
    inputs = keras.Input(shape=(None, 130), name="previous_note")
    hidden = zoo.layers.recurrent(kind, units, return_sequences=True, name=f"{kind}_0")(inputs)
    pitch = keras.layers.Dense(128, name=PITCH_HEAD)(hidden)
    timing = keras.layers.Dense(2, name=TIMING_HEAD)(hidden)
    return keras.Model(inputs, keras.layers.Concatenate(name="next_note")([pitch, timing]))


@pytest.mark.parametrize("builder", ["music-notes-lstm", "music-notes-gru"])
def test_note_builders_have_one_output_per_head(builder):
    model = zoo.build(builder, units=8)
    assert output_names(model) == [PITCH_HEAD, TIMING_HEAD]
    outputs = model.predict_on_batch(np.zeros((2, 5, 130), np.float32))
    assert {k: v.shape for k, v in outputs.items()} == {k: (2, 5, n) for k, n in HEADS.items()}


def test_weights_of_the_concatenated_head_load_unchanged(tmp_path):
    old = _concatenated("lstm", 8)
    path = tmp_path / "old.weights.h5"
    old.save_weights(path)
    new = zoo.build("music-notes-lstm", units=8)
    new.load_weights(path)
    x = np.random.default_rng(0).random((2, 6, 130)).astype(np.float32)
    logits, timing = split_outputs(new.predict_on_batch(x))
    np.testing.assert_array_equal(np.concatenate([logits, timing], -1), old.predict_on_batch(x))


def test_split_outputs_reads_both_forms_and_refuses_others():
    joined = np.arange(2 * 130, dtype=np.float32).reshape(2, 130)
    logits, timing = split_outputs(joined)
    assert logits.shape == (2, 128) and timing.tolist() == [[128, 129], [258, 259]]
    same = split_outputs({PITCH_HEAD: logits, TIMING_HEAD: timing})
    assert all(np.array_equal(a, b) for a, b in zip(same, (logits, timing)))
    with pytest.raises(ValueError, match="got shape"):
        split_outputs(np.zeros((2, 129)))
    with pytest.raises(ValueError, match="lack"):
        split_outputs({PITCH_HEAD: logits})


def test_keras_adds_the_head_losses_per_weighted_note_as_the_joint_loss_did():
    keras.utils.set_random_seed(0)
    model = zoo.build("music-notes-gru", units=4)
    model.compile(loss=note_loss(timing_weight=0.5))
    x, y, w = chunks(_pieces(2, 7, seed=1), 4)  # the last window of each piece is padded
    loss = model.evaluate(tf.data.Dataset.from_tensors((x, note_targets(y), w)), verbose=0)
    outputs = model.predict_on_batch(x)
    logits, timing = (np.asarray(a, np.float64) for a in split_outputs(outputs))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    pitch = y[..., 0].astype(int)
    nll = -np.take_along_axis(log_probs, pitch[..., None], -1)[..., 0]
    per_note = nll + 0.5 * ((timing - y[..., 1:]) ** 2).sum(-1)
    assert w.sum() < w.size
    assert loss[0] == pytest.approx((per_note * w).sum() / w.size, rel=1e-5)


@pytest.fixture(scope="module")
def int8_steps(tmp_path_factory):
    """A briefly trained two-head note LSTM and its int8 step files (float and int8 io)."""
    keras.utils.set_random_seed(0)
    model = zoo.build("music-notes-lstm", units=16)
    x, y, w = chunks(_pieces(), 16)
    model.compile(keras.optimizers.Adam(1e-2), loss=note_loss())
    model.fit(tf.data.Dataset.from_tensor_slices((x, note_targets(y), w)).batch(8), epochs=3,
              verbose=0, shuffle=False)
    folder = tmp_path_factory.mktemp("heads")
    targets = {export.Variant(kind="step", quantize="int8"): folder / "step.int8.tflite",
               export.Variant(kind="step", quantize="int8", io_dtype="int8"):
               folder / "step.int8io.tflite"}
    export.convert_variants(model, targets, representative=[x[i:i + 1] for i in range(20)],
                            length=16)
    return model, folder, (x, y, w)


def _output_details(path) -> dict:
    return {n: d for n, d in open_step_file(path)[3].items() if not n.startswith("state_")}


@pytest.mark.slow
def test_int8_step_file_gives_each_head_its_own_scale(int8_steps):
    model, folder, (x, _, _) = int8_steps
    details = _output_details(folder / "step.int8io.tflite")
    assert set(details) == set(HEADS)
    assert {d["dtype"] for d in details.values()} == {np.int8}
    scales = {n: details[n]["quantization"][0] for n in HEADS}
    # each scale spans its own head's calibrated range (min/max over the representative
    # windows, with 0 inside, over 255 levels) within 15 %, not the range of both heads
    outputs = model.predict_on_batch(x[:20])
    ranges = {n: max(outputs[n].max(), 0) - min(outputs[n].min(), 0) for n in HEADS}
    for name in HEADS:
        assert scales[name] == pytest.approx(ranges[name] / 255, rel=0.15), (name, scales)
    assert max(ranges.values()) / 255 > 2 * scales[TIMING_HEAD]  # a shared scale: coarser
    assert {d["dtype"] for d in _output_details(folder / "step.int8.tflite").values()} == {
        np.float32}
    inputs = open_step_file(folder / "step.int8io.tflite")[2]
    assert inputs["state_c_0"]["quantization"][0] <= 1.01 * 4 / 255  # calibrated in [-2, 2]


@pytest.mark.slow
def test_samplers_run_the_int8_two_head_files_and_score_near_keras(int8_steps):
    model, folder, (x, y, w) = int8_steps
    keras_figures = note_metrics(model.predict_on_batch(x), y, w)
    for name in ("step.int8.tflite", "step.int8io.tflite"):
        stepper = TFLiteStepper(folder / name)
        notes = generate_notes(stepper, length=20, seed=3)
        assert notes.shape == (20, 3) and ((notes[:, 0] >= 55) & (notes[:, 0] < 80)).mean() > 0.5
        figures = note_metrics(stepwise_model_fn(stepper)(x), y, w)
        # int8 against float32 on the training windows: pitch NLL within 2 % (seen 0.2 %)
        assert figures["pitch_nll"] == pytest.approx(keras_figures["pitch_nll"], rel=0.02)
        assert figures["step_mae"] == pytest.approx(keras_figures["step_mae"], abs=0.02)


class _Joined:
    """A stepper giving one 130-vector per step, as step files exported before the split."""

    keys = None

    def __init__(self, stepper):
        self.stepper = stepper

    def reset(self):
        self.stepper.reset()

    def step(self, x, frame=None):
        return np.concatenate(split_outputs(self.stepper.step(x)))


def test_outputs_of_the_concatenated_form_sample_and_score_alike(int8_steps):
    model = int8_steps[0]
    settings = dict(primer=_pieces(1, 5, seed=4)[0], length=30, seed=2, temperature=1.0)
    expected = generate_notes(KerasStepper(model), **settings)
    np.testing.assert_array_equal(generate_notes(_Joined(KerasStepper(model)), **settings),
                                  expected)
    assert len(set(expected[:, 0])) > 3  # sampled
    x, y, w = chunks(_pieces(2, 9, seed=5), 9)
    joined = stepwise_model_fn(_Joined(KerasStepper(model)))(x)
    assert joined.shape == (2, 9, 130)
    assert note_metrics(joined, y, w) == pytest.approx(
        note_metrics(model.predict_on_batch(x), y, w), rel=1e-5)


def test_bench_table_states_the_int8_pitch_nll_against_its_target():
    from rnnzoo.bench.music import notes_table

    row = {"pitch_nll": 1.8, "pitch_accuracy": 0.4, "step_mae": 0.03, "duration_mae": 0.12,
           "notes": 10}
    result = {"preset": "p", "parameters": 1234, "int8_tolerance": 0.01,
              "int8_relative_delta": 0.004, "int8_within_tolerance": True,
              "figures": {"keras": row, "tflite_int8_step": {**row, "bytes": 2048}}}
    text = "\n".join(notes_table(result))
    assert "tflite_int8_step" in text and "2,048" in text and "+0.40 % (within 1 %)" in text


def test_gradient_norms_take_a_loss_per_output_as_the_compiled_model_does():
    from zoo.diagnostics import gradient_norms

    keras.utils.set_random_seed(0)
    model = zoo.build("music-notes-gru", units=4)
    x, y, w = chunks(_pieces(2, 7, seed=1), 7)
    batch = (x, note_targets(y), w)
    given = gradient_norms(model, batch, loss=note_loss())
    model.compile(loss=note_loss())
    np.testing.assert_allclose(given, gradient_norms(model, batch), rtol=1e-5)
    assert given.shape == (7,) and (given > 0).all()


def test_note_lstm_cell_states_are_calibrated_on_their_declared_range():
    from export.calibration import step_calibration
    from export.step import step_model, step_spec

    assert step_spec(step_model(zoo.build("music-notes-gru", units=4))).state_ranges == {}
    keras.utils.set_random_seed(0)
    model = zoo.build("music-notes-lstm", units=[6, 5])
    assert step_spec(step_model(model)).state_ranges == {"state_c_0": 2.0, "state_c_1": 2.0}
    model.get_layer("lstm_0").quantized_cell_range = 0.05  # below what the cells reach
    x, _, _ = chunks(_pieces(3, 12, seed=2), 12)
    step = step_model(model)
    rows = step_calibration(step, {"previous_note": x * 5})
    assert np.abs(rows["state_c_0"]).max() == pytest.approx(0.05)
    assert np.abs(rows["state_c_1"]).max() > 0.05 and np.abs(rows["state_h_0"]).max() > 0.05
    unclipped = step_calibration(step, {"previous_note": x * 5}, clip_states=False)  # int16x8
    assert np.abs(unclipped["state_c_0"]).max() > 0.05


def test_autoregressive_pianoroll_lstm_declares_its_cell_range_and_the_gru_none():
    from export.step import step_model, step_spec
    from zoo.music import PIANOROLL_AR_CELL_RANGE

    lstm = zoo.build("music-pianoroll-lstm-ar", units=[5, 4])
    assert step_spec(step_model(lstm)).state_ranges == {
        "state_c_0": PIANOROLL_AR_CELL_RANGE, "state_c_1": PIANOROLL_AR_CELL_RANGE}
    assert step_spec(step_model(zoo.build("music-pianoroll-gru-ar", units=5))).state_ranges == {}
    assert step_spec(step_model(zoo.build("music-pianoroll-lstm", units=5))).state_ranges == {}
