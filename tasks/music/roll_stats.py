"""Statistics of a set of piano rolls, to compare sampled music with the data (`roll_statistics`).

A frame's *pitch-class set* is the set of its sounding pitches modulo 12 (octave doublings
and voicing ignored). It counts as

* a triad when it is exactly a major ``{r, r+4, r+7}`` or minor ``{r, r+3, r+7}`` triad,
* a seventh chord when it is exactly one of the five complete seventh chords of common-practice
  harmony: dominant ``{r, r+4, r+7, r+10}``, major ``{r, r+4, r+7, r+11}``, minor
  ``{r, r+3, r+7, r+10}``, half-diminished ``{r, r+3, r+6, r+10}`` and diminished
  ``{r, r+3, r+6, r+9}`` sevenths,

for some root ``r`` (any of the 12). Diminished and augmented triads, incomplete sevenths (no
fifth) and chords with added notes count as neither.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from zoo.music import LOWEST_KEY

TRIADS = {"major": (0, 4, 7), "minor": (0, 3, 7)}
SEVENTHS = {"dominant": (0, 4, 7, 10), "major": (0, 4, 7, 11), "minor": (0, 3, 7, 10),
            "half-diminished": (0, 3, 6, 10), "diminished": (0, 3, 6, 9)}
MAX_COUNT = 8  # notes-per-frame counts from here on are pooled ("8+")


def _transpositions(shapes: Iterable[tuple[int, ...]]) -> frozenset[frozenset[int]]:
    return frozenset(frozenset((root + step) % 12 for step in shape)
                     for shape in shapes for root in range(12))


TRIAD_SETS = _transpositions(TRIADS.values())
SEVENTH_SETS = _transpositions(SEVENTHS.values())


def pitch_classes(frame: np.ndarray, lowest: int = LOWEST_KEY) -> frozenset[int]:
    """The pitch classes (0 = C) sounding in a 0/1 frame whose key 0 is MIDI ``lowest``."""
    return frozenset(int(k + lowest) % 12 for k in np.flatnonzero(np.asarray(frame) > 0.5))


def roll_statistics(rolls: Iterable[np.ndarray], lowest: int = LOWEST_KEY) -> dict:
    """Statistics of piano rolls (each ``[T, keys]``, 0/1), over all their frames together.

    Returns ``frames`` (all) and ``sounding_frames`` (with at least one note);
    ``notes_per_frame``: the share of all frames with 0, 1, ..., 7 and 8 or more notes (keys
    ``"0"``..``"7"``, ``"8+"``) and ``mean_notes_per_frame``; ``triad_share``,
    ``seventh_share`` and ``chord_share`` (their sum): the share of *sounding* frames whose
    pitch-class set is a major or minor triad, or a seventh chord (module docstring);
    ``pitch_range``: the mean over sounding frames of highest minus lowest sounding pitch, in
    semitones (0 for a single note).
    """
    frames = [np.asarray(roll) > 0.5 for roll in rolls]
    if not frames:
        raise ValueError("no piano rolls to describe")
    frames = np.concatenate(frames)
    if not len(frames):
        raise ValueError("the piano rolls hold no frames")
    counts = frames.sum(axis=1)
    histogram = {str(n): float(np.mean(counts == n)) for n in range(MAX_COUNT)}
    histogram[f"{MAX_COUNT}+"] = float(np.mean(counts >= MAX_COUNT))
    sounding = frames[counts > 0]
    triads = sevenths = 0
    ranges = []
    for frame in sounding:
        classes = pitch_classes(frame, lowest)
        triads += classes in TRIAD_SETS
        sevenths += classes in SEVENTH_SETS
        keys = np.flatnonzero(frame)
        ranges.append(int(keys[-1] - keys[0]))
    n = max(len(sounding), 1)
    return {"frames": int(len(frames)), "sounding_frames": int(len(sounding)),
            "notes_per_frame": histogram, "mean_notes_per_frame": float(counts.mean()),
            "triad_share": triads / n, "seventh_share": sevenths / n,
            "chord_share": (triads + sevenths) / n,
            "pitch_range": float(np.mean(ranges)) if ranges else 0.0}
