"""speech-chars: character CTC on LJ Speech (the subset here, or the full set through TFDS).

``metadata.csv`` lines are ``id|text|normalized text``; audio is ``wavs16k/{id}.wav`` (16 kHz)
or the release's ``wavs/{id}.wav`` (22.05 kHz, resampled). ``--data tfds:ljspeech`` reads
TFDS's ``ljspeech``. Text is lower-cased and kept to a-z, apostrophe and space. Splits by
sorted id: every 10th utterance (0, 10, ...) is test, every 10th from 5 is validation, the
rest train. There is too little data here for a useful recognizer: the task shows the path.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from tasks.speech import sequences
from tasks.speech.audio import load_many

LABELS = [" ", "'", *"abcdefghijklmnopqrstuvwxyz"]
RATE = 16000
MAX_SECONDS = 12.5
MAX_CHARS = 200


def normalize(text: str) -> str:
    """Lower case, a-z/apostrophe/space only, single spaces."""
    text = re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " "))
    return re.sub(r" +", " ", text).strip()


def _which(index: int) -> str:
    return "test" if index % 10 == 0 else "validation" if index % 10 == 5 else "train"


def _rows(path: Path) -> list[tuple[str, str]]:
    metadata = path / "metadata.csv"
    if not metadata.is_file():
        raise FileNotFoundError(f"{metadata}: LJ Speech metadata.csv not found")
    rows = []
    for line in metadata.read_text(encoding="utf-8").splitlines():
        parts = line.split("|")
        if len(parts) >= 2:
            rows.append((parts[0], normalize(parts[-1])))
    return sorted(rows)


def _tfds(name: str, split: str):
    import tensorflow_datasets as tfds

    waves, texts = [], []
    data = tfds.load(name or "ljspeech", split="train")
    examples = sorted(tfds.as_numpy(data), key=lambda e: e["id"])
    for i, example in enumerate(examples):
        if _which(i) == split:
            import librosa

            wave = example["speech"].astype(np.float32) / 32768.0
            waves.append(librosa.resample(wave, orig_sr=22050, target_sr=RATE))
            texts.append(normalize(example["text_normalized"].decode()))
    return waves, texts


def load(path: str, split: str = "train", *, strict: bool = False):
    """Unbatched ``(waveform [12.5 s at 16 kHz], targets [200 chars])`` of one split."""
    if split not in ("train", "validation", "test"):
        raise ValueError(f"unknown split {split!r}; expected train, validation or test")
    if str(path).startswith("tfds:"):
        waves, texts = _tfds(str(path)[5:], split)
    else:
        folder = Path(path).expanduser()
        audio = folder / "wavs16k" if (folder / "wavs16k").is_dir() else folder / "wavs"
        rows = [row for i, row in enumerate(_rows(folder)) if _which(i) == split]
        waves, kept, _ = load_many([audio / f"{rid}.wav" for rid, _ in rows], RATE,
                                   strict=strict, max_seconds=MAX_SECONDS)
        text_of = {audio / f"{rid}.wav": text for rid, text in rows}
        texts = [text_of[p] for p in kept]
    keep = [i for i, t in enumerate(texts) if 0 < len(t) <= MAX_CHARS]
    return sequences.to_dataset([waves[i] for i in keep], [list(texts[i]) for i in keep],
                                LABELS, int(MAX_SECONDS * RATE), MAX_CHARS)


def representative(path: str, n: int = 100, *, strict: bool = False) -> list[np.ndarray]:
    """Up to ``n`` training clips ``[1, samples]`` for int8 calibration (options as `load`)."""
    data = load(path, "train", strict=strict)
    return [x[None] for x, _ in data.take(n).as_numpy_iterator()]


def _add_options(parser: argparse.ArgumentParser) -> None:
    sequences.add_options(parser, "speech-chars", units="96,96", conv="96", bidirectional=True)


TASK = sequences.ctc_task(
    name="speech-chars",
    summary="Characters from LJ Speech (CTC): the end-to-end path, CER",
    labels=LABELS, separator="", metric="cer", sample_rate=RATE, max_seconds=MAX_SECONDS,
    data_option_names=("strict",),
    load=load,
    representative=representative,
    add_options=_add_options,
    data_license="public domain (LJ Speech 1.1)",
    dataset_name="LJ Speech 1.1 subset (141 clips, 16 kHz); test = every 10th by id",
    train_defaults={"epochs": 30, "batch_size": 8, "learning_rate": 2e-3, "patience": 0},
)
