"""Energy-based word segmentation of recordings whose words are separated by pauses.

Given the number of words a recording holds (known from its transcript), `word_spans` looks
for the silence threshold and the shortest pause that split it into exactly that many voiced
stretches (`librosa.effects.split`). Recordings no setting splits right are left to the
caller (None), never guessed.
"""

from __future__ import annotations

import numpy as np

TOP_DBS = (20.0, 18.0, 22.0, 16.0, 25.0, 14.0, 28.0, 12.0, 30.0)
MIN_PAUSES = (0.15, 0.1, 0.05)


def voiced(wave: np.ndarray, rate: int, top_db: float, min_pause: float,
           min_word: float = 0.08) -> list[tuple[int, int]]:
    """``(start, end)`` samples of the stretches louder than ``top_db`` below the peak, with
    pauses shorter than ``min_pause`` seconds bridged and stretches under ``min_word`` dropped."""
    import librosa

    frame = max(16, int(0.05 * rate))
    spans: list[list[int]] = []
    for start, end in librosa.effects.split(wave, top_db=top_db, frame_length=frame,
                                            hop_length=max(1, frame // 5)):
        if spans and start - spans[-1][1] < min_pause * rate:
            spans[-1][1] = int(end)
        else:
            spans.append([int(start), int(end)])
    return [(a, b) for a, b in spans if b - a >= min_word * rate]


def word_spans(wave: np.ndarray, rate: int, n_words: int) -> list[tuple[int, int]] | None:
    """The ``n_words`` voiced stretches of ``wave`` in order, or None when no threshold in
    `TOP_DBS` and pause length in `MIN_PAUSES` gives exactly ``n_words``."""
    if n_words < 1 or not np.any(wave):
        return None
    for min_pause in MIN_PAUSES:
        for top_db in TOP_DBS:
            spans = voiced(wave, rate, top_db, min_pause)
            if len(spans) == n_words:
                return spans
    return None


def cut_words(wave: np.ndarray, spans: list[tuple[int, int]]) -> tuple[list[np.ndarray],
                                                                         list[np.ndarray]]:
    """The word segments of ``wave`` and its pauses.

    Each word keeps half of the pause on either side (cut at the pause's middle); the first
    and last words get as much before and after as the pause next to them, so the long
    silences that open and close a recording stay out of the words. Pauses are the parts
    between words, the opening and the closing (for use as background noise).
    """
    if not spans:
        return [], []
    middles = [(end + start) // 2 for (_, end), (start, _) in zip(spans, spans[1:])]
    first_pad = (middles[0] - spans[0][1]) if middles else 0
    last_pad = (spans[-1][0] - middles[-1]) if middles else 0
    cuts = [max(0, spans[0][0] - first_pad), *middles,
            min(wave.size, spans[-1][1] + last_pad)]
    words = [wave[a:b] for a, b in zip(cuts, cuts[1:])]
    edges = [0, *[x for span in spans for x in span], wave.size]
    pauses = [wave[a:b] for a, b in zip(edges[::2], edges[1::2]) if b > a]
    return words, pauses


__all__ = ["cut_words", "voiced", "word_spans"]
