"""Energy-based word segmentation (tasks.speech.segment) on signals with known word places."""

import numpy as np
import pytest

from tasks.speech import segment
from tasks.speech.synthetic import word

RATE = 8000


def _recording(gaps: list[float], seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Tone words of 0.3 s after each gap in ``gaps`` (seconds), over faint noise, and where
    each word is."""
    rng = np.random.default_rng(seed)
    parts, truth, at = [], [], 0
    for k, gap in enumerate(gaps):
        pause = np.zeros(int(gap * RATE), np.float32)
        tone = word(k % 10, seconds=0.3, seed=k)
        parts += [pause, tone]
        truth.append((at + pause.size, at + pause.size + tone.size))
        at += pause.size + tone.size
    parts.append(np.zeros(int(0.8 * RATE), np.float32))
    wave = np.concatenate(parts)
    return wave + rng.normal(0, 1e-3, wave.size).astype(np.float32), truth


def test_word_spans_find_each_word_within_50_ms():
    wave, truth = _recording([0.9, 0.25, 0.4, 0.2, 0.3])
    spans = segment.word_spans(wave, RATE, len(truth))
    assert spans is not None and len(spans) == 5
    for (start, end), (true_start, true_end) in zip(spans, truth):
        assert abs(start - true_start) <= 0.05 * RATE and abs(end - true_end) <= 0.05 * RATE


def test_word_spans_refuse_a_count_the_signal_does_not_have():
    wave, truth = _recording([0.9, 0.3, 0.3])
    assert segment.word_spans(wave, RATE, 4) is None
    assert segment.word_spans(wave, RATE, 2) is None
    assert segment.word_spans(np.zeros(RATE, np.float32), RATE, 1) is None


def test_cut_words_splits_pauses_in_the_middle_and_keeps_the_opening_out():
    wave, truth = _recording([0.9, 0.2, 0.4])
    spans = segment.word_spans(wave, RATE, 3)
    words, pauses = segment.cut_words(wave, spans)
    assert len(words) == 3 and len(pauses) == 4  # opening, two pauses, closing
    half_pause = ((spans[0][1] + spans[1][0]) // 2) - spans[0][1]
    first = spans[0][0] - half_pause  # the first word opens with half a pause, not 0.9 s
    last = spans[2][1] + (spans[2][0] - (spans[1][1] + spans[2][0]) // 2)
    np.testing.assert_array_equal(np.concatenate(words), wave[first:last])
    assert words[0].size == spans[0][1] - spans[0][0] + 2 * half_pause
    assert pauses[0].size == spans[0][0] and pauses[-1].size == wave.size - spans[-1][1]
    assert max(np.abs(p).max() for p in pauses) < 0.05  # pauses hold no voice


@pytest.mark.parametrize("n", [1, 8])
def test_word_spans_handle_one_and_many_words(n):
    wave, truth = _recording([0.5] + [0.3] * (n - 1), seed=n)
    assert segment.word_spans(wave, RATE, n) is not None


def test_real_yesno_files_split_into_their_eight_words(shared_data):
    """On the yesno recordings, the pauses give each file's 8 words for nearly all files, and
    every found word is 0.15-0.7 s long (a "yes" or "no", not a merge of two)."""
    from tasks.speech import yesno
    from tasks.speech.audio import load_audio

    paths = yesno.split_files(shared_data / "yesno", "train+validation")
    found = 0
    for path in paths:
        spans = segment.word_spans(load_audio(path, RATE), RATE, 8)
        if spans is not None:
            found += 1
            assert all(0.15 * RATE <= end - start <= 0.7 * RATE for start, end in spans), path
    assert found >= len(paths) - 2  # 30 of the 31 training files here
