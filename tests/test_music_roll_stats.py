"""Piano-roll statistics: notes per frame, triads and seventh chords, pitch range."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.music.pianoroll import to_pianoroll
from tasks.music.roll_stats import pitch_classes, roll_statistics


def test_pitch_classes_ignore_octaves_and_doublings():
    assert pitch_classes(to_pianoroll([[48, 60, 64, 67, 72]])[0]) == {0, 4, 7}


@pytest.mark.parametrize(("pitches", "kind"), [
    ([48, 64, 67, 72], "triad"),        # C major, doubled root
    ([57, 60, 64, 69], "triad"),        # A minor
    ([43, 59, 62, 65], "seventh"),      # G dominant seventh (G B D F)
    ([53, 57, 60, 64], "seventh"),      # F major seventh
    ([50, 53, 57, 60], "seventh"),      # D minor seventh
    ([59, 62, 65, 69], "seventh"),      # B half-diminished seventh
    ([59, 62, 65, 68], "seventh"),      # B diminished seventh
    ([59, 62, 65], "neither"),          # diminished triad
    ([60, 64, 68], "neither"),          # augmented triad
    ([43, 59, 65], "neither"),          # incomplete seventh (no fifth)
    ([60, 62, 64, 67], "neither"),      # added second
    ([60, 67], "neither"),              # open fifth
])
def test_chords_are_recognised_by_their_pitch_class_set(pitches, kind):
    figures = roll_statistics([to_pianoroll([pitches])])
    assert figures["triad_share"] == (kind == "triad")
    assert figures["seventh_share"] == (kind == "seventh")


def test_statistics_of_a_hand_made_set_of_rolls():
    first = to_pianoroll([[48, 64, 67, 72], [43, 59, 62, 65], [], [60]])
    second = to_pianoroll([[60, 62], [21, 22, 23, 24, 25, 26, 27, 28, 29]])
    figures = roll_statistics([first, second])
    assert figures["frames"] == 6 and figures["sounding_frames"] == 5
    assert figures["notes_per_frame"]["0"] == pytest.approx(1 / 6)
    assert figures["notes_per_frame"]["1"] == figures["notes_per_frame"]["2"] == \
        pytest.approx(1 / 6)
    assert figures["notes_per_frame"]["4"] == pytest.approx(2 / 6)
    assert figures["notes_per_frame"]["8+"] == pytest.approx(1 / 6)
    assert sum(figures["notes_per_frame"].values()) == pytest.approx(1.0)
    assert figures["mean_notes_per_frame"] == pytest.approx((4 + 4 + 0 + 1 + 2 + 9) / 6)
    assert figures["triad_share"] == pytest.approx(1 / 5)
    assert figures["seventh_share"] == pytest.approx(1 / 5)
    assert figures["chord_share"] == pytest.approx(2 / 5)
    assert figures["pitch_range"] == pytest.approx((24 + 22 + 0 + 2 + 8) / 5)


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="no piano rolls"):
        roll_statistics([])
    assert roll_statistics([np.zeros((3, 88))])["pitch_range"] == 0.0
