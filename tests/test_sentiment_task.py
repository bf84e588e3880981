"""The sentiment models and task end to end on tiny data: builders and the shared layers of
the language model and the classifier, masked pooling, train (also --from a word language
model), evaluate, predict (texts, files, stdin, a .tflite), export, bad input."""

from __future__ import annotations

import io
import json
import sys

import keras
import numpy as np
import pytest

import tasks
import zoo
from rnnzoo.cli import main
from tasks.common.transfer import transfer_weights
from zoo.text import MaskedPooling

WORDS = ["<pad>", "<start>", "<end>", "<unk>", "good", "bad", "film", "a"]
TINY = ["--units", "8", "--embedding-dim", "8", "--max-length", "12", "--quiet"]


def run_cli(capsys, *argv, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        old = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    try:
        code = main([str(a) for a in argv])
    finally:
        if stdin is not None:
            sys.stdin = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def synthetic_sst(folder, seed=0):
    """An SST-2-shaped folder whose label is the sentiment word among random fillers."""
    rng = np.random.default_rng(seed)
    fillers = [f"w{i}" for i in range(30)]
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.tsv", 320), ("dev.tsv", 80), ("test.tsv", 80)):
        lines = []
        for _ in range(n):
            label = int(rng.integers(2))
            words = list(rng.choice(fillers, size=int(rng.integers(3, 9))))
            words.insert(int(rng.integers(len(words) + 1)),
                         rng.choice(["great", "wonderful"] if label else ["awful", "dreadful"]))
            lines.append(f"{' '.join(words)} .\t{label}")
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sentiment")
    sst = synthetic_sst(folder / "sst2")
    text = folder / "unlabeled.txt"
    lines = (sst / "train.tsv").read_text().splitlines()
    text.write_text("\n".join(line.split("\t")[0] for line in lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def trained(data):
    lm = data / "lm"
    assert main(["train", "wordlm", "--data", str(data / "unlabeled.txt"), "--out", str(lm),
                 "--epochs", "1", "--batch-size", "16", "--min-count", "1",
                 "--output-vocabulary", "20", *TINY]) == 0
    run = data / "clf"
    assert main(["train", "sentiment", "--data", str(data / "sst2"), "--from", str(lm),
                 "--out", str(run), "--epochs", "6", "--batch-size", "16",
                 "--learning-rate", "1e-2", "--max-length", "16", "--word-dropout", "0.1",
                 "--quiet"]) == 0
    return run


def test_tasks_and_builders_are_registered():
    assert {"sentiment", "wordlm"} <= set(tasks.list_tasks())
    assert set(tasks.get_task("sentiment").builders) == set(zoo.list_models(task="sentiment"))
    assert set(tasks.get_task("wordlm").builders) == set(zoo.list_models(task="wordlm"))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_classifier_and_language_model_share_their_layers(kind):
    classifier = zoo.build(f"sentiment-bi{kind}", vocabulary=WORDS, max_length=6,
                           embedding_dim=4, units=3)
    lm = zoo.build(f"wordlm-bi{kind}", vocabulary=WORDS, max_length=5, embedding_dim=4,
                   units=3, output_vocabulary=6)
    ids = np.array([[4, 6, 0, 0, 0, 0]], np.int32)
    assert classifier(ids).shape == (1, 2)
    assert lm(ids[:, :5]).shape == (1, 5, 2, 6)
    transfer_weights(classifier, lm)
    for name in ("embedding", "encoder"):
        for a, b in zip(classifier.get_layer(name).get_weights(),
                        lm.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_masked_pooling_ignores_padded_steps():
    rng = np.random.default_rng(0)
    sequence = rng.uniform(-1, 1, (2, 5, 3)).astype("float32")
    ids = np.array([[5, 6, 7, 0, 0], [5, 0, 0, 0, 0]], np.int32)
    pooled = np.asarray(MaskedPooling()([sequence, ids]))
    changed = sequence.copy()
    changed[0, 3:] = 0.99
    changed[1, 1:] = 0.99
    np.testing.assert_allclose(np.asarray(MaskedPooling()([changed, ids])), pooled)
    np.testing.assert_allclose(pooled[0, :3], sequence[0, :3].mean(0), rtol=1e-6)
    np.testing.assert_allclose(pooled[0, 3:], sequence[0, :3].max(0), rtol=1e-6)


def test_fine_tuned_classifier_takes_the_lm_vocabulary_and_beats_chance(trained, data,
                                                                       capsys):
    preset = zoo.load(trained)
    lm = zoo.load(data / "lm")
    assert preset.config["config"]["vocabulary"] == lm.config["config"]["vocabulary"]
    assert preset.card["training"]["fine_tuned_from"] == str(data / "lm")
    vocabulary = preset.config["config"]["vocabulary"]
    assert preset.model.get_layer("word_dropout").unknown_id == vocabulary.index("<unk>")
    assert (preset.assets / "vocabulary.txt").read_text().split("\n")[:-1] == \
        preset.config["config"]["vocabulary"]
    # chance is 0.5 (balanced labels); the sentiment word decides: demand 0.9
    assert preset.card["metrics"]["keras"]["accuracy"] >= 0.9
    code, out, _ = run_cli(capsys, "evaluate", trained, "--split", "test", "--json")
    assert code == 0 and json.loads(out)["metrics"]["accuracy"] >= 0.9


def test_predict_reads_texts_files_and_stdin(trained, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "predict", trained, "w1 great w2 .", "w3 awful .")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("positive\t") and lines[1].startswith("negative\t")
    texts = tmp_path / "texts.txt"
    texts.write_text("wonderful w4\n\n" + "dreadful " * 70 + "\n")
    code, out, err = run_cli(capsys, "predict", trained, texts, "--json")
    result = json.loads(out)
    assert [r["label"] for r in result["results"]] == ["positive", "negative"]
    assert result["truncated"] == 1 and "1 of 2 texts truncated to 16 tokens" in err
    code, out, _ = run_cli(capsys, "predict", trained, "-", "--json",
                           stdin="w5 great\nw6 dreadful\n")
    assert [r["label"] for r in json.loads(out)["results"]] == ["positive", "negative"]


def test_bad_input_is_one_line_and_exit_2(trained, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine text\nnot \xff utf-8\n")
    code, _, err = run_cli(capsys, "predict", trained, bad)
    assert code == 2 and f"{bad}:2: not UTF-8 text (byte 0xff" in err
    code, _, err = run_cli(capsys, "train", "sentiment", "--data", tmp_path, "--out",
                           tmp_path / "run")
    assert code == 2 and "not a sentiment dataset" in err
    code, _, err = run_cli(capsys, "train", "sentiment", "--data", tmp_path, "--from",
                           "adding-gru", "--out", tmp_path / "run2")
    assert code == 2 and "not a 'adding' one" in err


@pytest.mark.slow
def test_export_by_default_works_and_int8_stays_close(trained, tmp_path, capsys):
    out = tmp_path / "export"
    code, _, _ = run_cli(capsys, "export", trained, "--out", out, "--quantize", "int8",
                         "--kinds", "sequence", "--representative", "32",
                         "--eval-examples", "40", "--format",
                         "tflite")
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    keras_accuracy = report["keras"]["metric"]["value"] if isinstance(
        report["keras"].get("metric"), dict) else None
    by_name = {a["path"]: a for a in report["artifacts"]}
    # tolerance: int8 probabilities within 0.1 of Keras, accuracy within 5 points
    assert by_name["sequence.int8.tflite"]["max_abs_diff"] < 0.1
    assert abs(by_name["sequence.int8.tflite"]["metric_delta"]) <= 0.05
    assert keras_accuracy is None or keras_accuracy >= 0.9
    assert (out / "assets" / "vocabulary.txt").is_file()
    assert json.loads((out / "assets" / "tokenizer.json").read_text())["max_length"] == 16
    code, text, _ = run_cli(capsys, "predict", trained, "w1 great w2 .", "--tflite",
                            out / "sequence.int8.tflite", "--json")
    assert code == 0 and json.loads(text)["results"][0]["label"] == "positive"


def test_transfer_refuses_a_model_without_matching_layers():
    a = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="x")])
    b = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="x")])
    with pytest.raises(Exception, match="no layer of it matches"):
        transfer_weights(a, b, "b")


