"""textgen on device, through the command line: train -> preset with its vocabulary asset ->
export (float32 and int8 step files, the vocabulary beside and inside them) -> the TFLite
samplers give the Keras text (float32) and valid text (int8) -> predict with both."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zoo
from rnnzoo.cli import main
from tasks.common.characters import CharVocabulary
from tasks.textgen.sampling import KerasStepper, generate_ids
from tasks.textgen.tflite_sampler import TFLiteStepper, file_vocabulary

TEXT = "ROMEO: the night is day.\nJULIET: the day is night.\n" * 60


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny preset trained for one epoch and its float32 and int8 step files."""
    folder = tmp_path_factory.mktemp("textgen-cli")
    text = folder / "plays.txt"
    text.write_text(TEXT, encoding="utf-8")
    run = folder / "run"
    assert main([str(a) for a in ("train", "textgen", "--data", text, "--out", run, "--length",
                                  "16", "--units", "16", "16", "--embedding", "8", "--epochs",
                                  "1", "--batch-size", "16", "--quiet")]) == 0
    out = folder / "export"
    assert main([str(a) for a in ("export", run / "preset", "--out", out, "--format", "tflite",
                                  "--quantize", "fp32,int8", "--kinds", "step",
                                  "--representative", "20", "--eval-examples", "20")]) == 0
    report = json.loads((out / "report.json").read_text())
    return run / "preset", out, report


def test_preset_and_export_carry_the_vocabulary(exported):
    preset, out, report = exported
    vocabulary = CharVocabulary.load(preset / "assets" / "characters.json")
    assert set(vocabulary.tokens[2:]) == set(TEXT)
    assert zoo.load(preset).config["config"]["characters"] == list(vocabulary.tokens)
    assert CharVocabulary.load(out / "assets" / "characters.json") == vocabulary
    for quantize in ("fp32", "int8"):
        assert file_vocabulary(out / f"step.{quantize}.tflite") == vocabulary
    assert {e["metric"]["name"] for e in report["artifacts"]} == {"nats_per_char"}


def test_evaluate_scores_validation_by_default_as_the_text_has_no_test_part(exported,
                                                                            capsys):
    """tinyshakespeare is split train/validation only (char-rnn, nanoGPT): a plain
    ``rnnzoo evaluate`` scores validation and says so, once for an export folder's files."""
    preset, out, _ = exported
    text = preset.parent.parent / "plays.txt"
    code, printed, err = run_cli(capsys, "evaluate", preset, "--data", text)
    assert code == 0, err
    assert "[textgen, validation] nats_per_char" in printed and "no test part" in err
    code, printed, err = run_cli(capsys, "evaluate", out, "--data", text)
    assert code == 0, err
    assert printed.count("[textgen, validation]") == 2 and err.count("no test part") == 1
    code, _, err = run_cli(capsys, "evaluate", preset, "--data", text, "--split", "test")
    assert code == 2 and "no test part (test fraction 0" in err


def test_float32_tflite_generates_the_keras_text(exported):
    preset, out, _ = exported
    model = zoo.load(preset).model
    for seed, temperature, top_k in ((0, 1.0, None), (7, 1.5, 4)):
        settings = dict(length=120, seed=seed, temperature=temperature, top_k=top_k)
        expected = generate_ids(KerasStepper(model), [2, 3, 4], **settings)
        assert generate_ids(TFLiteStepper(out / "step.fp32.tflite"), [2, 3, 4],
                            **settings) == expected
        assert len(set(expected)) > 4


def test_float32_and_int8_step_logits_against_keras(exported):
    """float32: equal up to float rounding (1e-4); int8: within 0.3 of logits that span
    several units after one epoch, and it samples valid characters only."""
    preset, out, _ = exported
    model = zoo.load(preset).model
    ids = [2, 5, 3, 9, 11, 4, 6, 2]
    expected = model.predict_on_batch(np.array([ids], np.int32))[0]
    for quantize, tolerance in (("fp32", 1e-4), ("int8", 0.3)):
        stepper = TFLiteStepper(out / f"step.{quantize}.tflite")
        got = np.stack([stepper.step(i) for i in ids])
        np.testing.assert_allclose(got, expected, atol=tolerance)
    size = len(CharVocabulary.load(out / "assets" / "characters.json"))
    drawn = generate_ids(TFLiteStepper(out / "step.int8.tflite"), [2], length=50, seed=0)
    assert min(drawn) >= 2 and max(drawn) < size


def test_predict_prints_the_same_text_with_keras_and_tflite(exported, capsys):
    preset, out, _ = exported
    settings = ("--prompt", "ROMEO:", "--length", "40", "--seed", "3", "--temperature", "0.8")
    code, keras_out, err = run_cli(capsys, "predict", preset, *settings)
    assert code == 0, err
    assert keras_out.startswith("ROMEO:") and len(keras_out.rstrip("\n")) >= 40
    code, lite_out, err = run_cli(capsys, "predict", preset, *settings, "--tflite",
                                  out / "step.fp32.tflite")
    assert code == 0, err
    assert lite_out == keras_out


def test_bad_text_stops_training_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xc3(\n" * 200)
    code, _, err = run_cli(capsys, "train", "textgen", "--data", bad, "--out", tmp_path / "r")
    assert code == 2 and "bad.txt:2: not UTF-8" in err
    short = tmp_path / "short.txt"
    short.write_text("to be or not to be\n" * 5, encoding="utf-8")
    code, _, err = run_cli(capsys, "train", "textgen", "--data", short, "--out", tmp_path / "s")
    assert code == 2 and "fewer than one sequence of length 128" in err
