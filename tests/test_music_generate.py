"""Generation: sampling controls, the Keras stepper, `tasks.music.generate`, predict, plots."""

from __future__ import annotations

import json

import keras
import numpy as np
import pretty_midi
import pytest

import tasks.music
import zoo
from rnnzoo.cli import main
from tasks.music.midi import array_to_midi, read_midi
from tasks.music.sampling import (
    KerasStepper,
    generate_frames,
    generate_notes,
    sample_pitch,
    stepwise_model_fn,
)


class Recorder:
    """A stepper that records its inputs and returns fixed outputs."""

    def __init__(self, output):
        self.output, self.inputs, self.resets = np.asarray(output, np.float32), [], 0

    def reset(self):
        self.resets += 1
        self.inputs = []

    def step(self, x):
        self.inputs.append(np.array(x))
        return self.output


@pytest.fixture(scope="module")
def melody_preset(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = zoo.build("music-notes-gru", units=8)
    folder = tmp_path_factory.mktemp("music") / "melody"
    return zoo.save(model, folder, card={"task": "music-melody", "metrics": {}})


@pytest.fixture(scope="module")
def jsb_preset(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = zoo.build("music-pianoroll-lstm", units=8)
    folder = tmp_path_factory.mktemp("music") / "jsb"
    return zoo.save(model, folder, card={"task": "music-jsb", "metrics": {}})


@pytest.fixture
def primer_file(tmp_path):
    notes = np.array([[72, 0.0, 0.5], [74, 0.5, 0.5], [76, 0.5, 0.5], [77, 0.5, 1.0]])
    array_to_midi(notes, tmp_path / "tune.mid", program=73, tempo=100)
    return tmp_path / "tune.mid"


def test_top_k_one_and_low_temperature_pick_the_most_likely_pitch():
    logits = np.random.default_rng(0).normal(size=128)
    rng = np.random.default_rng(1)
    assert {sample_pitch(logits, rng, top_k=1) for _ in range(50)} == {int(logits.argmax())}
    assert {sample_pitch(logits, rng, temperature=1e-3) for _ in range(50)} == {
        int(logits.argmax())
    }


def test_sampling_follows_the_softmax_and_top_k_cuts_the_tail():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    rng = np.random.default_rng(0)
    counts = np.bincount([sample_pitch(logits, rng) for _ in range(20000)], minlength=4) / 20000
    np.testing.assert_allclose(counts, [0.5, 0.3, 0.15, 0.05], atol=0.015)
    top2 = (
        np.bincount([sample_pitch(logits, rng, top_k=2) for _ in range(5000)], minlength=4) / 5000
    )
    assert top2[2:].sum() == 0 and top2[0] == pytest.approx(0.5 / 0.8, abs=0.03)
    hot = (
        np.bincount([sample_pitch(logits, rng, temperature=4.0) for _ in range(5000)], minlength=4)
        / 5000
    )
    assert hot[3] > 0.15  # a high temperature flattens the distribution


def test_note_loop_feeds_start_vector_then_primer_then_its_own_notes():
    output = np.zeros(130, np.float32)
    output[64], output[128:] = 50.0, [0.25, -0.5]
    stepper = Recorder(output)
    primer = np.array([[60, 0.0, 0.5], [62, 0.5, 0.5]], np.float32)
    notes = generate_notes(stepper, primer=primer, length=3, seed=0)
    np.testing.assert_allclose(notes, [[64, 0.25, 0.0]] * 3)  # negative duration floored
    fed = np.stack(stepper.inputs)
    assert len(fed) == 1 + 2 + 2 and not fed[0].any()
    assert fed[1, 60] == fed[2, 62] == fed[3, 64] == 1 and fed[2, 128] == 0.5


def test_frame_loop_feeds_its_samples_back():
    stepper = Recorder(np.where(np.arange(88) < 3, 20.0, -20.0))
    frames = generate_frames(stepper, length=4, seed=0)
    assert frames.shape == (4, 88) and frames[:, :3].all() and frames[:, 3:].sum() == 0
    np.testing.assert_array_equal(np.stack(stepper.inputs[1:]), frames[:3])


@pytest.mark.parametrize("bad", [dict(temperature=0.0), dict(top_k=-1), dict(length=0)])
def test_bad_sampling_settings_are_refused(bad):
    with pytest.raises(ValueError):
        generate_notes(Recorder(np.zeros(130)), **bad)


@pytest.mark.parametrize(
    "builder, features",
    [("music-notes-lstm", 130), ("music-pianoroll-gru", 88), ("music-pianoroll-simple", 88)],
)
def test_keras_stepper_matches_the_sequence_model(builder, features):
    model = zoo.build(builder, units=[6, 5])
    x = np.random.default_rng(0).random((1, 9, features)).astype(np.float32)
    stepper = KerasStepper(model)
    steps = keras.tree.flatten(stepwise_model_fn(stepper)(x))  # note models: one per head
    expected = keras.tree.flatten(model.predict_on_batch(x))
    assert len(steps) == len(expected) == (2 if features == 130 else 1)
    for stepped, output in zip(steps, expected):
        np.testing.assert_allclose(stepped, output, atol=1e-5)
    stepper.reset()
    for first, stepped in zip(keras.tree.flatten(stepper.step(x[0, 0])), steps):
        np.testing.assert_allclose(first, stepped[0, 0], atol=1e-6)


def test_same_seed_same_music_other_seed_other_music(melody_preset):
    first = tasks.music.generate(melody_preset, length=40, seed=3)["generated"]
    again = tasks.music.generate(melody_preset, length=40, seed=3)["generated"]
    other = tasks.music.generate(melody_preset, length=40, seed=4)["generated"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[:, 0], other[:, 0])
    assert first.shape == (40, 3) and (first[:, 1:] >= 0).all()


def test_generate_writes_primer_and_continuation_with_the_primer_tempo_and_instrument(
        melody_preset, primer_file, tmp_path):
    result = tasks.music.generate(melody_preset, primer=primer_file, length=16, top_k=5,
                                  out=tmp_path / "new.mid", plot=tmp_path / "new.png")
    midi = pretty_midi.PrettyMIDI(str(result["midi"]))
    notes = midi.instruments[0].notes
    assert len(notes) == 4 + 16 and midi.instruments[0].program == 73
    assert midi.get_tempo_changes()[1][0] == pytest.approx(100, rel=1e-3)
    notes = sorted(notes, key=lambda n: (round(n.start, 3), n.pitch != 77))
    assert [n.pitch for n in notes[:4]] == [72, 74, 76, 77]  # new notes start at 1.5 s or later
    assert result["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scratch_generation_uses_120_bpm_and_a_piano(melody_preset, tmp_path):
    result = tasks.music.generate(str(melody_preset), length=8, out=tmp_path / "s.mid")
    midi = read_midi(result["midi"])
    assert midi.instruments[0].program == 0 and len(midi.instruments[0].notes) == 8
    assert midi.get_tempo_changes()[1][0] == pytest.approx(120, rel=1e-3)


def test_chorale_generation_writes_midi_and_a_plot(jsb_preset, primer_file, tmp_path):
    result = tasks.music.generate(jsb_preset, primer=primer_file, length=12, temperature=0.8,
                                  out=tmp_path / "c.mid", plot=tmp_path / "c.png")
    assert result["generated"].shape == (12, 88) and len(result["primer"]) >= 4
    assert result["plot"].stat().st_size > 1000
    if result["generated"].any():
        assert read_midi(result["midi"]).instruments[0].notes


def test_generate_refuses_presets_of_other_tasks(tmp_path):
    preset = zoo.save(zoo.build("adding-lstm", length=4, units=2), tmp_path / "a",
                      card={"task": "adding", "metrics": {}})
    with pytest.raises(ValueError, match="needs a music preset"):
        tasks.music.generate(preset)


def test_predict_command_from_primer_and_from_scratch(melody_preset, primer_file, tmp_path, capsys):
    out, png = tmp_path / "p.mid", tmp_path / "p.png"
    code = main(["predict", str(melody_preset), "--primer", str(primer_file), "--length", "12",
                 "--temperature", "0.9", "--top-k", "10", "--out", str(out), "--plot", str(png)])
    text = capsys.readouterr().out
    assert code == 0 and f"wrote {out}: 12 notes after 4 notes of tune.mid" in text
    assert png.is_file() and len(read_midi(out).instruments[0].notes) == 16
    code = main(["predict", str(melody_preset), "--length", "5", "--out", str(tmp_path / "s.mid"),
                 "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["generated_notes"] == 5 and result["primer"] is None


def test_predict_with_a_bad_primer_exits_2_naming_it(melody_preset, tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_text("text")
    code = main(["predict", str(melody_preset), str(bad), "--out", str(tmp_path / "x.mid")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.endswith(f"{bad}: not a MIDI file (no MThd header)")
    assert len(err.splitlines()) == 1
