"""textgen data: the contiguous 90/10 split, windows, the vocabulary, bad files, the metric."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasks.common.characters import CHAR_UNK_ID
from tasks.common.text_lines import TextInputError
from tasks.textgen.data import arrays, corpus, representative, training_vocabulary
from tasks.textgen.metrics import metric


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_split_is_contiguous_ninety_ten_and_targets_are_the_next_characters(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    data = corpus(_write(tmp_path / "t.txt", text))
    assert data.parts["train"] == text[:900] and data.parts["validation"] == text[900:]
    assert data.parts["test"] == ""
    inputs, targets = arrays(tmp_path / "t.txt", "train", length=10)
    assert inputs.shape == (89, 10) and inputs.dtype == np.int32  # windows of 11 every 10
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    assert data.vocabulary.decode(inputs[3]) == text[30:40]
    assert data.vocabulary.decode(targets[3]) == text[31:41]
    overlapping, _ = arrays(tmp_path / "t.txt", "train", length=10, stride=5)
    assert len(overlapping) == 178
    validation, _ = arrays(tmp_path / "t.txt", "validation", length=10, stride=5)
    assert len(validation) == 9  # never overlapping: every validation target once


def test_vocabulary_comes_from_the_training_part_only(tmp_path):
    path = _write(tmp_path / "t.txt", "ab" * 450 + "abZ" * 34)  # Z only in the last 10 %
    vocabulary = training_vocabulary(path)
    assert "Z" not in vocabulary.tokens and set(vocabulary.tokens[2:]) == {"a", "b"}
    inputs, _ = arrays(path, "validation", length=20)
    assert CHAR_UNK_ID in inputs
    given, _ = arrays(path, "validation", length=20, characters=["<pad>", "<unk>", "Z", "a",
                                                                 "b"])
    assert CHAR_UNK_ID not in given


def test_bad_files_give_one_clear_error(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nsecond \xff line\n" + b"x" * 500)
    with pytest.raises(TextInputError, match=r"bad\.txt:2: not UTF-8"):
        arrays(bad, "train", length=8)
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(TextInputError, match="empty file"):
        arrays(tmp_path / "empty.txt", "train")
    short = _write(tmp_path / "short.txt", "x" * 300)
    with pytest.raises(TextInputError, match=r"short\.txt: 300 characters; its validation part "
                                             r"has 30, fewer than one sequence of length 128"):
        arrays(short, "validation", length=128)
    with pytest.raises(ValueError, match="no test part"):
        arrays(short, "test", length=8)
    with pytest.raises(FileNotFoundError):
        arrays(tmp_path / "missing.txt", "train")
    _write(tmp_path / "second.txt", "y" * 300)
    with pytest.raises(TextInputError, match=r"4 \.txt files"):
        arrays(tmp_path, "train")


def test_test_fraction_and_representative(tmp_path):
    text = "".join(chr(ord("a") + i % 7) for i in range(2000))
    path = _write(tmp_path / "t.txt", text)
    data = corpus(path, validation=0.1, test=0.1)
    assert (len(data.parts["train"]), len(data.parts["validation"]),
            len(data.parts["test"])) == (1600, 200, 200)
    samples = representative(path, 5, length=16)
    assert len(samples) == 5 and all(s.shape == (1, 16) for s in samples)
    with pytest.raises(ValueError, match="leave no training text"):
        corpus(path, validation=0.5, test=0.5)


def test_metric_is_nats_per_character():
    import tensorflow as tf

    targets = np.array([[2, 3, 4, 2]], np.int32)
    data = tf.data.Dataset.from_tensor_slices((targets, targets))
    uniform = metric(lambda x: np.zeros((*x.shape, 5), np.float32), data)
    assert uniform["nats_per_char"] == pytest.approx(math.log(5))
    assert uniform["bits_per_char"] == pytest.approx(math.log2(5))
    assert uniform["characters"] == 4

    def sure(x):
        return np.eye(5, dtype=np.float32)[x] * 50.0

    perfect = metric(sure, data)
    assert perfect["nats_per_char"] < 1e-6 and perfect["accuracy"] == 1.0


def test_tinyshakespeare_split(shared_data):
    path = shared_data / "tinyshakespeare" / "input.txt"
    data = corpus(path)
    n = len(data.text)
    assert len(data.parts["train"]) == round(0.9 * n)
    assert len(data.vocabulary) == 67  # the 65 characters of the corpus, <pad>, <unk>
    inputs, _ = arrays(path, "validation")
    assert CHAR_UNK_ID not in inputs and len(inputs) == (len(data.parts["validation"]) - 1) // 128