def test_bench_measures_tokens_per_second_and_reads_the_pretraining_gain(trained, data,
                                                                         monkeypatch):
    from rnnzoo.bench import text_sentiment as bench

    monkeypatch.setattr(bench, "_data", lambda: data / "sst2")
    preset = zoo.load(trained)
    speed = bench.training_throughput(preset, quick=True)
    assert 0 < speed["tokens_per_second"] < speed["positions_per_second"]  # padding excluded
    assert bench.pretraining(preset)["recorded"] is False
    zoo.update_card(trained, {"pretraining": {"with_lm": {"dev_accuracy": 0.82},
                                              "without_lm": {"dev_accuracy": 0.8}}})
    assert bench.pretraining(zoo.load(trained))["gain_dev_accuracy"] == pytest.approx(0.02)
    assert bench.pretraining(zoo.load(trained))["distillation_gain_dev_accuracy"] is None
    zoo.update_card(trained, {"pretraining": {"with_lm": {"dev_accuracy": 0.82},
                                              "without_lm": {"dev_accuracy": 0.8},
                                              "distillation": {"dev_accuracy": 0.83}}})
    result = bench.pretraining(zoo.load(trained))
    assert result["distillation_gain_dev_accuracy"] == pytest.approx(0.01)


def test_the_language_model_starts_from_the_unigram_prior_and_learns_past_it(tmp_path,
                                                                            capsys):
    from tasks.sentiment.lm import log_prior

    # 24 words in a fixed cycle, so each word decides the next and the previous one: the
    # unigram entropy is log 24 = 3.18 nats, a model that reads its context gets near 0
    words = [f"w{i:02d}" for i in range(24)]
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(600):
        start = int(rng.integers(24))
        lines.append(" ".join(words[(start + k) % 24] for k in range(int(rng.integers(6, 14)))))
    text = tmp_path / "cycle.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "lm"
    code, _, err = run_cli(capsys, "train", "wordlm", "--data", text, "--out", out,
                           "--epochs", "10", "--batch-size", "16", "--min-count", "1",
                           "--units", "64", "--embedding-dim", "16", "--max-length", "16",
                           "--learning-rate", "3e-3", "--quiet")
    assert code == 0, err
    preset = zoo.load(out)
    config = preset.config["config"]
    size = config["output_vocabulary"]
    # the softmax bias started at the training targets' log frequencies
    _, targets = tasks.sentiment.lm.windows(text, "train", max_length=16,
                                            output_vocabulary=size,
                                            vocabulary=config["vocabulary"])
    assert config["output_prior"] == log_prior(targets, size)
    built = zoo.build(preset.config["builder"], **config)
    np.testing.assert_allclose(built.get_layer("lm_output").bias.numpy(),
                               config["output_prior"], atol=1e-6)
    code, out_text, err = run_cli(capsys, "evaluate", out, "--json")
    assert code == 0, err
    nll = json.loads(out_text)["metrics"]["nll"]
    # far below the unigram entropy: it reads context (the token after each line's <end> is
    # random, so the floor is about 0.4; 10 epochs reach 1.37)
    assert nll < 0.6 * np.log(24), nll


