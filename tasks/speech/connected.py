"""speech-connected-digits: CTC recognition of 2-7 FSDD digits joined with short gaps.

Each utterance takes 2-7 clips of one speaker (silence trimmed), joins them with random gaps
of 50-300 ms, adds 50-300 ms of lead-in and tail, light white noise (SNR 25-40 dB) and a
random gain. Utterances are drawn from the FSDD takes of their split only (train: takes
10-49, validation: 5-9, test: 0-4), so no recording crosses the split; each split has its
own fixed seed (test: 1,000 utterances). Transcripts are digit words, e.g. "4 0 7".
"""

from __future__ import annotations

import argparse

import numpy as np

from tasks.speech import fsdd, sequences
from tasks.speech.perturb import perturbed_copies, trim_silence

LABELS = [str(d) for d in range(10)]
MAX_SECONDS = 6.0
MAX_DIGITS = 7
SIZES = {"train": 6000, "validation": 300, "test": 1000}
SEEDS = {"train": 11, "validation": 12, "test": 13}


def compose(clips: list[np.ndarray], digits: list[int], rng: np.random.Generator, *,
            rate: int = fsdd.SAMPLE_RATE, max_samples: int | None = None,
            ) -> tuple[np.ndarray, list[str]] | None:
    """One utterance from trimmed ``clips``; None when it would exceed ``max_samples``."""
    parts = [np.zeros(int(rng.uniform(0.05, 0.3) * rate), np.float32)]
    for clip in clips:
        parts.append(clip)
        gap = rng.uniform(0.05, 0.3)  # between digits, and the tail after the last
        parts.append(np.zeros(int(gap * rate), np.float32))
    wave = np.concatenate(parts)
    if max_samples is not None and wave.size > max_samples:
        return None
    wave = wave / max(float(np.max(np.abs(wave))), 1e-6) * rng.uniform(0.2, 0.9)
    power = float(np.mean(wave ** 2))
    snr = rng.uniform(25.0, 40.0)
    wave = wave + rng.normal(0, np.sqrt(power / 10 ** (snr / 10)), wave.size)
    return np.clip(wave, -1, 1).astype(np.float32), [str(d) for d in digits]


def generate(waves: list[np.ndarray], clips: list[fsdd.Clip], n: int, seed: int, *,
             max_seconds: float = MAX_SECONDS) -> tuple[list[np.ndarray], list[list[str]]]:
    """``n`` utterances of 2-7 digits, one speaker each, from trimmed ``waves``."""
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[int]] = {}
    for i, clip in enumerate(clips):
        by_speaker.setdefault(clip.speaker, []).append(i)
    speakers = sorted(by_speaker)
    max_samples = int(max_seconds * fsdd.SAMPLE_RATE)
    out_waves, out_words = [], []
    while len(out_waves) < n:
        pool = by_speaker[speakers[rng.integers(len(speakers))]]
        count = int(rng.integers(2, MAX_DIGITS + 1))
        chosen = [pool[j] for j in rng.integers(0, len(pool), size=count)]
        made = compose([waves[j] for j in chosen], [clips[j].digit for j in chosen], rng,
                       max_samples=max_samples)
        if made is not None:
            out_waves.append(made[0])
            out_words.append(made[1])
    return out_waves, out_words


def load(path: str, split: str = "train", *, size: int | None = None, train_size: int | None = None,
         max_seconds: float = MAX_SECONDS, speeds: list[float] = (), pitches: list[float] = (),
         strict: bool = False, seed: int = 0):
    """Unbatched ``(waveform [max_seconds * 8000], targets [7])`` of one split.

    ``size`` sets this split's number of utterances, ``train_size`` the training split's
    only; ``speeds``/``pitches`` perturb the training split's source clips before composing.
    """
    waves, clips, _ = fsdd.load_split(path, split, strict=strict)
    waves = [trim_silence(w, top_db=30.0) for w in waves]
    if split == "train" and (speeds or pitches):
        waves, clips = perturbed_copies(waves, clips, fsdd.SAMPLE_RATE, speeds=tuple(speeds),
                                        pitches=tuple(pitches))
    n = size or (train_size if split == "train" and train_size else SIZES[split])
    utterances, words = generate(waves, clips, n, SEEDS[split] + 1000 * seed,
                                 max_seconds=max_seconds)
    return sequences.to_dataset(utterances, words, LABELS, int(max_seconds * fsdd.SAMPLE_RATE),
                                MAX_DIGITS)


def representative(path: str, n: int = 100, *, size: int | None = None,
                   train_size: int | None = None, max_seconds: float = MAX_SECONDS,
                   speeds: list[float] = (), pitches: list[float] = (), strict: bool = False,
                   seed: int = 0) -> list[np.ndarray]:
    """``n`` training utterances ``[1, samples]`` for int8 calibration.

    Takes the options of `load`; the split sizes (``n`` says how many) and the perturbed
    copies (``speeds``, ``pitches``) do not apply.
    """
    data = load(path, "train", size=n, max_seconds=max_seconds, strict=strict, seed=seed)
    return [x[None] for x, _ in data.as_numpy_iterator()]


def _add_options(parser: argparse.ArgumentParser) -> None:
    sequences.add_options(parser, "speech-connected-digits", units="64,64", conv="64",
                          bidirectional=False)
    parser.add_argument("--train-size", type=int,
                        help=f"training utterances generated (default: {SIZES['train']})")


TASK = sequences.ctc_task(
    name="speech-connected-digits",
    summary="Connected digits (2-7 FSDD digits with gaps and noise): CTC, WER",
    labels=LABELS, separator=" ", metric="wer", sample_rate=fsdd.SAMPLE_RATE,
    max_seconds=MAX_SECONDS, data_option_names=("speeds", "pitches", "strict", "train_size"),
    load=load,
    representative=representative,
    add_options=_add_options,
    data_license="CC BY-SA 4.0 (Free Spoken Digit Dataset, Jakobovski et al.)",
    dataset_name="connected digits composed from FSDD (train takes 10-49, validation 5-9, "
                 "test 0-4; 1,000 test utterances, seed 13)",
    train_defaults={"epochs": 20, "batch_size": 32, "learning_rate": 3e-3, "patience": 6},
)
