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
from tasks.speech.perturb import pad_or_cut, perturbed_copies

LABELS = ["no", "yes"]
RATE = 8000
MAX_SECONDS = 7.5
MAX_WORDS = 8
TRAIN_FILES = 31
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
    """The files of ``split``: train = first 31, validation = 27-30, test = the rest."""
    found = files(path)
    chosen = {"train": found[:TRAIN_FILES], "validation": found[TRAIN_FILES - 4 : TRAIN_FILES],
              "test": found[TRAIN_FILES:]}
    if split not in chosen:
        raise ValueError(f"unknown split {split!r}; expected train, validation or test")
    return chosen[split]


def word_segments(model, waves: list[np.ndarray], words: list[list[str]], hop: int):
    """(segment, word) pairs cut from ``waves`` where a CTC ``model`` emits each word.

    A file is cut at the midpoints between the frames where consecutive words are first
    emitted (greedy path); files whose greedy transcript differs from the label are left out.
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
        cuts = [0, *[(a + b) // 2 * hop for a, b in zip(starts, starts[1:])], wave.size]
        segments += [(wave[a:b], w) for a, b, w in zip(cuts, cuts[1:], labels)]
    return segments


def recompose(segments: list, n: int, seed: int = 0, lead_ins: list[np.ndarray] = (),
              ) -> tuple[list[np.ndarray], list[list[str]]]:
    """``n`` new 8-word utterances of random word segments (any word anywhere), each opened
    by a random one of ``lead_ins`` (the noise before the first word of a real file, so that
    the start of a recording is not a cue for the first word)."""
    rng = np.random.default_rng(seed)
    waves, words = [], []
    limit = int(MAX_SECONDS * RATE)
    while len(waves) < n:
        picks = [segments[i] for i in rng.integers(0, len(segments), MAX_WORDS)]
        lead = [lead_ins[rng.integers(len(lead_ins))]] if len(lead_ins) else []
        wave = np.concatenate([*lead, *[segment for segment, _ in picks]])
        if wave.size <= limit:
            waves.append(wave.astype(np.float32))
            words.append([word for _, word in picks])
    return waves, words


def load(path: str, split: str = "train", *, speeds: list[float] = (),
         pitches: list[float] = (), strict: bool = False, align_with: str | None = None,
         recomposed: int = 0):
    """Unbatched ``(waveform [7.5 s at 8 kHz], targets [8])`` of one split.

    Training extras: speed/pitch-perturbed copies, and ``recomposed`` utterances of word
    segments cut with the alignments of the CTC preset ``align_with`` (in the classic split
    every training file starts with "no" and every test file with "yes": recomposing puts
    each word everywhere).
    """
    waves, kept, _ = load_many(split_files(path, split), RATE, strict=strict,
                               max_seconds=MAX_SECONDS)
    words = [[LABELS[int(v)] for v in p.stem.split("_")] for p in kept]
    if split == "train" and recomposed and align_with:
        import zoo

        aligner = zoo.load(align_with)
        hop = aligner.model.get_layer("log_mel").hop_length
        leads = [w[: int(LEAD_IN * RATE)] for w in waves]
        extra = recompose(word_segments(aligner.model, waves, words, hop), recomposed,
                          lead_ins=leads)
    else:
        extra = ([], [])
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
    data_options=lambda args: sequences.data_options(args, ("speeds", "pitches", "strict",
                                                            "align_with", "recomposed")),
    builder_config=lambda args: sequences.builder_config(args, labels=LABELS, sample_rate=RATE,
                                                         max_seconds=MAX_SECONDS),
    needs_data=True,
    data_license="OpenSLR SLR1 yesno terms (research use)",
    dataset_name="OpenSLR SLR1 yesno; train = first 31 files by name, test = the other 29",
    train_defaults={"epochs": 40, "batch_size": 8, "learning_rate": 3e-3, "patience": 0},
    add_predict_options=add_ctc_predict_options,
    predict=sequences.predict,
)
