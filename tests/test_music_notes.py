"""Note-sequence tasks (music-melody, music-piano): splits, encoding, loss, metrics, builders."""

from __future__ import annotations

import math

import keras
import numpy as np
import pretty_midi
import pytest

import tasks
import zoo
from tasks.music.notes import (
    chunks,
    encode_inputs,
    midi_files,
    note_loss,
    note_metrics,
    read_pieces,
    split_files,
)
from zoo.errors import RnnzooError


def write_tune(path, pitches, step=0.25, chords=None):
    midi = pretty_midi.PrettyMIDI()
    melody = pretty_midi.Instrument(0, name="")
    for i, pitch in enumerate(pitches):
        melody.notes.append(pretty_midi.Note(90, pitch, i * step, i * step + step))
    midi.instruments.append(melody)
    if chords:
        accompaniment = pretty_midi.Instrument(0)
        for i, pitch in enumerate(chords):
            accompaniment.notes.append(pretty_midi.Note(70, pitch, i * 1.0, i * 1.0 + 1.0))
        midi.instruments.append(accompaniment)
    midi.write(str(path))


@pytest.fixture
def tunes(tmp_path):
    """20 tunes of 12 notes, each a C major scale run up from a random degree (a melody over
    a bass line), and one broken file."""
    folder = tmp_path / "tunes"
    folder.mkdir()
    rng = np.random.default_rng(0)
    scale = 60 + np.array([0, 2, 4, 5, 7, 9, 11])
    for i in range(20):
        degrees = rng.integers(0, 7) + np.arange(12)
        run = scale[degrees % 7] + 12 * (degrees // 7)
        write_tune(folder / f"tune{i:02d}.mid", [int(p) for p in run], chords=[40, 43, 45])
    (folder / "zz-broken.mid").write_text("not midi")
    return folder


def test_every_tenth_file_in_name_order_is_held_out(tmp_path):
    files = [tmp_path / f"f{i:02d}.mid" for i in range(25)]
    assert [f.name for f in split_files(files, "test")] == ["f09.mid", "f19.mid"]
    assert [f.name for f in split_files(files, "validation")] == ["f08.mid", "f18.mid"]
    train = split_files(files, "train")
    assert len(train) == 21 and not set(train) & set(split_files(files, "test"))
    with pytest.raises(ValueError, match="unknown split"):
        split_files(files, "valid")


def test_files_are_sorted_by_relative_path(tmp_path):
    for name in ("b/x.mid", "a/z.MID", "a/y.midi", "c.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in midi_files(tmp_path)] == [
        "a/y.midi",
        "a/z.MID",
        "b/x.mid",
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no .mid"):
        midi_files(tmp_path / "empty")


def test_inputs_are_the_previous_note_after_a_start_vector():
    notes = np.array([[60, 0.0, 0.5], [62, 0.5, 0.25], [64, 0.25, 1.0]], np.float32)
    inputs = encode_inputs(notes)
    assert inputs.shape == (3, 130) and not inputs[0].any()
    assert inputs[1, 60] == 1 and inputs[1, 128:].tolist() == [0.0, 0.5]
    assert inputs[2, 62] == 1 and inputs[2, 128:].tolist() == [0.5, 0.25]
    assert inputs[:, :128].sum() == 2


def test_windows_cover_every_note_and_pad_the_last():
    piece = np.stack([np.arange(60, 65), np.full(5, 0.5), np.full(5, 0.5)], axis=1).astype(
        np.float32
    )
    inputs, targets, weights = chunks([piece], 2)
    assert inputs.shape == (3, 2, 130) and weights.sum() == 5
    np.testing.assert_array_equal(targets[weights > 0][:, 0], np.arange(60, 65))
    assert inputs[1, 0, 61] == 1  # the second window starts from the true previous note
    overlapping = chunks([piece], 4, 2)[2]
    assert overlapping.shape == (2, 4) and overlapping.sum() == 7


def test_loader_skips_bad_files_and_strict_fails(tunes, capsys):
    task = tasks.get_task("music-melody")
    data = list(task.load(tunes, "train", window=8).as_numpy_iterator())
    assert "skipped 1 of" in capsys.readouterr().err  # zz-broken.mid is the 21st file: train
    assert data[0][0].shape == (8, 130) and data[0][1]["step_duration"].shape == (8, 2)
    pitches = np.concatenate([t["pitch_logits"][w > 0] for _, t, w in data])
    assert pitches.min() >= 60  # the melody, not the bass
    with pytest.raises(RnnzooError, match="zz-broken.mid: not a MIDI file"):
        read_pieces(tunes, "train", strict=True)
    test = list(task.load(tunes, "test").as_numpy_iterator())
    assert len(test) == 2 and sum(w.sum() for *_, w in test) == 24


def test_piano_task_reads_every_track(tunes):
    pieces = read_pieces(tunes, "test", mode="all")
    assert len(pieces[0]) == 15 and pieces[0][:, 0].min() == 40


def test_note_metrics_by_hand():
    targets = np.array([[60, 0.5, 0.25], [62, 0.0, 1.0]])
    outputs = np.zeros((2, 130))
    outputs[0, 60] = 2.0
    outputs[1, 64] = 1.0
    outputs[:, 128:] = [[0.25, 0.25], [-1.0, 0.5]]
    figures = note_metrics(outputs, targets)
    nll0 = -(2.0 - math.log(math.exp(2.0) + 127))
    nll1 = -(0.0 - math.log(math.exp(1.0) + 127))
    assert figures["pitch_nll"] == pytest.approx((nll0 + nll1) / 2)
    assert figures["pitch_accuracy"] == 0.5
    assert figures["step_mae"] == pytest.approx((0.25 + 0.0) / 2)  # -1 counts as 0
    assert figures["duration_mae"] == pytest.approx((0.0 + 0.5) / 2)
    weights = np.array([1.0, 0.0])
    assert note_metrics(outputs, targets, weights)["pitch_accuracy"] == 1.0


def test_loss_is_cross_entropy_plus_timing_error():
    pitch, timing = np.array([[3]], np.int32), np.array([[[0.5, 1.0]]], np.float32)
    logits, predicted = np.zeros((1, 1, 128), np.float32), np.array([[[0.0, 0.5]]], np.float32)
    losses = note_loss()
    assert float(losses["pitch_logits"](pitch, logits)) == pytest.approx(math.log(128), rel=1e-5)
    assert float(losses["step_duration"](timing, predicted)) == pytest.approx(0.5, rel=1e-5)
    assert float(note_loss(0.0)["step_duration"](timing, predicted)) == 0.0


@pytest.mark.parametrize("builder", ["music-notes-lstm", "music-notes-gru"])
def test_note_builders_are_causal(builder):
    model = zoo.build(builder, units=[8, 8], dropout=0.1)
    x = np.random.default_rng(0).random((2, 5, 130)).astype(np.float32)
    changed = x.copy()
    changed[:, 3:] += 1.0
    before, after = model.predict_on_batch(x), model.predict_on_batch(changed)
    assert before["pitch_logits"].shape == (2, 5, 128)
    for name in before:
        np.testing.assert_allclose(before[name][:, :3], after[name][:, :3], atol=1e-6)


def test_short_training_learns_pitches_and_timing(tunes):
    """A small LSTM on 16 scale runs learns that the next note is the next degree."""
    keras.utils.set_random_seed(0)
    task = tasks.get_task("music-melody")
    data = task.load(tunes, "train", window=12)
    model = zoo.build("music-notes-lstm", units=32)
    model.compile(keras.optimizers.Adam(1e-2), loss=task.loss)
    model.fit(data.repeat(30).batch(16), epochs=4, verbose=0, shuffle=False)
    figures = task.metric(model.predict_on_batch, task.load(tunes, "validation"))
    assert figures["pitch_nll"] < 1.0, figures  # seen 0.22; uniform over 128 pitches: 4.85
    assert figures["step_mae"] < 0.1, figures