def test_the_encoder_does_not_saturate_in_the_first_steps():
    """At the preset's sizes (GRU 128, a 2,000-word softmax over Zipf-distributed words), a
    softmax bias starting at zero drove the encoder to a saturated fixed point within 20 Adam
    steps (mean |h| 0.96, then the loss stays at the unigram entropy); the log-prior bias
    keeps it in its working range."""
    from tasks.sentiment.lm import log_prior

    rng = np.random.default_rng(0)
    size, vocabulary = 2000, [*WORDS[:4], *(f"w{i}" for i in range(2400))]
    zipf = 1.0 / np.arange(1, size + 1)
    tokens = rng.choice(size, p=zipf / zipf.sum(), size=(640, 65)).astype(np.int32)
    follows = rng.permutation(size)
    for t in range(1, 65):  # half the words decide the next one
        keep = rng.random(640) < 0.5
        tokens[keep, t] = follows[tokens[keep, t - 1]]
    x = tokens[:, 1:]
    y = np.stack([np.roll(tokens, -1, 1)[:, 1:], tokens[:, :-1]], -1)
    model = zoo.build("wordlm-bigru", vocabulary=vocabulary, output_vocabulary=size,
                      output_prior=log_prior(y, size))
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)  # 30 steps
    forward, backward = keras.Model(model.input, model.get_layer("encoder").output)(x[:16])
    assert float(np.abs(forward).mean()) < 0.6 and float(np.abs(backward).mean()) < 0.6


def test_log_prior_is_smoothed_log_frequency():
    from tasks.sentiment.lm import log_prior

    prior = np.exp(log_prior(np.array([[0, 1, 1, 1]]), 3))
    np.testing.assert_allclose(prior, [2 / 7, 4 / 7, 1 / 7], atol=1e-3)
    with pytest.raises(ValueError, match="output_prior must hold 6"):
        zoo.build("wordlm-bigru", vocabulary=WORDS, output_vocabulary=6, output_prior=[0.0])


def test_train_with_validation_adds_the_dev_texts_to_training_only(data):
    from tasks.sentiment import TASK, encoded, representative

    sst = data / "sst2"
    train, labels = encoded(sst, "train", max_length=16, min_count=1)
    refit, refit_labels = encoded(sst, "train", max_length=16, min_count=1,
                                  with_validation=True)
    dev, dev_labels = encoded(sst, "validation", max_length=16, min_count=1)
    assert np.array_equal(refit, np.concatenate([train, dev]))
    assert np.array_equal(refit_labels, np.concatenate([labels, dev_labels]))
    test_plain = encoded(sst, "test", max_length=16, min_count=1)[0]
    test_refit = encoded(sst, "test", max_length=16, min_count=1, with_validation=True)[0]
    assert np.array_equal(test_plain, test_refit)
    calibration = representative(sst, 500, max_length=16, min_count=1, with_validation=True)
    assert len(calibration) == len(train)  # calibration reads the training split proper
    assert TASK.trained_on("validation", {"with_validation": True})
    assert not TASK.trained_on("validation", {"with_validation": False})


def test_a_refit_builds_its_vocabulary_from_the_dev_texts_too(tmp_path):
    from tasks.sentiment import training_vocabulary

    sst = tmp_path / "sst2"
    sst.mkdir()
    (sst / "train.tsv").write_text("a good film .\t1\na bad film .\t0\n", encoding="utf-8")
    (sst / "dev.tsv").write_text("a splendid film .\t1\na splendid film .\t1\n",
                                 encoding="utf-8")
    (sst / "test.tsv").write_text("a dull film .\t0\n", encoding="utf-8")
    assert "splendid" not in training_vocabulary(sst, min_count=1).tokens
    assert "splendid" in training_vocabulary(sst, min_count=1, with_validation=True).tokens
    assert "dull" not in training_vocabulary(sst, min_count=1, with_validation=True).tokens
