"""The on-device generator: sampling over exported TFLite step models (needs `export`)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import export
import zoo
from tasks.music.midi import array_to_midi, read_midi
from tasks.music.notes import chunks
from tasks.music.sampling import KerasStepper, generate_frames, generate_notes, stepwise_model_fn
from tasks.music.tflite_sampler import TFLiteStepper


def _pieces(count=12, length=40, seed=0):
    rng = np.random.default_rng(seed)
    return [np.stack([rng.integers(55, 80, length), rng.choice([0.25, 0.5], length),
                      rng.choice([0.25, 0.5, 1.0], length)], axis=1).astype(np.float32)
            for _ in range(count)]


@pytest.fixture(scope="module")
def melody_steps(tmp_path_factory):
    """A briefly trained note LSTM, its float32 and int8 TFLite step models and its float32
    sequence model (one converter process)."""
    keras.utils.set_random_seed(0)
    model = zoo.build("music-notes-lstm", units=16)
    x, y, w = chunks(_pieces(), 16)
    from tasks.music.notes import note_loss, note_targets

    model.compile(keras.optimizers.Adam(1e-2), loss=note_loss())
    data = tf.data.Dataset.from_tensor_slices((x, note_targets(y), w)).batch(8)
    model.fit(data, epochs=3, verbose=0, shuffle=False)
    folder = tmp_path_factory.mktemp("tflite")
    targets = {export.Variant(kind="step", quantize=q): folder / f"step-{q}.tflite"
               for q in ("fp32", "int8")}
    targets[export.Variant(kind="sequence")] = folder / "sequence.tflite"
    export.convert_variants(model, targets, representative=[x[i:i + 1] for i in range(20)],
                            length=16)
    return model, {f"{v.kind}-{v.quantize}": p for v, p in targets.items()}


@pytest.mark.slow
def test_float_tflite_generates_what_keras_generates(melody_steps):
    model, files = melody_steps
    primer = _pieces(1, 10, seed=5)[0]
    for seed, temperature, top_k in ((0, 1.0, None), (7, 1.5, 12)):
        settings = dict(primer=primer, length=60, seed=seed, temperature=temperature, top_k=top_k)
        keras_notes = generate_notes(KerasStepper(model), **settings)
        lite_notes = generate_notes(TFLiteStepper(files["step-fp32"]), **settings)
        np.testing.assert_array_equal(lite_notes[:, 0], keras_notes[:, 0])
        np.testing.assert_allclose(lite_notes[:, 1:], keras_notes[:, 1:], atol=1e-4)
        assert len(set(keras_notes[:, 0])) > 5  # sampled, not a constant


@pytest.mark.slow
def test_int8_tflite_generates_a_valid_midi_file(melody_steps, tmp_path):
    _, files = melody_steps
    notes = generate_notes(TFLiteStepper(files["step-int8"]), length=50, seed=1)
    assert notes.shape == (50, 3) and ((notes[:, 0] >= 0) & (notes[:, 0] < 128)).all()
    array_to_midi(notes, tmp_path / "int8.mid")
    assert len(read_midi(tmp_path / "int8.mid").instruments[0].notes) == 50


@pytest.mark.slow
def test_stepwise_scoring_of_the_step_model_matches_the_keras_sequence_model(melody_steps):
    model, files = melody_steps
    x, _, _ = chunks(_pieces(2, 12, seed=3), 12)
    stepped = stepwise_model_fn(TFLiteStepper(files["step-fp32"]))(x)
    expected = model.predict_on_batch(x)
    assert set(stepped) == set(expected) == {"pitch_logits", "step_duration"}
    for name in expected:
        np.testing.assert_allclose(stepped[name], expected[name], atol=1e-4)


def test_files_that_are_not_step_models_are_refused(melody_steps, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.tflite"):
        TFLiteStepper(tmp_path / "nothing.tflite")
    with pytest.raises(ValueError, match="sequence.tflite: not a step model"):
        TFLiteStepper(melody_steps[1]["sequence-fp32"])


# --- autoregressive piano roll: export, evaluate, sample key by key --------------------------

def _chorales(count: int, length: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    chords = [[48, 60, 64, 67], [43, 59, 62, 67], [45, 57, 60, 64], [41, 57, 60, 65]]
    return [[chords[i] for i in rng.integers(0, 4, length)] for _ in range(count)]


@pytest.fixture(scope="module")
def ar_export(tmp_path_factory):
    """A tiny triangular GRU trained briefly on chord chorales, saved as a preset and exported
    with `rnnzoo export`'s defaults; returns (preset folder, data file, export folder)."""
    import json

    from rnnzoo.cli import main

    folder = tmp_path_factory.mktemp("ar")
    data = folder / "jsb-chorales-quarter.json"
    data.write_text(json.dumps({"train": _chorales(12, 24, 0), "valid": _chorales(3, 24, 1),
                                "test": _chorales(3, 24, 2)}))
    from tasks.music.pianoroll import load_jsb

    keras.utils.set_random_seed(0)
    model = zoo.build("music-pianoroll-gru-ar", units=6)
    model.compile(keras.optimizers.Adam(3e-2),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(load_jsb(data, "train", frame_input=True).batch(4), epochs=8, verbose=0,
              shuffle=False)
    card = {"task": "music-jsb", "data_options": {"frame_input": True}, "metrics": {}}
    preset = zoo.save(model, folder / "preset", card=card)
    out = folder / "export"
    assert main(["export", str(preset), "--out", str(out), "--data", str(data),
                 "--eval-examples", "3", "--representative", "4"]) == 0
    return preset, data, out


@pytest.mark.slow
def test_ar_step_files_carry_the_key_loop_and_sample_what_keras_samples(ar_export):
    preset, _, out = ar_export
    model = zoo.load(preset).model
    keras_stepper = KerasStepper(model)
    lite = TFLiteStepper(out / "step.fp32.tflite")
    assert lite.keys.form == "triangular"
    np.testing.assert_array_equal(lite.keys.arrays["W"], keras_stepper.keys.arrays["W"])
    primer = np.zeros((3, 88), np.float32)
    primer[:, [27, 39, 43, 46]] = 1
    for seed, temperature in ((0, 1.0), (5, 0.7)):
        settings = dict(primer=primer, length=24, seed=seed, temperature=temperature)
        expected = generate_frames(keras_stepper, **settings)
        np.testing.assert_array_equal(generate_frames(lite, **settings), expected)
        assert expected.sum() > 10  # sampled notes, not silence
    int8 = generate_frames(TFLiteStepper(out / "step.int8.tflite"), length=24, seed=0)
    assert int8.shape == (24, 88) and set(np.unique(int8)) <= {0.0, 1.0}


@pytest.mark.slow
def test_ar_exported_files_score_with_evaluate(ar_export, capsys):
    import json

    from rnnzoo.cli import main

    preset, data, out = ar_export
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["layer_data"]["logits"]["form"] == "triangular"
    report = json.loads((out / "report.json").read_text())
    assert report["keras"]["latency_ms"] > 0, report["notes"]  # a model of a dict of inputs
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", str(data), "--json"]) == 0
    results = {Path(r["model"]).name: r["metrics"] for r in json.loads(capsys.readouterr().out)}
    assert {"step.fp32.tflite", "step.int8.tflite", "sequence.int8.tflite"} <= set(results)
    assert main(["evaluate", str(preset), "--data", str(data), "--json"]) == 0
    keras_nll = json.loads(capsys.readouterr().out)["metrics"]["nll"]
    assert keras_nll < 8.0  # even odds: 61 nats per step
    for name, figures in results.items():
        tolerance = 1e-4 if ".fp32." in name else 0.05
        assert figures["nll"] == pytest.approx(keras_nll, rel=tolerance), name


@pytest.mark.slow
def test_ar_predict_writes_midi_and_plot_with_keras_and_tflite(ar_export, tmp_path, capsys):
    from rnnzoo.cli import main
    from tasks.music.midi import read_frames

    preset, _, out = ar_export
    frames = {}
    for backend, extra in (("keras", []), ("tflite", ["--tflite", str(out / "step.fp32.tflite")])):
        midi = tmp_path / f"{backend}.mid"
        assert main(["predict", str(preset), "--length", "16", "--seed", "3", "--out", str(midi),
                     "--plot", str(tmp_path / f"{backend}.png"), *extra]) == 0
        assert (tmp_path / f"{backend}.png").stat().st_size > 0
        frames[backend] = read_frames(midi)
    np.testing.assert_array_equal(frames["tflite"], frames["keras"])
    assert "16 frames from scratch" in capsys.readouterr().out


@pytest.mark.slow
def test_rnn_nade_step_file_samples_what_keras_samples(tmp_path):
    """The conditioned key loop reads the last recurrent layer's state from the file's
    state outputs (``context``): the float32 file draws the frames the Keras stepper draws."""
    keras.utils.set_random_seed(1)
    model = zoo.build("music-pianoroll-lstm-ar", units=[5, 4], form="rnn-nade", nade_units=3)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # large weights, so the state and the lower keys matter
        weight.assign(rng.normal(0.0, 1.0, weight.shape).astype(np.float32))
    path = tmp_path / "step.fp32.tflite"
    export.convert_variants(model, {export.Variant(kind="step", quantize="fp32"): path},
                            length=8)
    lite, keras_stepper = TFLiteStepper(path), KerasStepper(model)
    assert lite.keys.conditioned and lite.context_state == "state_h_1"
    np.testing.assert_array_equal(lite.keys.arrays["U"], keras_stepper.keys.arrays["U"])
    settings = dict(length=16, seed=3, temperature=0.9)
    expected = generate_frames(keras_stepper, **settings)
    np.testing.assert_array_equal(generate_frames(lite, **settings), expected)
    np.testing.assert_allclose(lite.context, keras_stepper.context, atol=1e-5)
    assert 10 < expected.sum() < expected.size - 10  # sampled keys, neither silence nor all
