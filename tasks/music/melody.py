"""Task ``music-melody``: monophonic melodies as note sequences (Nottingham folk tunes)."""

from __future__ import annotations

from tasks.music.note_task import make_task

TASK = make_task(
    "music-melody",
    mode="melody",
    summary="Melody note sequences (pitch, step, duration) from MIDI: pitch NLL per note",
    dataset_name="Nottingham folk tunes (MIDI), melody track; test = every tenth file in "
                 "sorted file-name order, validation = the file before each",
    data_license="GPL-3.0 (Nottingham Music Database)",
    train_defaults={"epochs": 40, "batch_size": 64, "learning_rate": 3e-3, "patience": 6},
)
