"""More labelled training text (`tasks.sentiment.also_train`, ``--also-train``): only the
other datasets' training splits are read, nothing equal to a scored text is trained on, and
a model learns from them end to end."""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from rnnzoo.cli import main
from tasks.common.text_lines import TextInputError
from tasks.sentiment.also_train import also_train_texts
from tasks.sentiment.data import uci_split
from tests.test_sentiment_distill import TINY
from tests.test_sentiment_task import synthetic_sst


def synthetic_uci(folder, n: int = 400, seed: int = 2):
    """A UCI-shaped folder (one ``*_labelled.txt``) of the synthetic SST sentences."""
    sst = synthetic_sst(folder / "as_sst", seed=seed)
    lines = (sst / "train.tsv").read_text().splitlines() + \
        (sst / "dev.tsv").read_text().splitlines()
    (folder / "reviews_labelled.txt").write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
    return folder


def test_only_the_training_split_is_read_and_held_out_texts_are_left_out(tmp_path, capsys):
    folder = tmp_path / "uci"
    folder.mkdir()
    lines = [f"sentence number {i} here\t{i % 2}" for i in range(20)]
    (folder / "a_labelled.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = also_train_texts([str(folder)], held_out=["Sentence number 0 here!"])
    train = [f"sentence number {i} here" for i in range(20) if uci_split(i) == "train"]
    assert got.texts == train[1:]  # validation (8, 18) and test (9, 19) never read; 0 held out
    assert got.labels == [int(t.split()[2]) % 2 for t in train[1:]]
    assert got.where[0] == "a_labelled.txt:2"
    assert "1 of 16 training text(s) left out" in capsys.readouterr().err


def test_bad_data_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        also_train_texts([str(tmp_path / "missing")], held_out=[])
    folder = tmp_path / "uci"
    folder.mkdir()
    (folder / "b_labelled.txt").write_text("fine\t1\nno tab here\n", encoding="utf-8")
    with pytest.raises(TextInputError, match="b_labelled.txt:2"):
        also_train_texts([str(folder)], held_out=[])


def test_a_model_learns_from_the_other_dataset(tmp_path):
    """--data's training labels are random, so what the model knows of the sentiment words
    comes from the --also-train sentences."""
    sst = synthetic_sst(tmp_path / "sst2", seed=1)
    lines = (sst / "train.tsv").read_text().splitlines()
    labels = np.random.default_rng(0).integers(0, 2, len(lines))
    (sst / "train.tsv").write_text("".join(f"{line.split(chr(9))[0]}\t{y}\n"
                                           for line, y in zip(lines, labels)))
    uci = synthetic_uci(tmp_path / "uci")
    run = tmp_path / "run"
    assert main(["train", "sentiment", "--data", str(sst), "--out", str(run), "--epochs", "8",
                 "--also-train", str(uci), *TINY]) == 0
    card = zoo.load(run).card
    assert card["training"]["also_train"] == {"data": [str(uci)], "texts": 320}
    # chance is 0.5 (and what the random labels alone teach); demand 0.85
    assert card["metrics"]["keras"]["accuracy"] >= 0.85
