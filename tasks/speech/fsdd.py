"""The Free Spoken Digit Dataset: file listing, the conventional and speaker splits, loading.

Files are ``{digit}_{speaker}_{index}.wav`` in ``recordings/`` (or the folder given). Splits:

* conventional (no ``holdout_speaker``): ``test`` = takes 0-4 of every speaker and digit;
  the training takes 5-49 are split into ``validation`` = takes 5-9 (model selection, early
  stopping) and ``train`` = takes 10-49.
* leave-one-speaker-out (``holdout_speaker=NAME``): ``test`` = every take of NAME;
  ``train`` = takes 5-49 of the other speakers, ``validation`` = their takes 0-4.
* ``train+validation``: both, for a final model trained once its settings are chosen.

``tfds:spoken_digit`` reads the TFDS copy of FSDD instead (its file names carry the same
speaker and take, so the same splits apply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.speech.audio import LoadReport, load_many

PATTERN = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
SPLITS = ("train", "validation", "test", "train+validation")
SAMPLE_RATE = 8000


@dataclass(frozen=True)
class Clip:
    """One FSDD recording."""

    path: Path
    digit: int
    speaker: str
    index: int


def recordings_folder(path: str | Path) -> Path:
    """The folder holding the ``.wav`` files: ``path`` or its ``recordings/``."""
    path = Path(path).expanduser()
    if (path / "recordings").is_dir():
        path = path / "recordings"
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such FSDD folder (expected recordings/*.wav)")
    return path


def list_clips(path: str | Path) -> list[Clip]:
    """Every ``{digit}_{speaker}_{index}.wav`` in the folder, sorted by file name."""
    folder = recordings_folder(path)
    clips = []
    for file in sorted(folder.iterdir()):
        match = PATTERN.match(file.name)
        if match:
            clips.append(Clip(file, int(match[1]), match[2], int(match[3])))
    if not clips:
        raise FileNotFoundError(f"{folder}: no FSDD recordings named digit_speaker_index.wav")
    return clips


def speakers(clips: list[Clip]) -> list[str]:
    """The speakers of ``clips``, sorted."""
    return sorted({clip.speaker for clip in clips})


def select(clips: list[Clip], split: str, holdout_speaker: str | None = None) -> list[Clip]:
    """The clips of ``split`` (see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if split == "train+validation":
        return sorted(select(clips, "train", holdout_speaker)
                      + select(clips, "validation", holdout_speaker), key=lambda c: c.path)
    if holdout_speaker is None:
        ranges = {"test": range(0, 5), "validation": range(5, 10), "train": range(10, 10**9)}
        return [c for c in clips if c.index in ranges[split]]
    known = speakers(clips)
    if holdout_speaker not in known:
        raise ValueError(f"unknown speaker {holdout_speaker!r}; FSDD here has {', '.join(known)}")
    if split == "test":
        return [c for c in clips if c.speaker == holdout_speaker]
    others = [c for c in clips if c.speaker != holdout_speaker]
    return [c for c in others if (c.index < 5) == (split == "validation")]


def load_split(path: str | Path, split: str, *, holdout_speaker: str | None = None,
               strict: bool = False, max_seconds: float | None = None,
               ) -> tuple[list[np.ndarray], list[Clip], LoadReport]:
    """Waveforms (8 kHz float32) and clips of one split; bad files skipped and reported."""
    if str(path).startswith("tfds:"):
        return _load_tfds(str(path)[5:], split, holdout_speaker)
    chosen = select(list_clips(path), split, holdout_speaker)
    waves, kept, report = load_many([c.path for c in chosen], SAMPLE_RATE, strict=strict,
                                    max_seconds=max_seconds)
    by_path = {c.path: c for c in chosen}
    return waves, [by_path[p] for p in kept], report


def _load_tfds(name: str, split: str, holdout_speaker: str | None):
    """FSDD from TFDS (``spoken_digit``: one split, 8 kHz int16 audio, file names kept)."""
    import tensorflow_datasets as tfds

    dataset = tfds.load(name or "spoken_digit", split="train")
    clips, waves = [], []
    for example in tfds.as_numpy(dataset):
        filename = example["audio/filename"].decode()
        match = PATTERN.match(Path(filename).name)
        if not match:
            continue
        clips.append(Clip(Path(filename), int(match[1]), match[2], int(match[3])))
        waves.append(example["audio"].astype(np.float32) / 32768.0)
    chosen = set(select(clips, split, holdout_speaker))
    keep = [i for i, c in enumerate(clips) if c in chosen]
    return [waves[i] for i in keep], [clips[i] for i in keep], LoadReport(loaded=len(keep))
