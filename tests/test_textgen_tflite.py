"""textgen on device: TFLite step files sample what Keras samples; the command line end to end
(train -> preset with its vocabulary asset -> export with the vocabulary beside the files ->
predict with Keras and TFLite)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import export
import zoo
from rnnzoo.cli import main
from tasks.common.characters import CharVocabulary
from tasks.textgen.sampling import KerasStepper, generate_ids
from tasks.textgen.tflite_sampler import TFLiteStepper

CHARS = ["<pad>", "<unk>", *"abcdefgh \n"]


@pytest.fixture(scope="module")
def step_files(tmp_path_factory):
    """A random tiny character LSTM and its float32 and int8 TFLite step files."""
    keras.utils.set_random_seed(1)
    model = zoo.build("textgen-char-lstm", characters=CHARS, units=[16, 16], embedding=8)
    folder = tmp_path_factory.mktemp("textgen-tflite")
    targets = {export.Variant(kind="step", quantize=q): folder / f"step.{q}.tflite"
               for q in ("fp32", "int8")}
    rng = np.random.default_rng(0)
    export.convert_variants(model, targets, representative=[
        rng.integers(2, len(CHARS), (1, 24)).astype(np.int32) for _ in range(16)])
    return model, {v.quantize: p for v, p in targets.items()}


def test_float32_tflite_generates_the_keras_text(step_files):
    model, files = step_files
    for seed, temperature, top_k in ((0, 1.0, None), (7, 1.5, 4)):
        settings = dict(length=120, seed=seed, temperature=temperature, top_k=top_k)
        expected = generate_ids(KerasStepper(model), [2, 3, 4], **settings)
        assert generate_ids(TFLiteStepper(files["fp32"]), [2, 3, 4], **settings) == expected
        assert len(set(expected)) > 4


def test_float32_and_int8_step_logits_against_keras(step_files):
    """float32: equal up to float rounding (1e-4); int8: close (0.25 in logits of a random
    model whose logits span about +-1), and it samples valid characters."""
    model, files = step_files
    ids = [2, 5, 3, 9, 11, 4, 6, 2]
    expected = model.predict_on_batch(np.array([ids], np.int32))[0]
    for quantize, tolerance in (("fp32", 1e-4), ("int8", 0.25)):
        stepper = TFLiteStepper(files[quantize])
        got = np.stack([stepper.step(i) for i in ids])
        np.testing.assert_allclose(got, expected, atol=tolerance)
    drawn = generate_ids(TFLiteStepper(files["int8"]), [2], length=50, seed=0)
    assert min(drawn) >= 2 and max(drawn) < len(CHARS)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_command_line_end_to_end(tmp_path, capsys):
    text = tmp_path / "plays.txt"
    text.write_text("ROMEO: the night is day.\nJULIET: the day is night.\n" * 60,
                    encoding="utf-8")
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "textgen", "--data", text, "--out", run,
                             "--length", "16", "--units", "16", "--embedding", "8",
                             "--epochs", "1", "--batch-size", "16", "--quiet")
    assert code == 0, err
    preset = run / "preset"
    vocabulary = CharVocabulary.load(preset / "assets" / "characters.json")
    assert set(vocabulary.tokens[2:]) == set(text.read_text())
    assert zoo.load(preset).config["config"]["characters"] == list(vocabulary.tokens)

    exported = tmp_path / "export"
    code, out, err = run_cli(capsys, "export", preset, "--out", exported, "--format", "tflite",
                             "--quantize", "fp32", "--kinds", "step", "--json")
    assert code == 0, err
    assert CharVocabulary.load(exported / "assets" / "characters.json") == vocabulary
    (entry,) = json.loads(out)["report"]["artifacts"]
    assert entry["metric"]["name"] == "nats_per_char" and entry["kind"] == "step"

    code, keras_out, err = run_cli(capsys, "predict", preset, "--prompt", "ROMEO:",
                                   "--length", "40", "--seed", "3", "--temperature", "0.8")
    assert code == 0, err
    assert keras_out.startswith("ROMEO:") and len(keras_out.rstrip("\n")) >= 40
    code, lite_out, err = run_cli(capsys, "predict", preset, "--prompt", "ROMEO:", "--length",
                                  "40", "--seed", "3", "--temperature", "0.8", "--tflite",
                                  exported / "step.fp32.tflite")
    assert code == 0, err
    assert lite_out == keras_out

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xc3(\n" * 200)
    code, _, err = run_cli(capsys, "train", "textgen", "--data", bad, "--out", tmp_path / "r2")
    assert code == 2 and "bad.txt:2: not UTF-8" in err
