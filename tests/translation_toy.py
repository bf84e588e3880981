"""A toy parallel corpus for the translation tests: English number words and their German
words in the same order (a word-for-word mapping a small model learns in seconds)."""

from __future__ import annotations

import numpy as np

WORDS = {"one": "eins", "two": "zwei", "three": "drei", "four": "vier", "five": "fünf",
         "six": "sechs", "seven": "sieben", "eight": "acht", "red": "rot", "blue": "blau"}


def toy_pairs(count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``count`` (English, German) sentences of 2-5 words."""
    rng = np.random.default_rng(seed)
    english, german = [], []
    keys = sorted(WORDS)
    for _ in range(count):
        chosen = [keys[i] for i in rng.integers(0, len(keys), rng.integers(2, 6))]
        english.append(" ".join(chosen).capitalize() + ".")
        german.append(" ".join(WORDS[w] for w in chosen).capitalize() + ".")
    return english, german


def write_folder(folder, *, train: int = 300, validation: int = 40, test: int = 40) -> None:
    """A Multi30k-style folder: train/val/test_2016_flickr .en and .de files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, count, seed in (("train", train, 0), ("val", validation, 1),
                              ("test_2016_flickr", test, 2)):
        english, german = toy_pairs(count, seed)
        (folder / f"{name}.en").write_text("\n".join(english) + "\n", encoding="utf-8")
        (folder / f"{name}.de").write_text("\n".join(german) + "\n", encoding="utf-8")
