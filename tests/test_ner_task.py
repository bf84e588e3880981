"""Task ner end to end on a small generated CoNLL folder: train, evaluate, predict with
spans, export (float32 and int8 TFLite with the Viterbi decode inside) and evaluate the
exported files."""

from __future__ import annotations

import json
import random

import pytest

import tasks
import zoo
from rnnzoo.cli import main

FIRST = ["John", "Mary", "Peter", "Anna", "Paul", "Laura", "Mark", "Sara"]
LAST = ["Smith", "Jones", "Brown", "Miller", "Davis", "Wilson"]
CITY = ["Paris", "London", "Berlin", "Madrid", "Rome", "Vienna"]
VERB = ["visited", "left", "loves", "saw", "reached"]
TINY = ["--max-length", "8", "--max-word-length", "8", "--units", "16", "--word-dim", "16",
        "--char-dim", "8", "--char-filters", "16", "--dropout", "0.1", "--min-count", "1",
        "--word-dropout", "0.1",
        "--epochs", "12", "--batch-size", "16", "--learning-rate", "0.01", "--quiet"]


def _sentence(rng: random.Random) -> str:
    lines = []
    if rng.random() < 0.5:
        lines += [f"{rng.choice(FIRST)} B-PER", f"{rng.choice(LAST)} I-PER"]
    else:
        lines += [f"{rng.choice(FIRST)} B-PER"]
    lines += [f"{rng.choice(VERB)} O", f"{rng.choice(CITY)} B-LOC", ". O"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner")
    rng = random.Random(0)
    for name, count in (("train.txt", 320), ("valid.txt", 48), ("test.txt", 48)):
        (root / name).write_text("-DOCSTART- O\n\n" + "\n".join(_sentence(rng) for _ in
                                                                range(count)), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def trained(folder):
    out = folder / "run"
    assert main(["train", "ner", "--data", str(folder), "--out", str(out), *TINY]) == 0
    return out


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_task_is_registered():
    task = tasks.get_task("ner")
    assert task.builders == ("ner-bilstm-crf",) and zoo.list_models(task="ner") == [
        "ner-bilstm-crf"]
    assert task.primary_metric == "f1" and not task.lower_is_better


@pytest.mark.slow
def test_training_beats_chance_and_predict_prints_spans(trained, tmp_path, capsys):
    code, out, err = run_cli(capsys, "evaluate", trained, "--json")
    assert code == 0, err
    # every sentence holds a PER and a LOC entity; tagging everything O scores 0, so a
    # tagger that learned nothing is far below this margin
    assert json.loads(out)["metrics"]["f1"] >= 80.0
    preset = zoo.load(trained / "preset")
    card = preset.card
    assert preset.model.get_layer("word_dropout").rate == pytest.approx(0.1)
    assert card["data_options"]["tags"] == ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
    text = "Mary Smith visited Rome ."
    code, out, err = run_cli(capsys, "predict", trained, text)
    assert code == 0, err
    assert "0-10\tPER\tMary Smith" in out and "19-23\tLOC\tRome" in out
    lines = tmp_path / "lines.txt"
    lines.write_text("Anna saw Berlin .\n\nPaul Brown left Vienna .\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "predict", trained, "--file", lines, "--json")
    rows = json.loads(out)
    assert [[(e["type"], e["text"]) for e in row["entities"]] for row in rows] == [
        [("PER", "Anna"), ("LOC", "Berlin")], [("PER", "Paul Brown"), ("LOC", "Vienna")]]


@pytest.mark.slow
def test_export_decodes_in_tflite_and_evaluate_scores_the_files(trained, folder, tmp_path,
                                                                capsys):
    out = tmp_path / "export"
    code, _, err = run_cli(capsys, "export", trained, "--out", out, "--quantize", "fp32,int8",
                           "--kinds", "sequence", "--representative", "8")
    assert code == 0, err
    metadata = json.loads((out / "metadata.json").read_text())
    crf = metadata["files"]["sequence.fp32.tflite"]
    assert crf["outputs"][0]["dtype"] == "int32"  # tag ids: Viterbi runs inside the file
    code, text, err = run_cli(capsys, "evaluate", out, "--data", folder, "--json")
    assert code == 0, err
    scores = {row["model"].split("/")[-1]: row["metrics"]["f1"] for row in json.loads(text)}
    code, text, _ = run_cli(capsys, "evaluate", trained, "--json")
    keras_f1 = json.loads(text)["metrics"]["f1"]
    assert scores["sequence.fp32.tflite"] == pytest.approx(keras_f1, abs=1e-6)
    assert abs(scores["sequence.int8.tflite"] - keras_f1) <= 5.0  # int8: within 5 points
    # the two files read the data once: a test sentence too long for the model is noted once
    longer = tmp_path / "longer"
    longer.mkdir()
    for name in ("train.txt", "valid.txt", "test.txt"):
        (longer / name).write_text((folder / name).read_text(encoding="utf-8"), encoding="utf-8")
    with (longer / "test.txt").open("a", encoding="utf-8") as handle:
        handle.write("\n\n" + "\n".join(f"{CITY[i % len(CITY)]} B-LOC" for i in range(12)) + "\n")
    code, _, err = run_cli(capsys, "evaluate", out, "--data", longer)
    assert code == 0, err
    assert err.count("sentences truncated to 8 tokens") == 1, err


@pytest.mark.parametrize(("text", "problem"), [
    ("EU B-ORG\nrejects\n", "train.txt:2: expected a token and its tag"),
    ("EU NNP B-NP ORG\n", "train.txt:1: tag 'ORG'"),
])
def test_bad_files_are_one_line_and_exit_2(tmp_path, capsys, text, problem):
    for name in ("train.txt", "valid.txt", "test.txt"):
        (tmp_path / name).write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, "train", "ner", "--data", tmp_path, "--out",
                           tmp_path / "run", "--quiet")
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_preset_holds_its_vocabularies_as_assets(trained):
    from tasks.common.characters import CharVocabulary
    from tasks.common.vocabulary import Vocabulary

    preset = zoo.load(trained / "preset")
    config = preset.model.rnnzoo_config
    assert list(Vocabulary.load(preset.assets / "vocab.txt").tokens) == config["words"]
    assert list(CharVocabulary.load(preset.assets / "characters.json").tokens) == config[
        "characters"]
    assert (preset.assets / "labels.txt").read_text().split() == config["tags"]


@pytest.mark.slow
def test_the_reference_tagger_input_gives_predicts_tags(trained):
    """The standard-library reference (`ReferenceTaggerInput`) on the preset's assets feeds
    the Keras model what `rnnzoo predict` feeds it, so an app gets the same tags."""
    import numpy as np

    from tasks.common.reference_tokenizer import ReferenceTaggerInput
    from tasks.ner.predict import tag_sentences

    preset = zoo.load(trained / "preset")
    reference = ReferenceTaggerInput.from_folder(str(preset.assets))
    sentences = ["John Smith visited Paris", "Mary left Berlin in 1996 , U.S.-born ?",
                 "Anna Wilson loves Rome and Vienna and London too"]
    for text, row in zip(sentences, tag_sentences(preset, sentences), strict=True):
        given = reference.model_input(text)
        ids = np.asarray(preset.model.predict_on_batch(
            {"words": np.asarray([given["words"]], np.int32),
             "chars": np.asarray([given["chars"]], np.int32)}))[0]
        assert reference.tags(ids.tolist(), text) == row["tags"]
    assert any(t != "O" for t in row["tags"])


def _char_feature_model(max_word_length: int):
    import keras

    model = zoo.build("ner-bilstm-crf", words=["<pad>", "<start>", "<end>", "<unk>", "x"],
                      characters=["<pad>", "<unk>", "a", "b", "c"], tags=["O", "B-X", "I-X"],
                      max_length=3, max_word_length=max_word_length, word_dim=4, char_dim=3,
                      char_encoder="bilstm", char_units=5, units=4)
    return model, keras.Model(model.inputs, model.get_layer("char_features").output)


def test_the_character_bilstm_reads_only_the_real_characters():
    import numpy as np

    short, short_features = _char_feature_model(4)
    long, long_features = _char_feature_model(9)
    long.set_weights(short.get_weights())  # no weight depends on the word length
    words = np.array([[4, 4, 0]], np.int32)
    chars = np.zeros((1, 3, 9), np.int32)
    chars[0, 0, :3] = [2, 3, 4]
    chars[0, 1, :4] = [4, 4, 2, 3]
    a = np.asarray(short_features({"words": words, "chars": chars[..., :4]}))
    b = np.asarray(long_features({"words": words, "chars": chars}))
    assert a.shape == (1, 3, 10)
    # the same word with 1 or 6 padding characters gives the same feature; an empty slot 0
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.abs(a[0, 0]).max() > 1e-3 and np.abs(a[0, 2]).max() == 0.0
    assert not np.allclose(a[0, 0], a[0, 1])
    # its loop runs over B * T words: the loop form refuses it (int8 then unrolls)
    from export.loop_form import LoopFormError, loop_form

    with pytest.raises(LoopFormError, match="'char_bilstm' reads a batch of another size"):
        loop_form(short)
    with pytest.raises(ValueError, match="char_encoder must be one of cnn, bilstm"):
        zoo.build("ner-bilstm-crf", words=["<pad>", "<start>", "<end>", "<unk>", "x"],
                  characters=["<pad>", "<unk>", "a"], tags=["O", "B-X", "I-X"],
                  char_encoder="gru")


@pytest.mark.slow
def test_a_character_bilstm_tagger_trains_and_exports(folder, tmp_path, capsys):
    run = tmp_path / "run"
    i = TINY.index("--char-filters")
    tiny = TINY[:i] + TINY[i + 2:]
    code, _, err = run_cli(capsys, "train", "ner", "--data", folder, "--out", run, *tiny,
                           "--char-encoder", "bilstm", "--char-units", "8")
    assert code == 0, err
    code, text, err = run_cli(capsys, "evaluate", run, "--json")
    assert code == 0, err
    keras_f1 = json.loads(text)["metrics"]["f1"]
    assert keras_f1 >= 80.0  # tagging everything O scores 0
    out = tmp_path / "export"
    code, _, err = run_cli(capsys, "export", run, "--out", out, "--quantize", "fp32,int8",
                           "--kinds", "sequence", "--representative", "8")
    assert code == 0, err
    code, text, err = run_cli(capsys, "evaluate", out, "--data", folder, "--json")
    assert code == 0, err
    scores = {row["model"].split("/")[-1]: row["metrics"]["f1"] for row in json.loads(text)}
    assert scores["sequence.fp32.tflite"] == pytest.approx(keras_f1, abs=1e-6)
    assert abs(scores["sequence.int8.tflite"] - keras_f1) <= 5.0


def test_a_refit_says_its_validation_figures_are_on_training_data(folder, tmp_path, capsys):
    tiny = [a if a != "12" else "1" for a in TINY]  # one epoch
    code, _, err = run_cli(capsys, "train", "ner", "--data", folder, "--out", tmp_path / "refit",
                           *tiny, "--train-with-validation", "--patience", "0")
    assert code == 0 and "the validation split is part of the training data here" in err
    code, _, err = run_cli(capsys, "evaluate", tmp_path / "refit", "--split", "validation")
    assert code == 0 and "trained on the validation split" in err
    code, _, err = run_cli(capsys, "evaluate", tmp_path / "refit", "--split", "test")
    assert code == 0 and "trained on" not in err
