"""speech-yesno: CTC recognition of the OpenSLR "yesno" corpus (8 Hebrew yes/no words a file).

The label sequence is the file name (``0_1_1_0_...wav``: 0 = no, 1 = yes). Classic split: the
first 31 files in sorted name order train, the other 29 test. ``validation`` is the last 4
training files (yesno has no development set; it monitors the fit, it is not held out).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from tasks.common.task import Task
from tasks.speech import sequences
from tasks.speech.audio import load_many
from tasks.speech.ctc import CTCLoss, add_ctc_predict_options, metric_for
from tasks.speech.perturb import perturbed_copies

LABELS = ["no", "yes"]
RATE = 8000
MAX_SECONDS = 7.5
MAX_WORDS = 8
TRAIN_FILES = 31
NAME = re.compile(r"^[01](_[01])*\.wav$")


def files(path: str | Path) -> list[Path]:
    """The yesno WAV files of ``path``, sorted by name (other files are ignored)."""
    folder = Path(path).expanduser()
    if (folder / "waves_yesno").is_dir():
        folder = folder / "waves_yesno"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such yesno folder")
    found = sorted(p for p in folder.iterdir() if NAME.match(p.name))
    if not found:
        raise FileNotFoundError(f"{folder}: no yesno files named like 0_1_1_0_1_0_0_1.wav")
    return found


def split_files(path: str | Path, split: str) -> list[Path]:
    """The files of ``split``: train = first 31, validation = 27-30, test = the rest."""
    found = files(path)
    chosen = {"train": found[:TRAIN_FILES], "validation": found[TRAIN_FILES - 4 : TRAIN_FILES],
              "test": found[TRAIN_FILES:]}
    if split not in chosen:
        raise ValueError(f"unknown split {split!r}; expected train, validation or test")
    return chosen[split]


def load(path: str, split: str = "train", *, speeds: list[float] = (),
         pitches: list[float] = (), strict: bool = False):
    """Unbatched ``(waveform [7.5 s at 8 kHz], targets [8])`` of one split."""
    waves, kept, _ = load_many(split_files(path, split), RATE, strict=strict,
                               max_seconds=MAX_SECONDS)
    words = [[LABELS[int(v)] for v in p.stem.split("_")] for p in kept]
    if split == "train":
        waves, words = perturbed_copies(waves, words, RATE, speeds=tuple(speeds),
                                        pitches=tuple(pitches))
    waves = [w[: int(MAX_SECONDS * RATE)] for w in waves]
    return sequences.to_dataset(waves, words, LABELS, int(MAX_SECONDS * RATE), MAX_WORDS)


def representative(path: str, n: int = 100, **options) -> list[np.ndarray]:
    """Up to ``n`` training files ``[1, samples]`` for int8 calibration."""
    return [x[None] for x, _ in load(path, "train").take(n).as_numpy_iterator()]


def _add_options(parser: argparse.ArgumentParser) -> None:
    sequences.add_options(parser, "speech-yesno", units="48", conv="32", bidirectional=True)


TASK = Task(
    name="speech-yesno",
    summary="OpenSLR yesno: CTC recognition of 8 yes/no words a file, WER",
    builders=("speech-ctc",),
    load=load,
    metric=metric_for(LABELS, " "),
    representative=representative,
    loss=CTCLoss(),
    primary_metric="wer",
    lower_is_better=True,
    add_options=_add_options,
    data_options=lambda args: sequences.data_options(args, ("speeds", "pitches", "strict")),
    builder_config=lambda args: sequences.builder_config(args, labels=LABELS, sample_rate=RATE,
                                                         max_seconds=MAX_SECONDS),
    needs_data=True,
    data_license="OpenSLR SLR1 yesno terms (research use)",
    dataset_name="OpenSLR SLR1 yesno; train = first 31 files by name, test = the other 29",
    train_defaults={"epochs": 40, "batch_size": 8, "learning_rate": 3e-3, "patience": 0},
    add_predict_options=add_ctc_predict_options,
    predict=sequences.predict,
)
