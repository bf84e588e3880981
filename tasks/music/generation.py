"""`generate`: continue a primer (or start from scratch) with a music preset, to MIDI."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from tasks.music.midi import (
    DEFAULT_TEMPO,
    array_to_midi,
    midi_facts,
    pianoroll_to_midi,
    read_frames,
    read_notes,
)
from tasks.music.sampling import KerasStepper, generate_frames, generate_notes

NOTE_TASKS = {"music-melody": "melody", "music-piano": "all"}
ROLL_TASKS = ("music-jsb",)
SECONDS_PER_FRAME = 0.5  # a quarter note at 120 BPM


def _preset(preset):
    if hasattr(preset, "model") and hasattr(preset, "card"):
        return preset
    import zoo

    return zoo.load(preset)


def _stepper(preset, tflite: str | os.PathLike | None):
    if tflite is None:
        return KerasStepper(preset.model)
    from tasks.music.tflite_sampler import TFLiteStepper

    return TFLiteStepper(tflite)


def generate(preset, *, primer: str | os.PathLike | np.ndarray | None = None,
             length: int | None = None, temperature: float = 1.0, top_k: int | None = None,
             seed: int | None = 0, out: str | os.PathLike | None = None,
             plot: str | os.PathLike | None = None, track: int | None = None,
             tflite: str | os.PathLike | None = None) -> dict[str, Any]:
    """Generate music with a ``music-*`` preset (name, folder or loaded `zoo.Preset`).

    ``primer``: a MIDI file (its melody for ``music-melody``, every track for
    ``music-piano``, its quarter-note frames for ``music-jsb``; ``track`` picks the melody
    track), an array of notes ``[P, 3]`` / frames ``[P, 88]``, or None to start from scratch.
    ``length``: new notes (default 128) or frames (default 64). Pitches are drawn with
    ``temperature`` and ``top_k`` (note models) from ``numpy.random.default_rng(seed)``.
    ``out``: MIDI file to write, the primer followed by the continuation, with the primer's
    tempo and instrument (else 120 BPM, Acoustic Grand Piano). ``plot``: PNG of both.
    ``tflite``: sample with this TFLite step model instead of the Keras model.

    Returns ``{"task", "primer", "generated", "midi", "plot", "seconds", "notes_per_second"}``
    (``primer``/``generated`` as arrays; ``notes_per_second`` counts generated notes or
    frames per second of sampling).
    """
    preset = _preset(preset)
    task = preset.card.get("task")
    if task not in NOTE_TASKS and task not in ROLL_TASKS:
        raise ValueError(f"{preset.name}: generate needs a music preset, this one is for "
                         f"task {task!r}")
    facts = {"tempo": DEFAULT_TEMPO, "program": 0}
    if isinstance(primer, (str, os.PathLike)):
        if task in ROLL_TASKS:
            primer_array = read_frames(primer)
        else:
            primer_array = read_notes(primer, NOTE_TASKS[task], track=track)
        facts = midi_facts(primer)
    else:
        primer_array = None if primer is None else np.asarray(primer, np.float32)
    stepper = _stepper(preset, tflite)
    start = time.perf_counter()
    if task in ROLL_TASKS:
        generated = generate_frames(stepper, primer=primer_array, length=length or 64,
                                    temperature=temperature, seed=seed)
    else:
        generated = generate_notes(stepper, primer=primer_array, length=length or 128,
                                   temperature=temperature, top_k=top_k, seed=seed)
    seconds = time.perf_counter() - start
    whole = generated if primer_array is None else np.concatenate([primer_array, generated])
    midi_path = None
    if out is not None:
        midi_path = Path(out)
        if task in ROLL_TASKS:
            pianoroll_to_midi(whole, midi_path, seconds_per_step=SECONDS_PER_FRAME)
        else:
            array_to_midi(whole, midi_path, program=facts["program"], tempo=facts["tempo"],
                          name=f"rnnzoo {preset.name}")
    plot_path = None
    if plot is not None:
        from tasks.music.plot import plot_frames, plot_notes

        draw = plot_frames if task in ROLL_TASKS else plot_notes
        plot_path = draw(primer_array, generated, plot,
                         title=f"{preset.name}: T={temperature:g}, seed {seed}")
    return {"task": task, "primer": primer_array, "generated": generated, "midi": midi_path,
            "plot": plot_path, "seconds": seconds, "notes_per_second": len(generated) / seconds}
