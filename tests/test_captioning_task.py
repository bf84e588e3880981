"""The captioning task end to end on a tiny procedural dataset, as a user would run it from
the command line: train, predict with beam search and attention plot, export with the
defaults (an encoder and a decoder-step file per quantize mode), evaluate the exported pair."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tasks
from rnnzoo.cli import main
from tasks.captioning.shapes import write_dataset

SIZE = 32
TINY = ["--image-size", str(SIZE), "--encoder-filters", "4", "8", "--units", "8",
        "--embedding-dim", "4", "--attention-units", "4", "--epochs", "1", "--batch-size", "8",
        "--quiet"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("captioning") / "shapes"
    write_dataset(root, images=16, validation_images=3, test_images=4, seed=3, progress=False)
    return root


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_examples_are_an_image_the_tokens_so_far_and_the_next_tokens(dataset):
    task = tasks.get_task("captioning")
    vocabulary = ["<pad>", "<start>", "<end>", "<unk>", "a", "red"]
    examples = list(task.load(str(dataset), "train", image_size=SIZE, max_length=8,
                              vocabulary=vocabulary).as_numpy_iterator())
    x, y = examples[0]
    assert x["image"].shape == (SIZE, SIZE, 3) and x["image"].dtype == np.uint8
    assert x["tokens"].shape == y.shape == (8,)
    assert x["tokens"][0] == 1  # <start>
    # the target is the input shifted by one: every next token, then <end> (or a cut)
    assert np.array_equal(x["tokens"][1:][y[:-1] != 0], y[:-1][y[:-1] != 0])
    assert set(np.unique(y)) <= set(range(len(vocabulary)))
    samples = task.representative(str(dataset), 5, image_size=SIZE, vocabulary=vocabulary)
    assert len(samples) == 5 and samples[0]["image"].shape == (1, SIZE, SIZE, 3)


@pytest.mark.slow
def test_train_predict_export_evaluate_from_the_command_line(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "captioning", "--data", str(dataset),
                           "--out", str(run), *TINY)
    assert code == 0, err
    card = json.loads((run / "preset" / "card.json").read_text())
    config = json.loads((run / "preset" / "config.json").read_text())["config"]
    assert card["data_options"]["vocabulary"] == config["vocabulary"]
    assert {"bleu1", "bleu4"} <= set(card["metrics"]["keras"])

    image = sorted((dataset / "test").glob("*.png"))[0]
    plot = tmp_path / "attention.png"
    code, out, err = run_cli(capsys, "predict", str(run), str(image), "--beam", "3",
                             "--plot", str(plot))
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"{image}: ")
    assert plot.stat().st_size > 1000

    out_dir = tmp_path / "export"
    code, _, err = run_cli(capsys, "export", str(run), "--out", str(out_dir), "--data",
                           str(dataset))
    assert code == 0, err
    report = json.loads((out_dir / "report.json").read_text())
    pairs = {e["quantize"]: e for e in report["artifacts"] if e["kind"] == "parts"}
    assert set(pairs) == {"fp32", "fp16", "dynamic", "int8"}
    assert pairs["fp32"]["max_abs_diff"] < 1e-4
    assert pairs["fp32"]["metric_delta"] == 0
    code, out, err = run_cli(capsys, "evaluate", str(out_dir), "--data", str(dataset),
                             "--json")
    assert code == 0, err
    rows = {r["model"].split("/")[-1]: r for r in json.loads(out)}
    assert set(rows) == {f"encoder.{q}.tflite+decoder.{q}.tflite"
                         for q in ("fp32", "fp16", "dynamic", "int8")}
    assert all("bleu4" in r["metrics"] for r in rows.values())
