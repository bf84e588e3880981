"""speech-yesno: CTC recognition of the OpenSLR "yesno" corpus (8 words "yes"/"no" a file).

The label sequence is the file name (``0_1_1_0_...wav``: 0 = no, 1 = yes). Classic split: the
first 31 files in sorted name order train, the other 29 test. yesno has no development set, so
settings are chosen on the last 6 of the 31 (``validation``), which ``train`` then leaves out;
the final model trains on all 31 (``all_files``, split ``train+validation``).

Every training file starts with "no" and every test file with "yes", so a model can learn the
position of a word instead of its sound. Two things address that: ``recomposed`` training
utterances (the training files' words, cut at the pauses between them by signal energy, put
together in a random order between stretches of the files' own background noise) and a
validation split that holds such recomposed utterances of its own files' words too, so that
position bias shows before the test does.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from tasks.speech import segment, sequences
from tasks.speech.audio import load_many
from tasks.speech.perturb import perturbed_copies

LABELS = ["no", "yes"]
RATE = 8000
MAX_SECONDS = 7.5
MAX_WORDS = 8
TRAIN_FILES = 31
VALIDATION_FILES = 6
VALIDATION_RECOMPOSED = 40
RECOMPOSED = 1000
OPENING = (0.4, 1.3)  # seconds of noise before the first word of recomposed utterances
CLOSING = (0.3, 1.2)  # and after the last (real files: 0.6-1.3 s and 0.6-1.9 s)
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
    """The files of ``split``: train = the first 25, validation = the next 6 (files 25-30),
    train+validation = the first 31, test = the rest."""
    found = files(path)
    first = TRAIN_FILES - VALIDATION_FILES
    chosen = {"train": found[:first], "validation": found[first:TRAIN_FILES],
              "train+validation": found[:TRAIN_FILES], "test": found[TRAIN_FILES:]}
    if split not in chosen:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(chosen)}")
    return chosen[split]


def word_segments(waves: list[np.ndarray], words: list[list[str]], names: list[str] = (),
                  ) -> tuple[list[tuple[np.ndarray, str]], list[np.ndarray]]:
    """``(segment, word)`` pairs and the pauses (background noise) of ``waves``, cut where
    the signal energy splits each file into as many words as its label has
    (`tasks.speech.segment`). Files no threshold splits right are left out and named."""
    segments, pauses, missed = [], [], []
    for i, (wave, labels) in enumerate(zip(waves, words)):
        spans = segment.word_spans(wave, RATE, len(labels))
        if spans is None:
            missed.append(names[i] if i < len(names) else f"#{i}")
            continue
        cut, gaps = segment.cut_words(wave, spans)
        segments += list(zip(cut, labels))
        pauses += gaps
    if missed:
        print(f"note: speech-yesno: {len(missed)} of {len(waves)} files had no clean "
              f"{MAX_WORDS}-word split and give no recomposed words: {', '.join(missed)}",
              file=sys.stderr, flush=True)
    return segments, pauses


def _noise(pauses: list[np.ndarray], seconds: float, rng: np.random.Generator) -> np.ndarray:
    """``seconds`` of background noise: random pauses joined end to end."""
    size = int(seconds * RATE)
    if not pauses or size <= 0:
        return np.zeros(0, np.float32)
    parts, total = [], 0
    while total < size:
        parts.append(pauses[int(rng.integers(0, len(pauses)))])
        total += parts[-1].size
    return np.concatenate(parts)[:size]


def recompose(segments: list, n: int, seed: int = 0, pauses: list[np.ndarray] = (),
              ) -> tuple[list[np.ndarray], list[list[str]]]:
    """``n`` new 8-word utterances of random word segments (any word anywhere), opened by
    `OPENING` and closed by `CLOSING` seconds (uniform) of the recordings' own pauses, as
    real files are, so that neither the start of a recording nor its length is a cue."""
    if not segments:
        raise ValueError("no word segments to recompose utterances from")
    rng = np.random.default_rng(seed)
    waves, words = [], []
    limit = int(MAX_SECONDS * RATE)
    for _ in range(100 * n):
        if len(waves) == n:
            break
        picks = [segments[i] for i in rng.integers(0, len(segments), MAX_WORDS)]
        wave = np.concatenate([_noise(pauses, rng.uniform(*OPENING), rng),
                               *[piece for piece, _ in picks],
                               _noise(pauses, rng.uniform(*CLOSING), rng)])
        if wave.size <= limit:
            waves.append(wave.astype(np.float32))
            words.append([word for _, word in picks])
    if len(waves) < n:
        raise ValueError(f"{MAX_WORDS} of these words rarely fit in {MAX_SECONDS} s: "
                         f"{len(waves)} of {n} utterances made in {100 * n} tries")
    return waves, words


def _recomposed(waves, words, names, n: int, seed: int, required: bool = True):
    """``n`` recomposed utterances of the words of ``waves``; with no words found, an error
    when ``required`` (asked for in training), else none (the validation extra)."""
    segments, pauses = word_segments(waves, words, names)
    if not segments and not required:
        return [], []
    if not segments:
        raise ValueError(f"none of the {len(waves)} files splits into its words at the pauses, "
                         "so there are no words to recompose utterances from")
    return recompose(segments, n, seed=seed, pauses=pauses)


def load(path: str, split: str = "train", *, speeds: list[float] = (),
         pitches: list[float] = (), strict: bool = False, recomposed: int = 0,
         all_files: bool = False):
    """Unbatched ``(waveform [7.5 s at 8 kHz], targets [8])`` of one split.

    Training extras: speed/pitch-perturbed copies and ``recomposed`` utterances of the
    training files' words. The validation split adds `VALIDATION_RECOMPOSED` recomposed
    utterances of its own files' words (fixed seed). ``all_files`` trains on the validation
    files too (see the module docstring).
    """
    source = "train+validation" if split == "train" and all_files else split
    waves, kept, _ = load_many(split_files(path, source), RATE, strict=strict,
                               max_seconds=MAX_SECONDS)
    words = [[LABELS[int(v)] for v in p.stem.split("_")] for p in kept]
    names = [p.name for p in kept]
    extra = ([], [])
    if split == "train" and recomposed:
        extra = _recomposed(waves, words, names, recomposed, seed=0)
    elif split == "validation":
        extra = _recomposed(waves, words, names, VALIDATION_RECOMPOSED, seed=1,
                            required=False)
    if split == "train":
        waves, words = perturbed_copies(waves, words, RATE, speeds=tuple(speeds),
                                        pitches=tuple(pitches))
    waves, words = waves + extra[0], words + extra[1]
    waves = [w[: int(MAX_SECONDS * RATE)] for w in waves]
    return sequences.to_dataset(waves, words, LABELS, int(MAX_SECONDS * RATE), MAX_WORDS)


def representative(path: str, n: int = 100, *, speeds: list[float] = (),
                   pitches: list[float] = (), strict: bool = False, recomposed: int = 0,
                   all_files: bool = False) -> list[np.ndarray]:
    """Up to ``n`` training files ``[1, samples]`` for int8 calibration.

    Takes the options of `load`; the extra training utterances (``speeds``, ``pitches``,
    ``recomposed``) and ``all_files`` do not apply: calibration reads the 25 training files
    proper, never the validation files.
    """
    data = load(path, "train", strict=strict)
    return [x[None] for x, _ in data.take(n).as_numpy_iterator()]


def _add_options(parser: argparse.ArgumentParser) -> None:
    sequences.add_options(parser, "speech-yesno", units="48", conv="32", bidirectional=True,
                          dropout=0.0, spec_augment=False)
    parser.add_argument("--recomposed", type=int, default=RECOMPOSED,
                        help="extra training utterances of the training files' words in random "
                             f"order, cut at the pauses (default: {RECOMPOSED})")
    parser.add_argument("--all-files", action="store_true",
                        help="train on the 6 validation files too (all 31 training files): for "
                             "the final model once settings are chosen")


TASK = sequences.ctc_task(
    name="speech-yesno",
    summary="OpenSLR yesno: CTC recognition of 8 yes/no words a file, WER",
    labels=LABELS, separator=" ", metric="wer", sample_rate=RATE, max_seconds=MAX_SECONDS,
    data_option_names=("speeds", "pitches", "strict", "recomposed", "all_files"),
    refit_options=("all_files",),
    load=load,
    representative=representative,
    add_options=_add_options,
    data_license="OpenSLR SLR1 yesno terms (research use)",
    dataset_name="OpenSLR SLR1 yesno; train = first 25 files by name (31 with --all-files), "
                 "validation = files 26-31, test = the other 29",
    # Chosen on validation (files 26-31 + 40 recomposed): 1000 recomposed utterances, speed
    # copies, no dropout or SpecAugment, 20 epochs at 5e-3: WER 0 (12 epochs: 0.27 %; with
    # SpecAugment and dropout 0.1 CTC did not converge in 20 epochs: 54 %).
    train_defaults={"epochs": 20, "batch_size": 8, "learning_rate": 5e-3, "patience": 0},
)
