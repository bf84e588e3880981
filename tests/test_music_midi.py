"""MIDI reading and writing: round trips, the melody-track choice, and errors naming the file."""

from __future__ import annotations

import mido
import numpy as np
import pretty_midi
import pytest

from tasks.music.midi import (
    MidiError,
    array_to_midi,
    choose_melody_track,
    notes_to_array,
    pianoroll_to_midi,
    read_many,
    read_midi,
    read_notes,
)


def write_tracks(path, tracks, tempo=120.0):
    """Write a file with one instrument per (pitches, start offset, name, is_drum)."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    for pitches, offset, name, drum in tracks:
        instrument = pretty_midi.Instrument(program=0, name=name, is_drum=drum)
        for i, pitch in enumerate(pitches):
            instrument.notes.append(
                pretty_midi.Note(80, pitch, offset + 0.5 * i, offset + 0.5 * i + 0.4)
            )
        midi.instruments.append(instrument)
    midi.write(str(path))
    return path


def write_meta(path, *messages):
    midi = mido.MidiFile()
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.extend(messages)
    track.append(mido.Message("note_on", note=60, velocity=64, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))
    midi.save(str(path))
    return path


def test_notes_round_trip_through_a_midi_file(tmp_path):
    notes = np.array(
        [[60, 0.0, 0.5], [64, 0.5, 0.25], [67, 0.0, 1.0], [72, 1.25, 0.75]], np.float32
    )
    array_to_midi(notes, tmp_path / "x.mid", program=40, tempo=90)
    back = read_notes(tmp_path / "x.mid", "all")
    order = np.lexsort((notes[:, 0], np.cumsum(notes[:, 1])))  # by start, then pitch
    np.testing.assert_allclose(back, notes[order], atol=2e-3)
    midi = read_midi(tmp_path / "x.mid")
    assert midi.instruments[0].program == 40
    assert midi.get_tempo_changes()[1][0] == pytest.approx(90, rel=1e-4)


def test_generated_notes_that_are_too_short_are_lengthened(tmp_path):
    midi = array_to_midi(np.array([[60, 0.0, 0.0], [62, 0.3, -1.0]]), tmp_path / "short.mid")
    assert all(n.end - n.start >= 0.049 for n in midi.instruments[0].notes)
    assert len(read_midi(tmp_path / "short.mid").instruments[0].notes) == 2
    with pytest.raises(ValueError, match="0-127"):
        array_to_midi(np.array([[128, 0.0, 0.5]]))


def test_steps_are_onset_differences_and_chords_reduce_to_their_top_in_melodies():
    notes = [
        pretty_midi.Note(80, p, s, s + 0.5) for p, s in [(67, 1.0), (60, 1.0), (64, 1.5), (62, 9.0)]
    ]
    np.testing.assert_allclose(
        notes_to_array(notes), [[60, 0, 0.5], [67, 0, 0.5], [64, 0.5, 0.5], [62, 4.0, 0.5]]
    )
    np.testing.assert_allclose(
        notes_to_array(notes, top_line=True)[:, :2], [[67, 0], [64, 0.5], [62, 4.0]]
    )


def test_melody_is_the_clear_top_line(tmp_path):
    path = write_tracks(tmp_path / "tune.mid", [([48, 52, 55] * 3, 0.0, "", False),
                                                ([72, 74, 76, 77], 0.0, "", False)])
    midi = read_midi(path)
    assert choose_melody_track(midi, path) == 1
    np.testing.assert_array_equal(read_notes(path)[:, 0], [72, 74, 76, 77])
    assert len(read_notes(path, "all")) == 13


def test_a_track_named_melody_wins_and_track_chooses_explicitly(tmp_path):
    path = write_tracks(tmp_path / "named.mid", [([60, 62], 0.0, "Melody", False),
                                                 ([80, 82], 0.0, "Descant", False)])
    assert choose_melody_track(read_midi(path), path) == 0
    np.testing.assert_array_equal(read_notes(path, track=1)[:, 0], [80, 82])
    with pytest.raises(MidiError, match="track 5 asked for, but the file has 2"):
        read_notes(path, track=5)


def test_ambiguous_melody_names_the_file_and_lists_the_tracks(tmp_path):
    path = write_tracks(tmp_path / "duet.mid", [([60, 64], 0.0, "flute", False),
                                                ([62, 65], 0.0, "oboe", False)])
    with pytest.raises(
        MidiError, match=r"duet.mid: ambiguous melody.*0: 'flute'.*1: 'oboe'.*track=N"
    ):
        read_notes(path)


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda p: p.write_text("MTrk not a header"), "not a MIDI file"),
        (lambda p: p.write_bytes(b""), "not a MIDI file"),
        (
            lambda p: p.write_bytes(
                write_tracks(p, [([60, 62, 64], 0.0, "", False)]).read_bytes()[:40]
            ),
            "truncated or corrupt",
        ),
        (lambda p: write_tracks(p, [([], 0.0, "", False)]), "no notes"),
        (lambda p: write_tracks(p, [([36, 38, 42], 0.0, "kit", True)]), "drum notes only"),
        (
            lambda p: write_meta(p, mido.MetaMessage("set_tempo", tempo=100)),
            "absurd tempo 600000 BPM",
        ),
        (
            lambda p: write_meta(p, mido.MetaMessage("set_tempo", tempo=16_000_000)),
            "absurd tempo 3.75 BPM",
        ),
        (
            lambda p: write_meta(
                p, mido.MetaMessage("time_signature", numerator=99, denominator=4)
            ),
            "absurd time signature 99/4",
        ),
    ],
)
def test_bad_files_get_one_clear_error_naming_them(tmp_path, make, problem):
    path = tmp_path / "bad.mid"
    make(path)
    with pytest.raises(MidiError, match=problem) as caught:
        read_notes(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.mid"):
        read_midi(tmp_path / "nothing.mid")


def test_collections_skip_and_report_bad_files_or_fail_when_strict(tmp_path):
    good = write_tracks(tmp_path / "a.mid", [([60, 62, 64], 0.0, "", False)])
    bad = tmp_path / "b.mid"
    bad.write_text("hello")
    lone = write_tracks(tmp_path / "c.mid", [([60], 0.0, "", False)])
    reports = []
    arrays, skipped = read_many([good, bad, lone], report=reports.append)
    assert len(arrays) == 1 and len(skipped) == 2
    assert "b.mid: not a MIDI file" in skipped[0] and "c.mid: only 1 note" in skipped[1]
    assert reports == [f"skipped 2 of 3 MIDI files ({skipped[0]}; {skipped[1]})"]
    with pytest.raises(MidiError, match="b.mid"):
        read_many([good, bad], strict=True)


def test_pianoroll_runs_become_notes(tmp_path):
    roll = np.zeros((4, 88))
    roll[0:2, 39] = 1  # C4 for two steps
    roll[3, 39] = 1
    roll[1, 0] = 1
    midi = pianoroll_to_midi(roll, tmp_path / "roll.mid", seconds_per_step=0.5)
    notes = sorted(
        (n.pitch, n.start, n.end) for n in read_midi(tmp_path / "roll.mid").instruments[0].notes
    )
    np.testing.assert_allclose(notes, [(21, 0.5, 1.0), (60, 0.0, 1.0), (60, 1.5, 2.0)], atol=1e-3)
    assert midi.get_tempo_changes()[1][0] == pytest.approx(120)


@pytest.mark.data
def test_every_nottingham_file_in_a_sample_gives_a_melody(shared_data):
    files = sorted((shared_data / "nottingham_midi" / "MIDI").glob("*.mid"))[::50]
    arrays, skipped = read_many(files)
    assert not skipped and len(arrays) == len(files)
    assert all(a[:, 0].mean() > 60 for a in arrays)  # the tune, not the chords
