"""MIDI in and out (pretty_midi), with checks that name the file and the problem.

Notes are handled as ``[N, 3]`` float arrays of ``(pitch, step, duration)``: MIDI pitch,
seconds since the previous note's start (0 for the first note) and seconds sounding, in the
order of their start times (lower pitch first within a chord).

Which notes a file gives (`read_notes`):

- ``mode="all"``: every note of every non-drum track (piano music: both hands).
- ``mode="melody"``: one track, chosen so: ``track=`` when given (the index among the
  file's non-drum tracks with notes); else the only such track; else the one track whose
  name says melody (melody, lead, solo, voice, vocal, tune); else the track with the highest
  mean pitch *if* it lies at least `MELODY_MARGIN` semitones above every other track's mean
  pitch (the top line, as in the Nottingham files, melody over chords). Otherwise the file is
  ambiguous and refused with an error listing the tracks. Chords inside the melody track are
  reduced to their highest note.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from zoo.errors import RnnzooError

MIN_TEMPO, MAX_TEMPO = 5.0, 500.0  # BPM; piano-midi.de has fermatas down to 8 BPM
MAX_NUMERATOR = 32
DENOMINATORS = (1, 2, 4, 8, 16, 32, 64)
MELODY_MARGIN = 7.0  # semitones (a fifth)
MELODY_NAMES = ("melody", "lead", "solo", "voice", "vocal", "tune")
MAX_SECONDS = 4.0  # steps and durations are clipped to this in the encoding
MIN_DURATION = 0.05  # seconds; shorter generated notes are lengthened when written
DEFAULT_TEMPO = 120.0


class MidiError(RnnzooError):
    """A MIDI file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def _pretty_midi():
    import pretty_midi

    return pretty_midi


