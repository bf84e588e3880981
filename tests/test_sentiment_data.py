"""Sentiment data: the three loaders and their splits, bad input (non-UTF-8, malformed lines,
empty lines, overlong texts), the ids, the language-model text (never SST-2 dev/test), and the
stand-alone reference tokenizer held against tasks.common.vocabulary."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from tasks.common.reference_tokenizer import ReferenceTokenizer, reference_tokens
from tasks.common.text_lines import TextInputError
from tasks.common.tokenizer_assets import tokenizer_assets
from tasks.common.vocabulary import Vocabulary, tokenize
from tasks.sentiment import encoded, training_vocabulary
from tasks.sentiment.data import detect, read_labelled
from tasks.sentiment.encoding import encode_texts
from tasks.sentiment.lm import corpus, windows


def write_sst(folder, train=None, dev=None, test=None):
    folder.mkdir(parents=True, exist_ok=True)
    train = train or ["a gripping , funny film\t1", "dull and lifeless\t0",
                      "a funny , warm film\t1", "lifeless mess\t0"]
    dev = dev or ["funny film\t1", "a dull mess\t0"]
    test = test or ["warm and gripping\t1", "a lifeless film\t0"]
    for name, lines in (("train.tsv", train), ("dev.tsv", dev), ("test.tsv", test)):
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def write_polarity(path, folds=(0, 799, 800, 900)):
    with tarfile.open(path, "w:gz") as tar:
        for label in ("neg", "pos"):
            for fold in folds:
                data = f"review {fold} is {label} .\nsecond line .\n".encode()
                info = tarfile.TarInfo(f"txt_sentoken/{label}/cv{fold:03d}_1.txt")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def test_sst2_splits_come_from_the_files(tmp_path):
    folder = write_sst(tmp_path / "sst2")
    assert detect(folder) == ("sst2", folder)
    assert read_labelled(folder, "train").labels == [1, 0, 1, 0]
    validation = read_labelled(folder, "validation")
    assert validation.texts == ["funny film", "a dull mess"]
    assert validation.where == ["dev.tsv:1", "dev.tsv:2"]


def test_uci_split_takes_every_tenth_line_per_file(tmp_path):
    folder = tmp_path / "uci"
    folder.mkdir()
    for source in ("amazon", "yelp"):
        lines = [f"{source} sentence {i}  \t{i % 2}" for i in range(20)]
        (folder / f"{source}_cells_labelled.txt").write_text("\n".join(lines) + "\n")
    test = read_labelled(folder, "test")
    assert [t.split()[-1] for t in test.texts] == ["9", "19", "9", "19"]
    assert len(read_labelled(folder, "validation")) == 4
    assert len(read_labelled(folder, "train")) == 32


def test_polarity_is_read_from_the_archive_split_by_fold(tmp_path):
    archive = write_polarity(tmp_path / "review_polarity.tar.gz")
    assert detect(tmp_path) == ("polarity", archive)
    train = read_labelled(archive, "train")
    assert len(train) == 4 and sorted(train.labels) == [0, 0, 1, 1]
    assert train.texts[0] == "review 0 is neg . second line ."
    assert [len(read_labelled(archive, s)) for s in ("validation", "test")] == [2, 2]


def test_bad_input_names_the_file_and_line(tmp_path):
    folder = write_sst(tmp_path / "sst2", train=["fine\t1", "no tab here", "x\t1"])
    with pytest.raises(TextInputError, match=r"train\.tsv:2: expected text<TAB>label"):
        read_labelled(folder, "train")
    write_sst(folder, train=["fine\t1", "bad label\t2"])
    with pytest.raises(TextInputError, match=r"train\.tsv:2: label '2' is not 0 or 1"):
        read_labelled(folder, "train")
    (folder / "train.tsv").write_bytes(b"good\t1\nbad \xff byte\t0\n")
    with pytest.raises(TextInputError, match=r"train\.tsv:2: not UTF-8 text \(byte 0xff"):
        read_labelled(folder, "train")
    with pytest.raises(TextInputError, match="not a sentiment dataset"):
        detect(tmp_path)


def test_empty_lines_are_skipped_and_noted(tmp_path, capsys):
    folder = write_sst(tmp_path / "sst2", train=["good\t1", "", "  ", "bad\t0"])
    assert len(read_labelled(folder, "train")) == 2
    assert "2 empty line(s) skipped" in capsys.readouterr().err


def test_ids_are_right_padded_and_overlong_texts_cut_and_reported(tmp_path, capsys):
    words = Vocabulary.build(["a good film", "a bad film"], punctuation="split")
    ids, report = encode_texts(["a good film !", "good " * 10], words, 4, ["x:1", "x:2"])
    assert ids.dtype == np.int32 and ids.shape == (2, 4)
    assert list(ids[0]) == [words.id("a"), words.id("good"), words.id("film"), 3]
    assert list(ids[1]) == [words.id("good")] * 4
    assert report.truncated == 1 and report.examples == ["x:2"]
    folder = write_sst(tmp_path / "sst2")
    encoded(folder, "train", max_length=2, min_count=1)
    assert "3 of 4 train texts truncated to 2 tokens" in capsys.readouterr().err


def test_vocabulary_comes_from_training_texts_only(tmp_path):
    folder = write_sst(tmp_path / "sst2")
    words = training_vocabulary(folder, min_count=2)
    assert "funny" in words and "lifeless" in words
    assert "gripping" not in words  # once in train
    assert "mess" not in words and "warm" not in words  # dev/test only, or once


def test_language_model_text_never_holds_sst_dev_or_test_sentences(tmp_path, capsys):
    write_sst(tmp_path / "sst2", dev=["second line\t1", "x y\t0"])
    (tmp_path / "pl").mkdir()
    write_polarity(tmp_path / "pl" / "review_polarity.tar.gz")
    train = corpus(tmp_path, "train")
    assert "a gripping , funny film" in train  # SST-2 train text
    assert all("second line" not in text for text in train)
    assert "left out of the language-model text" in capsys.readouterr().err
    assert not any("gripping" in t for t in corpus(tmp_path, "validation"))
    inputs, targets = windows(tmp_path, "train", max_length=3, min_count=1,
                              output_vocabulary=6)
    assert inputs.shape[1:] == (3,) and targets.shape[1:] == (3, 2)
    # next and previous token of each position, rare ones as <unk>
    np.testing.assert_array_equal(np.where(inputs[:, 1:] < 6, inputs[:, 1:], 3),
                                  targets[:, :-1, 0])
    np.testing.assert_array_equal(np.where(inputs[:, :-1] < 6, inputs[:, :-1], 3),
                                  targets[:, 1:, 1])


def test_language_model_text_is_read_once_until_its_files_change(tmp_path, capsys):
    write_sst(tmp_path / "sst2", dev=["second line\t1"])
    (tmp_path / "pl").mkdir()
    write_polarity(tmp_path / "pl" / "review_polarity.tar.gz")
    first = corpus(tmp_path, "train")
    assert "left out of the language-model text" in capsys.readouterr().err
    first.append("changed by the caller")
    assert corpus(tmp_path, "train") == first[:-1]  # a copy, from the cache
    assert capsys.readouterr().err == ""  # not read (nor noted) again
    train = tmp_path / "sst2" / "train.tsv"
    train.write_text(train.read_text(encoding="utf-8") + "a brand new line\t1\n",
                     encoding="utf-8")
    assert "a brand new line" in corpus(tmp_path, "train")


TRICKY = ["A gripping, funny film!", "Don’t  it's 5-year-old   t-shirt", "ﬁne ＡＢＣ résumé ß",
          "--hello-- 'quoted' under_score", "tab\there\x07bell", "3.5 stars ... ?!", "",
          "Ünïcödé ÉCOLE naïve", "emoji 🙂 and 中文字"]


@pytest.mark.parametrize("punctuation", ["split", "drop"])
def test_reference_tokenizer_matches_the_library(punctuation):
    for text in TRICKY:
        assert reference_tokens(text, punctuation) == tokenize(text, punctuation=punctuation)


def test_reference_tokenizer_from_assets_gives_the_model_input(tmp_path):
    words = Vocabulary.build(TRICKY, punctuation="split")
    for name, text in tokenizer_assets(words.tokens, "split", 6, labels=("n", "p")).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    settings = json.loads((tmp_path / "tokenizer.json").read_text())
    assert settings["max_length"] == 6 and settings["unknown_id"] == 3
    reference = ReferenceTokenizer.from_files(tmp_path / "vocabulary.txt",
                                              tmp_path / "tokenizer.json")
    assert Vocabulary.load(tmp_path / "vocabulary.txt", punctuation="split") == words
    texts = [*TRICKY, "unseen words here"]
    ids, _ = encode_texts(texts, words, 6)
    assert [reference.model_input(t) for t in texts] == ids.tolist()


def test_real_datasets_have_their_documented_sizes(shared_data, capsys):
    root = shared_data / "sentiment"
    sizes = {split: len(read_labelled(root / "sst2", split)) for split in
             ("train", "validation", "test")}
    assert sizes == {"train": 6920, "validation": 872, "test": 1821}
    uci = root / "uci_sentiment_labelled_sentences"
    assert [len(read_labelled(uci, s)) for s in ("train", "validation", "test")] == \
        [2400, 300, 300]
    archive = root / "movie_review_polarity" / "review_polarity.tar.gz"
    assert [len(read_labelled(archive, s)) for s in ("train", "validation", "test")] == \
        [1600, 200, 200]
