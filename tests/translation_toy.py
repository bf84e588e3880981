"""A toy parallel corpus for the translation tests: English number words and their German
words in the same order (a word-for-word mapping a small model learns in seconds)."""

from __future__ import annotations

import functools

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


@functools.lru_cache(maxsize=1)
def trained_toy():
    """A small translation model trained on `toy_pairs` (seconds; cached for the session):
    ``(model, subwords, validation examples, calibration samples)``. The model's config
    holds the subwords, as a trained preset's does."""
    import keras

    import zoo
    from tasks.common.subwords import Subwords
    from tasks.translation.data import Pairs, encode

    def data(count: int, seed: int):
        english, german = toy_pairs(count, seed)
        return encode(Pairs(english, german, [f"toy:{i}" for i in range(count)]), words,
                      max_source_length=16, max_length=16, quiet=True)

    keras.utils.set_random_seed(0)
    english, german = toy_pairs(600, 0)
    words = Subwords.learn(english + german, size=300)
    (x, y), (val_x, val_y) = data(600, 0), data(40, 9)
    model = zoo.build("translation-attention", vocabulary_size=words.size,
                      subwords=words.to_text(), max_source_length=16, embedding_dim=32,
                      encoder_units=32, decoder_units=64, dropout=0.0)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(ignore_class=0))
    model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    validation = [({"source": s, "tokens": t}, target)
                  for s, t, target in zip(val_x["source"], val_x["tokens"], val_y)]
    calibration = [{"source": x["source"][i:i + 1], "tokens": x["tokens"][i:i + 1]}
                   for i in range(0, 600, 30)]
    return model, words, validation, calibration