def read_midi(path: str | os.PathLike):
    """Parse ``path`` into a ``pretty_midi.PrettyMIDI`` and check it.

    Raises `MidiError` for: a file that is not MIDI, a truncated or corrupt one, absurd tempo
    (outside 5-500 BPM) or time signature (numerator over 32 or a denominator that is not a
    power of two up to 64), no notes at all, or drum notes only.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such MIDI file")
    with path.open("rb") as handle:
        head = handle.read(4)
    if head != b"MThd":
        raise MidiError(path, "not a MIDI file (no MThd header)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi's notes on type-0/1 tempo tracks
            midi = _pretty_midi().PrettyMIDI(str(path))
    except (EOFError, OSError, ValueError, KeyError, IndexError) as error:
        detail = f" ({error})" if str(error) else ""
        raise MidiError(path, f"truncated or corrupt MIDI data{detail}") from None
    check_midi(midi, path)
    return midi


def check_midi(midi, path: str | os.PathLike) -> None:
    """The tempo, time-signature and note checks of `read_midi` on a parsed file."""
    times, tempi = midi.get_tempo_changes()
    for time, tempo in zip(times, tempi):
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise MidiError(path, f"absurd tempo {tempo:.6g} BPM at {time:.2f} s (accepted: "
                                  f"{MIN_TEMPO:g}-{MAX_TEMPO:g} BPM)")
    for signature in midi.time_signature_changes:
        if not (1 <= signature.numerator <= MAX_NUMERATOR
                and signature.denominator in DENOMINATORS):
            raise MidiError(path, f"absurd time signature {signature.numerator}/"
                                  f"{signature.denominator} at {signature.time:.2f} s")
    pitched = [i for i in midi.instruments if not i.is_drum and i.notes]
    if not pitched:
        if any(i.notes for i in midi.instruments):
            raise MidiError(path, "drum notes only (MIDI channel 10); nothing pitched to learn")
        raise MidiError(path, "no notes")


def pitched_tracks(midi) -> list:
    """The non-drum instruments that have notes, in file order."""
    return [i for i in midi.instruments if not i.is_drum and i.notes]


def _mean_pitch(instrument) -> float:
    return float(np.mean([n.pitch for n in instrument.notes]))


def choose_melody_track(midi, path: str | os.PathLike, track: int | None = None) -> int:
    """Index into `pitched_tracks` of the melody (the rule in the module docstring)."""
    tracks = pitched_tracks(midi)
    if track is not None:
        if not 0 <= track < len(tracks):
            raise MidiError(path, f"track {track} asked for, but the file has {len(tracks)} "
                                  "non-drum tracks with notes (numbered from 0)")
        return track
    if len(tracks) == 1:
        return 0
    named = [i for i, t in enumerate(tracks)
             if any(word in (t.name or "").lower() for word in MELODY_NAMES)]
    if len(named) == 1:
        return named[0]
    means = [_mean_pitch(t) for t in tracks]
    order = sorted(range(len(tracks)), key=lambda i: means[i], reverse=True)
    if means[order[0]] - means[order[1]] >= MELODY_MARGIN:
        return order[0]
    listing = "; ".join(f"{i}: {(t.name or 'unnamed')!r}, {len(t.notes)} notes, mean pitch "
                        f"{means[i]:.1f}" for i, t in enumerate(tracks))
    raise MidiError(path, f"ambiguous melody: no track is named as one and none lies "
                          f"{MELODY_MARGIN:g}+ semitones above the others ({listing}); "
                          "choose one with track=N")


def notes_to_array(notes: Iterable, *, top_line: bool = False) -> np.ndarray:
    """``[N, 3]`` (pitch, step, duration) of pretty_midi notes, sorted by start then pitch.

    ``top_line`` keeps only the highest note of each group of notes starting together.
    Steps and durations are clipped to ``[0, MAX_SECONDS]``.
    """
    ordered = sorted(notes, key=lambda n: (n.start, n.pitch))
    if top_line:
        kept = []
        for note in ordered:
            if kept and abs(note.start - kept[-1].start) < 1e-6:
                kept[-1] = note  # same onset, higher pitch
            else:
                kept.append(note)
        ordered = kept
    if not ordered:
        return np.zeros((0, 3), np.float32)
    starts = np.array([n.start for n in ordered], np.float64)
    steps = np.diff(starts, prepend=starts[0])
    durations = np.array([n.end - n.start for n in ordered], np.float64)
    pitches = np.array([n.pitch for n in ordered], np.float64)
    array = np.stack([pitches, np.clip(steps, 0, MAX_SECONDS),
                      np.clip(durations, 0, MAX_SECONDS)], axis=1)
    return array.astype(np.float32)


def read_notes(path: str | os.PathLike, mode: str = "melody",
               track: int | None = None) -> np.ndarray:
    """``[N, 3]`` (pitch, step, duration) of a MIDI file; see the module docstring for
    ``mode`` ("melody" or "all") and ``track``. Raises `MidiError` naming the file."""
    if mode not in ("melody", "all"):
        raise ValueError(f"unknown mode {mode!r}; expected 'melody' or 'all'")
    midi = read_midi(path)
    tracks = pitched_tracks(midi)
    if mode == "all":
        return notes_to_array([n for t in tracks for n in t.notes])
    melody = tracks[choose_melody_track(midi, path, track)]
    return notes_to_array(melody.notes, top_line=True)


def midi_facts(path: str | os.PathLike) -> dict:
    """Tempo (first), instrument program and name of the melody or first track of a file, for
    writing a continuation that sounds like its primer."""
    midi = read_midi(path)
    tracks = pitched_tracks(midi)
    try:
        first = tracks[choose_melody_track(midi, path)]
    except MidiError:
        first = tracks[0]
    tempi = midi.get_tempo_changes()[1]
    tempo = float(tempi[0]) if len(tempi) else DEFAULT_TEMPO
    return {"tempo": tempo, "program": int(first.program), "name": first.name or ""}


def array_to_midi(notes: np.ndarray, path: str | os.PathLike | None = None, *,
                  program: int = 0, tempo: float = DEFAULT_TEMPO, velocity: int = 90,
                  name: str = "rnnzoo"):
    """A ``PrettyMIDI`` of ``[N, 3]`` (pitch, step, duration) notes, written to ``path`` if
    given. ``program`` is the General MIDI instrument (0: Acoustic Grand Piano); ``tempo`` is
    written as the file's tempo (times stay in seconds). Durations shorter than
    `MIN_DURATION` are lengthened to it; pitches must be 0-127."""
    pretty_midi = _pretty_midi()
    notes = np.asarray(notes, np.float64).reshape(-1, 3)
    if len(notes) and (notes[:, 0].min() < 0 or notes[:, 0].max() > 127):
        raise ValueError("pitches must be MIDI numbers 0-127")
    if not MIN_TEMPO <= tempo <= MAX_TEMPO or not 0 <= program <= 127:
        raise ValueError(f"tempo must be {MIN_TEMPO:g}-{MAX_TEMPO:g} BPM and program 0-127, "
                         f"got {tempo}, {program}")
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    instrument = pretty_midi.Instrument(program=int(program), name=name)
    start = 0.0
    for pitch, step, duration in notes:
        start += max(float(step), 0.0)
        end = start + max(float(duration), MIN_DURATION)
        instrument.notes.append(pretty_midi.Note(velocity=int(velocity), pitch=int(round(pitch)),
                                                 start=start, end=end))
    midi.instruments.append(instrument)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        midi.write(str(path))
    return midi


def pianoroll_to_midi(roll: np.ndarray, path: str | os.PathLike | None = None, *,
                      seconds_per_step: float = 0.5, lowest: int = 21, program: int = 0,
                      velocity: int = 80):
    """A ``PrettyMIDI`` of a ``[T, keys]`` 0/1 roll (key 0 = MIDI ``lowest``): one note per
    run of consecutive sounding steps of a key; written to ``path`` if given."""
    pretty_midi = _pretty_midi()
    roll = np.asarray(roll) > 0.5
    tempo = 60.0 / seconds_per_step  # one step per beat
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    instrument = pretty_midi.Instrument(program=program, name="rnnzoo")
    padded = np.concatenate([np.zeros((1, roll.shape[1]), bool), roll,
                             np.zeros((1, roll.shape[1]), bool)])
    for key in range(roll.shape[1]):
        edges = np.diff(padded[:, key].astype(np.int8))
        for on, off in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            instrument.notes.append(pretty_midi.Note(
                velocity=velocity, pitch=lowest + key, start=on * seconds_per_step,
                end=off * seconds_per_step))
    instrument.notes.sort(key=lambda n: (n.start, n.pitch))
    midi.instruments.append(instrument)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        midi.write(str(path))
    return midi


def read_many(paths: Sequence[str | os.PathLike], *, mode: str = "melody",
              strict: bool = False, report=None) -> tuple[list[np.ndarray], list[str]]:
    """Notes of each file of ``paths``: ``(arrays, skipped)``.

    A file that fails its checks is skipped and its error message (naming it) added to
    ``skipped``; ``report`` (e.g. ``print``) is called once with a summary when files were
    skipped. ``strict=True`` raises the first `MidiError` instead. Files with fewer than two
    notes are skipped too (nothing to predict).
    """
    arrays, skipped = [], []
    for path in paths:
        try:
            notes = read_notes(path, mode)
            if len(notes) < 2:
                raise MidiError(path, f"only {len(notes)} note(s); at least 2 are needed")
        except MidiError as error:
            if strict:
                raise
            skipped.append(str(error))
            continue
        arrays.append(notes)
    if skipped and report is not None:
        shown = "; ".join(skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
        report(f"skipped {len(skipped)} of {len(paths)} MIDI files ({shown})")
    return arrays, skipped



def read_frames(path: str | os.PathLike, *, keys: int = 88, lowest: int = 21) -> np.ndarray:
    """``[T, keys]`` 0/1 frames of a MIDI file at quarter-note resolution (JSB style): the
    non-drum pitches sounding at each beat of the file's tempo map; pitches off the keyboard
    are dropped."""
    midi = read_midi(path)
    beats = midi.get_beats()
    frames = np.zeros((len(beats), keys), np.float32)
    for track in pitched_tracks(midi):
        for note in track.notes:
            if not lowest <= note.pitch < lowest + keys:
                continue
            sounding = (beats >= note.start - 1e-6) & (beats < note.end - 1e-6)
            frames[sounding, note.pitch - lowest] = 1.0
    last = int(np.flatnonzero(frames.any(axis=1)).max()) + 1 if frames.any() else 0
    if last == 0:
        raise MidiError(path, "no notes sound on any beat")
    return frames[:last]
