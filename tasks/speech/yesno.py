"""speech-yesno: CTC recognition of the OpenSLR "yesno" corpus (8 Hebrew yes/no words a file).

The label sequence is the file name (``0_1_1_0_...wav``: 0 = no, 1 = yes). Classic split: the
first 31 files in sorted name order train, the other 29 test. yesno has no development set, so
settings are chosen on the last 6 of the 31 (``validation``), which ``train`` then leaves out;
the final model trains on all 31 (``all_files``, split ``train+validation``).

Every training file starts with "no" and every test file with "yes", so a model can learn the
position of a word instead of its sound. Two things address that: ``recomposed`` training
utterances (word segments cut with a CTC preset's alignments, ``align_with``, put together in a
random order) and, with ``align_with``, a validation split that holds such recomposed
utterances of its own files' words too, so that position bias shows before the test does.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from tasks.speech import sequences
from tasks.speech.audio import load_many
from tasks.speech.perturb import pad_or_cut, perturbed_copies

LABELS = ["no", "yes"]
RATE = 8000
MAX_SECONDS = 7.5
MAX_WORDS = 8
TRAIN_FILES = 31
VALIDATION_FILES = 6
VALIDATION_RECOMPOSED = 40
LEAD_IN = 0.4  # seconds of noise before the first word in every yesno file
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


def word_segments(model, waves: list[np.ndarray], words: list[list[str]], hop: int):
    """(segment, word) pairs cut from ``waves`` where a CTC ``model`` emits each word.

    A file is cut at the midpoints between the frames where consecutive words are first
    emitted (greedy path); the first word starts as far before its frame as the second word
    does (not at the file's start: the long silence that opens a recording would otherwise
    come only with the first word, always "no" in the training files). Files whose greedy
    transcript differs from the label are left out.
    """
    from tasks.speech.ctc import greedy

    segments = []
    for wave, labels in zip(waves, words):
        samples = model.inputs[0].shape[1]
        logits = np.asarray(model.predict_on_batch(pad_or_cut(wave, samples)[None]))[0]
        best = logits.argmax(axis=-1)
        starts = [t for t in range(len(best)) if best[t] and (t == 0 or best[t] != best[t - 1])]
        if [LABELS[best[t] - 1] for t in starts] != labels or not greedy(logits[None])[0]:
            continue
        middles = [(a + b) // 2 * hop for a, b in zip(starts, starts[1:])]
        first = max(0, starts[0] * hop - (starts[1] * hop - middles[0])) if middles else 0
        cuts = [first, *middles, wave.size]
        segments += [(wave[a:b], w) for a, b, w in zip(cuts, cuts[1:], labels)]
    return segments


def recompose(segments: list, n: int, seed: int = 0, lead_ins: list[np.ndarray] = (),
              ) -> tuple[list[np.ndarray], list[list[str]]]:
    """``n`` new 8-word utterances of random word segments (any word anywhere), each opened
    by 0.2-0.8 s of ``lead_ins`` (the noise before the first word of real files), so that
    neither the start of a recording nor its length is a cue for the first word."""
    rng = np.random.default_rng(seed)
    waves, words = [], []
    limit = int(MAX_SECONDS * RATE)
    while len(waves) < n:
        picks = [segments[i] for i in rng.integers(0, len(segments), MAX_WORDS)]
        lead = []
        if len(lead_ins):
            noise = np.concatenate([lead_ins[i] for i in rng.integers(0, len(lead_ins), 2)])
            lead = [noise[: int(rng.uniform(0.2, 0.8) * RATE)]]
        wave = np.concatenate([*lead, *[segment for segment, _ in picks]])
        if wave.size <= limit:
            waves.append(wave.astype(np.float32))
            words.append([word for _, word in picks])
    return waves, words


def _recomposed(waves, words, align_with: str, n: int, seed: int):
    import zoo

    aligner = zoo.load(align_with)
    hop = aligner.model.get_layer("log_mel").hop_length
    leads = [w[: int(LEAD_IN * RATE)] for w in waves]
    return recompose(word_segments(aligner.model, waves, words, hop), n, seed=seed,
                     lead_ins=leads)


def load(path: str, split: str = "train", *, speeds: list[float] = (),
         pitches: list[float] = (), strict: bool = False, align_with: str | None = None,
         recomposed: int = 0, all_files: bool = False):
    """Unbatched ``(waveform [7.5 s at 8 kHz], targets [8])`` of one split.

    Training extras: speed/pitch-perturbed copies, and ``recomposed`` utterances of word
    segments cut with the alignments of the CTC preset ``align_with``. With ``align_with``,
    the validation split adds 40 recomposed utterances of its own files' words (fixed seed).
    ``all_files`` trains on the validation files too (see the module docstring).
    """
    source = "train+validation" if split == "train" and all_files else split
    waves, kept, _ = load_many(split_files(path, source), RATE, strict=strict,
                               max_seconds=MAX_SECONDS)
    words = [[LABELS[int(v)] for v in p.stem.split("_")] for p in kept]
    extra = ([], [])
    if split == "train" and recomposed and align_with:
        extra = _recomposed(waves, words, align_with, recomposed, seed=0)
    elif split == "validation" and align_with:
        extra = _recomposed(waves, words, align_with, VALIDATION_RECOMPOSED, seed=1)
    if split == "train":
        waves, words = perturbed_copies(waves, words, RATE, speeds=tuple(speeds),
                                        pitches=tuple(pitches))
    waves, words = waves + extra[0], words + extra[1]
    waves = [w[: int(MAX_SECONDS * RATE)] for w in waves]
    return sequences.to_dataset(waves, words, LABELS, int(MAX_SECONDS * RATE), MAX_WORDS)


def representative(path: str, n: int = 100, **options) -> list[np.ndarray]:
    """Up to ``n`` training files ``[1, samples]`` for int8 calibration."""
    return [x[None] for x, _ in load(path, "train").take(n).as_numpy_iterator()]


def _add_options(parser: argparse.ArgumentParser) -> None:
    sequences.add_options(parser, "speech-yesno", units="48", conv="32", bidirectional=True)
    parser.add_argument("--align-with", metavar="PRESET",
                        help="a yesno CTC preset whose alignments cut the training words")
    parser.add_argument("--recomposed", type=int, default=0,
                        help="extra training utterances recomposed from those words (default: 0)")
    parser.add_argument("--all-files", action="store_true",
                        help="train on the 6 validation files too (all 31 training files): for "
                             "the final model once settings are chosen")


TASK = sequences.ctc_task(
    name="speech-yesno",
    summary="OpenSLR yesno: CTC recognition of 8 yes/no words a file, WER",
    labels=LABELS, separator=" ", metric="wer", sample_rate=RATE, max_seconds=MAX_SECONDS,
    option_keys=("speeds", "pitches", "strict", "align_with", "recomposed", "all_files"),
    load=load,
    representative=representative,
    add_options=_add_options,
    data_license="OpenSLR SLR1 yesno terms (research use)",
    dataset_name="OpenSLR SLR1 yesno; train = first 25 files by name (31 with --all-files), "
                 "validation = files 26-31, test = the other 29",
    train_defaults={"epochs": 40, "batch_size": 8, "learning_rate": 3e-3, "patience": 0},
)
