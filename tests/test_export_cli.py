"""``rnnzoo export``, ``rnnzoo evaluate`` on exported files, and ``rnnzoo bench export --quick``."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pytest

import zoo
from rnnzoo.cli import main

T = 6


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> Path:
    keras.utils.set_random_seed(0)
    model = zoo.build("adding-lstm", length=T, units=8)
    folder = tmp_path_factory.mktemp("preset") / "tiny-adding"
    card = {"task": "adding", "data_options": {"length": T, "train_size": 64}, "metrics": {}}
    return zoo.save(model, folder, card=card, assets={"labels.txt": "sum\n"})


@pytest.fixture(scope="module")
def exported(preset, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli-export") / "out"
    code = main(["export", str(preset), "--out", str(out), "--quantize", "none,int8",
                 "--eval-examples", "32", "--representative", "16"])
    assert code == 0
    return out


@pytest.mark.slow
def test_export_writes_files_report_and_metadata(exported, capsys):
    names = {p.name for p in exported.iterdir()}
    assert {"savedmodel", "assets", "metadata.json", "report.json", "sequence.fp32.tflite",
            "sequence.int8.tflite", "step.fp32.tflite", "step.int8.tflite"} <= names
    assert (exported / "assets" / "labels.txt").read_text() == "sum\n"
    metadata = json.loads((exported / "metadata.json").read_text())
    assert metadata["task"] == "adding" and metadata["data_options"]["length"] == T
    assert metadata["files"]["step.int8.tflite"]["states"] == {"state_h_0": 8, "state_c_0": 8}
    report = json.loads((exported / "report.json").read_text())
    assert report["metric"] == "mse" and len(report["artifacts"]) == 6


@pytest.mark.slow
def test_builder_config_is_in_metadata_json_only(exported):
    """Provenance every file need not carry (a text model's config repeats its vocabulary)
    stays in the folder's metadata.json; the files keep what evaluating them needs."""
    from export.tflite_file import read_metadata

    metadata = json.loads((exported / "metadata.json").read_text())
    assert metadata["builder_config"] == {"length": T, "units": 8}
    inside = read_metadata((exported / "step.int8.tflite").read_bytes())
    assert "builder_config" not in inside
    assert inside["task"] == "adding" and inside["data_options"]["length"] == T


@pytest.mark.slow
def test_export_metadata_names_the_calibration_and_the_preset_without_paths(exported):
    metadata = json.loads((exported / "metadata.json").read_text())
    assert metadata["calibration"] == {"data": None, "split": "train", "examples": 16,
                                       "int8_weights": "per_tensor"}
    assert metadata["preset_source"]["folder"].startswith("../")  # relative to the export
    assert "preset_path" not in metadata and "data_path" not in metadata


@pytest.mark.slow
def test_only_calibrated_files_carry_the_calibration_record(exported):
    """A float32 file was not calibrated, so its embedded metadata does not say it was."""
    from export.tflite_file import read_metadata

    for kind in ("sequence", "step"):
        int8 = read_metadata((exported / f"{kind}.int8.tflite").read_bytes())
        fp32 = read_metadata((exported / f"{kind}.fp32.tflite").read_bytes())
        assert int8["calibration"]["examples"] == 16
        assert "calibration" not in fp32
        assert fp32["task"] == int8["task"] == "adding"


def _channel_scaled_weights(path: Path) -> int:
    """How many constant tensors of the file have more than one quantization scale."""
    from export import tflite_file

    model = tflite_file.read(path.read_bytes())
    return sum(1 for graph in model.subgraphs for t in graph.tensors
               if model.buffers[t.buffer].data is not None and t.quantization is not None
               and t.quantization.scale is not None and len(t.quantization.scale) > 1)


def _export_with_card_defaults(preset, tmp_path, capsys, defaults: dict, override: str):
    """Export a copy of ``preset`` whose card has ``export_defaults`` (int8 step files only)
    to ``a``, and again with the option ``override`` to ``b``; returns both CLI results."""
    import shutil

    folder = tmp_path / "preset-with-defaults"
    shutil.copytree(preset, folder)
    zoo.update_card(folder, {"export_defaults": {**defaults, "why": "a test"}})
    common = ["--quantize", "int8", "--kinds", "step", "--format", "tflite",
              "--eval-examples", "8", "--representative", "8"]
    first = run_cli(capsys, "export", str(folder), "--out", str(tmp_path / "a"), *common)
    second = run_cli(capsys, "export", str(folder), "--out", str(tmp_path / "b"), override,
                     *common)
    return first, second


@pytest.mark.slow
def test_export_takes_per_channel_from_the_card_and_an_option_overrides_it(preset, tmp_path,
                                                                         capsys):
    (code, out, err), (code_b, out_b, err_b) = _export_with_card_defaults(
        preset, tmp_path, capsys, {"per_channel": True}, "--no-per-channel")
    assert code == 0, err
    assert "int8 weights per channel (the preset card's export_defaults)" in out
    assert _channel_scaled_weights(tmp_path / "a" / "step.int8.tflite") >= 2
    metadata = json.loads((tmp_path / "a" / "metadata.json").read_text())
    assert metadata["calibration"]["int8_weights"] == "per_channel"
    assert code_b == 0 and "int8 weights per tensor" in out_b, err_b
    assert _channel_scaled_weights(tmp_path / "b" / "step.int8.tflite") == 0


@pytest.mark.slow
def test_export_takes_float_cell_state_from_the_card_and_an_option_overrides_it(
        preset, tmp_path, capsys):
    (code, out, err), (code_b, out_b, err_b) = _export_with_card_defaults(
        preset, tmp_path, capsys, {"float_cell_state": True}, "--no-float-cell-state")
    assert code == 0, err
    assert "LSTM cell states in float (the preset card's export_defaults)" in out
    assert "LSTM cell state kept in float (1 cell update(s)" in out
    metadata = json.loads((tmp_path / "a" / "metadata.json").read_text())
    assert metadata["calibration"]["float_cell_state"] is True
    assert code_b == 0 and "cell state" not in out_b, err_b


def test_export_refuses_an_existing_folder_with_one_line(preset, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    code, out, err = run_cli(capsys, "export", str(preset), "--out", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "already exists" in err and "--overwrite" in err


@pytest.mark.parametrize("argv, message", [
    (["--quantize", "int4"], "--quantize: unknown value int4"),
    (["--format", "onnx"], "--format: unknown value onnx"),
    (["--kinds", ""], "--kinds"),
    (["--quantize", "int8", "--float-layers", "front"], "float_layers names no layer of the "
                                                        "model: front"),
])
def test_export_bad_options_exit_2(preset, tmp_path, capsys, argv, message):
    code, _, err = run_cli(capsys, "export", str(preset), "--out", str(tmp_path / "o"), *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_export_overwrite_replaces_an_export_folder(preset, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    (out / "old.tflite").write_bytes(b"old")
    code, text, _ = run_cli(capsys, "export", str(preset), "--out", str(out), "--format",
                            "savedmodel", "--eval-examples", "8", "--overwrite")
    assert code == 0 and "savedmodel" in text
    assert (out / "savedmodel" / "saved_model.pb").is_file() and not (out / "old.tflite").exists()


@pytest.mark.slow
def test_evaluate_scores_an_exported_tflite_file(exported, capsys):
    code, out, err = run_cli(capsys, "evaluate", str(exported / "sequence.int8.tflite"),
                             "--split", "validation")
    assert code == 0, err
    assert "[adding, validation] mse" in out


@pytest.mark.slow
def test_evaluate_scores_every_file_of_an_export_folder(exported, capsys):
    code, out, _ = run_cli(capsys, "evaluate", str(exported), "--split", "validation", "--json")
    assert code == 0
    results = json.loads(out)
    assert {(r["kind"], r["quantize"]) for r in results} == {
        ("sequence", "fp32"), ("sequence", "int8"), ("step", "fp32"), ("step", "int8")}
    report = json.loads((exported / "report.json").read_text())
    fp32 = next(r for r in results if r["kind"] == "sequence" and r["quantize"] == "fp32")
    keras_mse = report["keras"]["metric"]["value"]
    assert fp32["metrics"]["mse"] > 0 and keras_mse > 0


@pytest.mark.slow
def test_evaluate_goes_on_past_a_file_the_interpreter_refuses(exported, capsys, monkeypatch):
    """A file that fails to run (e.g. XNNPACK preparation) is named on stderr; the other
    files are still scored and printed, and the exit code is 1."""
    from export import TFLiteRunner

    predict = TFLiteRunner.predict

    def refuse_int8(self, *args, **kwargs):
        if (self.metadata.get("file") or {}).get("quantize") == "int8":
            raise RuntimeError("failed to setup XNNPACK runtime")
        return predict(self, *args, **kwargs)

    monkeypatch.setattr(TFLiteRunner, "predict", refuse_int8)
    code, out, err = run_cli(capsys, "evaluate", str(exported), "--split", "validation")
    assert code == 1
    assert "sequence.int8.tflite: the TFLite interpreter could not run it" in err
    assert "sequence.fp32.tflite [adding, validation] mse" in out and "int8" not in out


@pytest.mark.slow
def test_evaluate_record_writes_tflite_figures_into_the_card(preset, exported, capsys):
    code, _, err = run_cli(capsys, "evaluate", str(exported / "step.int8.tflite"),
                           "--split", "validation", "--record")
    assert code == 0, err
    assert "tflite-step.int8" in zoo.load(preset).card["metrics"]


def test_evaluate_refuses_a_tflite_file_without_metadata(tmp_path, capsys):
    (tmp_path / "x.tflite").write_bytes(b"not a model")
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path / "x.tflite"))
    assert code == 2 and "not a TFLite model" in err and err.count("\n") == 1


@pytest.mark.slow
def test_bench_export_quick(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code, text, err = run_cli(capsys, "bench", "export", "--quick", "--out", str(out))
    assert code == 0, err
    result = json.loads(out.read_text())
    (row,) = result["results"]
    assert row["model"] == "adding-lstm"
    formats = {(e["format"], e["kind"], e["quantize"]) for e in row["report"]["artifacts"]}
    assert ("tflite", "sequence", "int8") in formats and ("savedmodel", "step", "fp32") in formats
    checks = {c["check"]: c for c in row["checks"]}
    assert checks["fp32 sequence max|diff| vs Keras"]["passed"] is True
    assert "int8 sequence ms / SavedModel ms" in checks
    assert "[PASS]" in text and "adding-lstm" in text
    (preset,) = result["presets"]  # the same tiny model in the preset section, int16x8 too
    made = {(v["kind"], v["quantize"]) for v in preset["variants"]}
    assert {("sequence", "int16x8"), ("step", "int8"), ("step", "fp16")} <= made
    assert preset["recommended"]["sequence"] in {q for k, q in made if k == "sequence"}
    assert any(c["check"] == "int8 step bytes / fp32" for c in preset["checks"])
    assert "recommended:" in text


def test_card_export_options_are_the_export_defaults_an_export_reads():
    from rnnzoo.commands.export import card_export_options, card_options_lines

    card = {"export_defaults": {"per_channel": True, "float_cell_state": False, "why": "x"}}
    assert card_export_options(card) == {"per_channel": True, "float_cell_state": False}
    assert card_export_options({}) == {}
    assert card_options_lines(card_export_options(card)) == [
        "int8 export options from the preset card: per_channel"]
    assert card_options_lines({"float_cell_state": False}) == card_options_lines(None) == []
    with pytest.raises(ValueError, match="export_defaults must be an object"):
        card_export_options({"export_defaults": ["per_channel"]})
