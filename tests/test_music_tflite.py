"""The on-device generator: sampling over exported TFLite step models (needs `export`)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import export
import zoo
from tasks.music.midi import array_to_midi, read_midi
from tasks.music.notes import chunks
from tasks.music.sampling import KerasStepper, generate_notes, stepwise_model_fn
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
    from tasks.music.notes import NoteLoss

    model.compile(keras.optimizers.Adam(1e-2), loss=NoteLoss())
    model.fit(x, y, sample_weight=w, epochs=3, batch_size=8, verbose=0)
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
    np.testing.assert_allclose(stepped, model.predict_on_batch(x), atol=1e-4)


def test_files_that_are_not_step_models_are_refused(melody_steps, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.tflite"):
        TFLiteStepper(tmp_path / "nothing.tflite")
    with pytest.raises(ValueError, match="sequence.tflite: not a step model"):
        TFLiteStepper(melody_steps[1]["sequence-fp32"])
