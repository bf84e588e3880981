"""Tiny synthetic speech-like data for tests: FSDD-shaped folders of tone "words".

Word ``d`` is a short harmonic tone whose pitch depends on ``d`` and the speaker, with a
little noise, so a small model can learn it in a few steps. Files are real WAVs named like
FSDD (``{digit}_{speaker}_{index}.wav``) or yesno (``0_1_..._1.wav``), so the same loaders
read them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 8000
SPEAKERS = ("alice", "bob", "carol")


def word(digit: int, speaker: int = 0, seconds: float = 0.25, rate: int = RATE,
         seed: int = 0) -> np.ndarray:
    """One synthetic word: a decaying two-harmonic tone, pitch set by ``digit``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 200.0 + 180.0 * digit + 15.0 * speaker + rng.uniform(-5, 5)
    envelope = np.sin(np.pi * t / t[-1]) ** 2
    tone = np.sin(2 * np.pi * f0 * t) + 0.4 * np.sin(2 * np.pi * 2 * f0 * t)
    return (0.3 * envelope * tone + rng.normal(0, 0.003, t.size)).astype(np.float32)


def write_fsdd(folder: str | Path, *, digits: int = 10, speakers: int = 2, takes: int = 12,
               rate: int = RATE) -> Path:
    """An FSDD-like ``folder/recordings/`` of ``digits x speakers x takes`` WAV files."""
    import soundfile as sf

    out = Path(folder) / "recordings"
    out.mkdir(parents=True, exist_ok=True)
    for d in range(digits):
        for s in range(speakers):
            for i in range(takes):
                seed = 10_000 * d + 100 * s + i
                sf.write(out / f"{d}_{SPEAKERS[s]}_{i}.wav", word(d, s, seed=seed, rate=rate), rate)
    return Path(folder)


def write_yesno(folder: str | Path, *, files: int = 8, words: int = 4, rate: int = RATE,
                seed: int = 0, gap: tuple[float, float] = (0.05, 0.15)) -> Path:
    """A yesno-like folder: each file is ``words`` tone words (0 = no, 1 = yes) with pauses
    of ``gap`` seconds (uniform) between them."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if files > 2 ** words:
        raise ValueError(f"only {2 ** words} distinct files of {words} words")
    used: set[str] = set()
    for n in range(files):
        labels = rng.integers(0, 2, size=words)
        while "_".join(map(str, labels)) in used:  # one file per label sequence, like yesno
            labels = rng.integers(0, 2, size=words)
        used.add("_".join(map(str, labels)))
        parts = [np.zeros(int(0.1 * rate), np.float32)]
        for k, label in enumerate(labels):
            parts += [word(int(label) * 5, 0, seed=100 * n + k, rate=rate),
                      np.zeros(int(rng.uniform(*gap) * rate), np.float32)]
        name = "_".join(str(int(v)) for v in labels)
        sf.write(folder / f"{name}.wav", np.concatenate(parts), rate)
    return folder
