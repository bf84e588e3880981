"""Distillation of sentiment teachers on unlabeled text (`tasks.sentiment.distill`): the loss
that takes labels or probabilities, the unlabeled sentences and what is left out of them, the
teachers' mean, and ``rnnzoo train sentiment --teacher ... --unlabeled ...`` end to end."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from rnnzoo.cli import main
from tasks.common.text_lines import TextInputError
from tasks.sentiment.distill import (
    LabelOrProbabilityCrossentropy,
    teacher_probabilities,
    unlabeled_sentences,
)
from tests.test_sentiment_task import run_cli, synthetic_sst

TINY = ["--units", "8", "--embedding-dim", "8", "--max-length", "12", "--min-count", "1",
        "--batch-size", "16", "--learning-rate", "1e-2", "--quiet"]


def test_the_loss_is_sparse_for_labels_and_categorical_for_probabilities():
    predicted = np.array([[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]], np.float32)
    loss = LabelOrProbabilityCrossentropy()
    labels = np.array([0, 1, 1])
    assert float(loss(labels, predicted)) == pytest.approx(
        -np.mean(np.log([0.8, 0.7, 0.5])), rel=1e-5)
    targets = np.array([[0.9, 0.1], [0.2, 0.8], [1.0, 0.0]], np.float32)
    assert float(loss(targets, predicted)) == pytest.approx(
        -np.mean((targets * np.log(predicted)).sum(1)), rel=1e-5)


def test_unlabeled_text_file_keeps_lines_of_three_words_or_more(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("a fine film indeed\n\ntoo short\nnot bad at all .\n", encoding="utf-8")
    assert unlabeled_sentences(text) == ["a fine film indeed", "not bad at all ."]
    assert "1 of 3 unlabeled sentence(s) left out" in capsys.readouterr().err


def test_unlabeled_folder_reads_uci_training_sentences_and_never_sst2_dev_or_test(tmp_path):
    folder = tmp_path / "sentiment"
    sst = synthetic_sst(folder / "sst2")
    held_out = (sst / "test.tsv").read_text().splitlines()[0].split("\t")[0]
    uci = folder / "uci"
    uci.mkdir()
    lines = [f"uci sentence number {i}\t{i % 2}" for i in range(20)]
    lines[0] = f"{held_out}\t1"  # a training line that is an SST-2 test sentence
    (uci / "imdb_labelled.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sentences = unlabeled_sentences(folder)
    # UCI split by position: i % 10 == 8 validation, 9 test, the rest train
    assert sentences == [f"uci sentence number {i}" for i in range(1, 20) if i % 10 < 8]


def test_unlabeled_text_errors_name_the_path(tmp_path):
    with pytest.raises(TextInputError, match="no unlabeled text"):
        unlabeled_sentences(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing"):
        unlabeled_sentences(tmp_path / "missing")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"a good film here\nnot \xff utf-8 at all\n")
    with pytest.raises(TextInputError, match="bad.txt:2"):
        unlabeled_sentences(bad)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distill")
    sst = synthetic_sst(folder / "sst2")
    run = folder / "teacher"
    assert main(["train", "sentiment", "--data", str(sst), "--out", str(run), "--epochs", "6",
                 *TINY]) == 0
    return run


def test_teacher_probabilities_are_the_teachers_mean(teacher, tmp_path):
    one = zoo.load(teacher)
    other = zoo.load(teacher)
    for weights in other.model.get_layer("sentiment").weights:
        weights.assign(np.zeros(weights.shape, "float32"))  # predicts 0.5, 0.5
    texts = ["w1 great w2 .", "w3 awful ."]
    alone = teacher_probabilities([one], texts)
    assert alone[0, 1] > 0.5 > alone[1, 1]
    np.testing.assert_allclose(teacher_probabilities([one, other], texts),
                               (alone + 0.5) / 2, atol=1e-6)


def test_teacher_probabilities_are_cached_per_teacher_and_text(teacher, capsys):
    one = zoo.load(teacher)
    texts = ["w2 great w1 .", "w3 w3 awful .", "w2 w1 w3 ."]  # not labelled by other tests
    first = teacher_probabilities([one], texts)
    assert "labelled" in capsys.readouterr().err
    again = teacher_probabilities([one], texts)
    assert "cached" in capsys.readouterr().err
    np.testing.assert_array_equal(again, first)
    teacher_probabilities([one], texts[:2])  # other sentences: labelled again
    assert "labelled" in capsys.readouterr().err
    for weights in one.model.get_layer("sentiment").weights:  # another model: labelled again
        weights.assign(np.zeros(weights.shape, "float32"))
    np.testing.assert_allclose(teacher_probabilities([one], texts), 0.5, atol=1e-6)
    assert "labelled" in capsys.readouterr().err


def test_a_student_learns_from_teacher_labelled_sentences_alone(teacher, tmp_path):
    """The student's labelled split has random labels, so what it knows of the sentiment
    words comes from the same sentences labelled by the teacher."""
    sst = synthetic_sst(tmp_path / "sst2", seed=1)
    texts = [line.split("\t")[0] for line in (sst / "train.tsv").read_text().splitlines()]
    unlabeled = tmp_path / "unlabeled.txt"
    unlabeled.write_text("\n".join(texts) + "\n", encoding="utf-8")
    labels = np.random.default_rng(0).integers(0, 2, len(texts))
    (sst / "train.tsv").write_text("".join(f"{t}\t{y}\n" for t, y in zip(texts, labels)))
    student = tmp_path / "student"
    assert main(["train", "sentiment", "--data", str(sst), "--out", str(student), "--epochs",
                 "6", "--teacher", str(teacher), "--unlabeled", str(unlabeled), *TINY]) == 0
    card = zoo.load(student).card
    assert card["training"]["distillation"]["teachers"] == [str(teacher)]
    assert card["training"]["distillation"]["unlabeled_sentences"] == len(texts)
    # chance is 0.5 (and what the random labels alone teach); demand 0.9
    assert card["metrics"]["keras"]["accuracy"] >= 0.9


def test_teacher_and_unlabeled_need_each_other(teacher, tmp_path, capsys):
    sst = synthetic_sst(tmp_path / "sst2")
    code, _, err = run_cli(capsys, "train", "sentiment", "--data", sst, "--out",
                           tmp_path / "a", "--teacher", teacher, *TINY)
    assert code == 2 and "--teacher needs --unlabeled" in err
    code, _, err = run_cli(capsys, "train", "sentiment", "--data", sst, "--out",
                           tmp_path / "b", "--unlabeled", sst / "train.tsv", *TINY)
    assert code == 2 and "--unlabeled needs --teacher" in err
    code, _, err = run_cli(capsys, "train", "sentiment", "--data", sst, "--out",
                           tmp_path / "c", "--teacher", "adding-gru", "--unlabeled",
                           sst / "train.tsv", *TINY)
    assert code == 2 and "a teacher is a sentiment preset" in err
    keras.backend.clear_session()


def test_the_distillation_set_puts_one_hot_labels_before_teacher_probabilities():
    import tensorflow as tf

    from tasks.common.vocabulary import Vocabulary
    from tasks.sentiment.distill import distillation_set
    from tasks.sentiment.encoding import PUNCTUATION

    words = Vocabulary(["<pad>", "<start>", "<end>", "<unk>", "good", "bad", "film"],
                       punctuation=PUNCTUATION)
    train = tf.data.Dataset.from_tensor_slices(
        (np.array([[4, 6, 0], [5, 6, 0]], np.int32), np.array([1, 0], np.int32)))
    probabilities = np.array([[0.3, 0.7], [0.9, 0.1]], np.float32)
    rows = [(tuple(ids), tuple(target)) for ids, target in distillation_set(
        train, ["good good film", "bad"], probabilities, words, 3).as_numpy_iterator()]
    assert set(rows[:2]) == {((4, 6, 0), (0.0, 1.0)), ((5, 6, 0), (1.0, 0.0))}
    assert dict(rows[2:]) == {(4, 4, 6): pytest.approx((0.3, 0.7)),
                              (5, 0, 0): pytest.approx((0.9, 0.1))}


def test_unlabeled_text_leaves_out_the_given_validation_and_test_texts(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("A fine film, indeed.\nnot bad at all .\n", encoding="utf-8")
    assert unlabeled_sentences(text, held_out=["a fine film indeed"]) == ["not bad at all ."]


def test_texts_trained_on_with_labels_are_not_labelled_by_the_teachers(teacher, tmp_path):
    from tests.test_sentiment_also_train import synthetic_uci

    sst = synthetic_sst(tmp_path / "sst2", seed=3)
    uci = synthetic_uci(tmp_path / "uci", n=50)
    uci_lines = (uci / "reviews_labelled.txt").read_text().splitlines()
    unlabeled = tmp_path / "unlabeled.txt"
    unlabeled.write_text("".join(f"{line.split(chr(9))[0]}\n" for line in uci_lines)
                         + "w1 w2 great w3 .\nw4 awful w5 w6 .\n", encoding="utf-8")
    run = tmp_path / "student"
    assert main(["train", "sentiment", "--data", str(sst), "--out", str(run), "--epochs", "1",
                 "--teacher", str(teacher), "--unlabeled", str(unlabeled),
                 "--also-train", str(uci), *TINY]) == 0
    training = zoo.load(run).card["training"]
    assert training["also_train"]["texts"] == 40  # 50 lines, 5 validation, 5 test
    # of the 52 lines, the 40 labelled ones are left out: their 10 others and the 2 new ones
    assert training["distillation"]["unlabeled_sentences"] == 12


def test_the_review_prior_moves_the_odds_towards_the_review_label_by_the_ratio():
    from tasks.sentiment.distill import with_review_prior

    p = np.array([[0.5, 0.5], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]], np.float32)
    moved = with_review_prior(p, np.array([1, 1, 0, -1]), 3.0)
    odds = moved[:, 1] / moved[:, 0]
    np.testing.assert_allclose(odds, [3.0, 0.25 * 3, (0.7 / 0.3) / 3, 1.5], rtol=1e-5)
    np.testing.assert_allclose(moved.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(with_review_prior(p, np.array([1, 0, 1, 0]), 1.0), p, rtol=1e-6)
    with pytest.raises(ValueError, match="1 or more"):
        with_review_prior(p, np.array([1, 0, 1, 0]), 0.5)


def test_unlabeled_review_sentences_carry_their_review_label(tmp_path):
    import io
    import tarfile

    from tasks.sentiment.distill import unlabeled_with_review_labels

    folder = tmp_path / "sentiment"
    folder.mkdir()
    with tarfile.open(folder / "review_polarity.tar.gz", "w:gz") as tar:
        for name, text in (("pos/cv001_1.txt", "a truly great film .\nthe plot is thin .\n"),
                           ("neg/cv002_2.txt", "a dull and tired film .\n"),
                           ("pos/cv850_3.txt", "validation review , not read here .\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"txt_sentoken/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (folder / "x_labelled.txt").write_text("fine sentence from uci\t1\n", encoding="utf-8")
    texts, labels = unlabeled_with_review_labels(folder, held_out=["The plot is thin!"])
    assert dict(zip(texts, labels.tolist())) == {
        "a dull and tired film .": 0, "a truly great film .": 1,
        "fine sentence from uci": -1}


def test_the_review_prior_needs_teachers(tmp_path, capsys):
    sst = synthetic_sst(tmp_path / "sst2")
    code, _, err = run_cli(capsys, "train", "sentiment", "--data", sst, "--out",
                           tmp_path / "a", "--review-prior", "2", *TINY)
    assert code == 2 and "--review-prior needs --teacher" in err
