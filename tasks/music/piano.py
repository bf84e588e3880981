"""Task ``music-piano``: classical piano performances as note sequences (piano-midi.de)."""

from __future__ import annotations

from tasks.music.note_task import make_task

TASK = make_task(
    "music-piano",
    mode="all",
    summary="Piano note sequences (pitch, step, duration) of all tracks: pitch NLL per note",
    dataset_name="piano-midi.de classical piano (MIDI), all tracks merged; test = every tenth "
                 "file in sorted path order, validation = the file before each",
    data_license="piano-midi.de: study and research only (http://www.piano-midi.de/copy.htm)",
    train_defaults={"epochs": 30, "batch_size": 64, "learning_rate": 3e-3, "patience": 5},
)
