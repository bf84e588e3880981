"""``rnnzoo bench export``'s preset section: verdicts, recommendation, refusals, --presets;
and the TFLite runner's fallback when the default XNNPACK delegate fails."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from rnnzoo.bench import export_presets as bench
from rnnzoo.cli import main


def _entry(kind: str, quantize: str, size: int, value: float | None, *, notes=()) -> dict:
    return {"format": "tflite", "kind": kind, "quantize": quantize, "io_dtype": "float32",
            "path": f"{kind}.{quantize}.tflite", "bytes": size, "method": "converter",
            "metric": None if value is None else {"name": "accuracy", "value": value},
            "latency_ms": 0.5, "notes": list(notes)}


def _report(entries: list[dict], notes=(), keras_value: float = 0.900) -> dict:
    return {"metric": "accuracy", "keras": {"metric": {"name": "accuracy", "value": keras_value}},
            "artifacts": entries, "notes": list(notes)}


def test_tolerances_count_only_a_loss_in_the_task_direction():
    accuracy, nll = bench.tolerance("accuracy"), bench.tolerance("nll")
    assert bench.within(0.891, 0.900, False, accuracy)  # 0.9 point lower: within 1 point
    assert not bench.within(0.889, 0.900, False, accuracy)  # 1.1 points lower
    assert bench.within(0.990, 0.900, False, accuracy)  # a gain is never a miss
    assert bench.within(2.019, 2.0, True, nll) and not bench.within(2.021, 2.0, True, nll)
    assert bench.within(None, 2.0, True, nll) is None
    assert bench.size_target(128) == 0.30 and bench.size_target(64) == 0.40
    assert bench.size_target(None) == 0.40


def test_summary_recommends_the_smallest_file_within_tolerance_and_checks_targets():
    first = _report([
        _entry("sequence", "fp32", 1000, 0.900), _entry("sequence", "fp16", 520, 0.900),
        _entry("sequence", "dynamic", 300, 0.880),  # smaller, but 2 points lower
        _entry("sequence", "int8", 350, 0.895)],
        notes=["no step model: layer 'log_mel' has no step form"])
    second = _report([_entry("sequence", "int16x8", 330, 0.899)])
    refused = bench._refusals(first, bench.FIRST_PASS + bench.SECOND_PASS)
    row = bench.summarize("demo", [first, second], refused, units=128, lower_is_better=False)
    assert row["recommended"] == {"sequence": "int16x8"}  # 330 bytes beats int8's 350
    by_mode = {v["quantize"]: v for v in row["variants"]}
    assert by_mode["int16x8"]["ratio"] == pytest.approx(0.33)  # over the first pass's fp32
    assert by_mode["dynamic"]["within"] is False and by_mode["int8"]["within"] is True
    checks = {c["check"]: c for c in row["checks"]}
    assert checks["int8 sequence bytes / fp32"]["passed"] is False  # 0.35 > 0.30 (128 units)
    assert checks["int8 sequence accuracy"]["passed"] is True
    assert {f["variant"] for f in refused} == {f"step.{m}" for m in
                                               bench.FIRST_PASS + bench.SECOND_PASS}
    small = bench.summarize("demo", [first], refused, units=64, lower_is_better=False)
    assert {c["check"]: c for c in small["checks"]}["int8 sequence bytes / fp32"]["passed"]


def test_an_unscored_int8_file_is_a_miss_with_its_reason():
    report = _report([_entry("step", "fp32", 1000, 0.9),
                      _entry("step", "int8", 200, None, notes=["not run: RuntimeError: boom"])])
    row = bench.summarize("demo", [report], [], units=200, lower_is_better=False)
    metric = {c["check"]: c for c in row["checks"]}["int8 step accuracy"]
    assert metric["passed"] is None and "boom" in metric["note"]
    assert row["recommended"] == {"step": "fp32"}
    text = "\n".join(bench.format_rows([row]) + bench.summary_lines([row]))
    assert "boom" in text and "recommended: step fp32" in text


def test_bench_model_lists_an_int16x8_refusal_kind_by_kind(tmp_path):
    calls = []

    def exporter(quantize: list[str], kinds: list[str], out: Path) -> dict:
        calls.append((tuple(quantize), tuple(kinds)))
        if quantize == ["int16x8"] and "sequence" in kinds:
            raise ValueError("op MEL has no 16-bit-activation kernel")
        return _report([_entry(k, q, 100 if q == "fp32" else 40, 0.9)
                        for k in kinds for q in quantize])

    row, first = bench.bench_model("demo", exporter, tmp_path, units=32, lower_is_better=False)
    assert calls == [(bench.FIRST_PASS, ("sequence", "step")), (("int16x8",), ("sequence", "step")),
                     (("int16x8",), ("sequence",)), (("int16x8",), ("step",))]
    assert row["refused"] == [{"variant": "sequence.int16x8",
                               "reason": "op MEL has no 16-bit-activation kernel"}]
    assert ("step", "int16x8") in {(v["kind"], v["quantize"]) for v in row["variants"]}
    assert first["artifacts"][0]["quantize"] == "fp32"


def test_recurrent_units_are_those_of_the_widest_recurrent_layer():
    inputs = keras.Input((5, 3))
    x = keras.layers.Bidirectional(keras.layers.GRU(8, return_sequences=True))(inputs)
    x = keras.layers.LSTM(16)(x)
    model = keras.Model(inputs, keras.layers.Dense(300)(x))
    assert bench.recurrent_units(model) == 16
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(200)])
    assert bench.recurrent_units(dense) is None


@pytest.mark.parametrize("argv, message", [
    (["bench", "export", "--presets", "adding-lstn"], "unknown preset 'adding-lstn'"),
    (["bench", "layers", "--presets", "adding-lstm"], "does not take presets"),
])
def test_bench_presets_option_refuses_bad_names(capsys, argv, message):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def dense_tflite() -> bytes:
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def _flaky(always: bool):
    from ai_edge_litert import interpreter

    class Flaky(interpreter.Interpreter):
        """Fails like the video preset's fp16 file under XNNPACK: on invoke."""

        def __init__(self, *args, experimental_op_resolver_type=None, **kwargs):
            self.default = experimental_op_resolver_type == interpreter.OpResolverType.AUTO
            super().__init__(*args, experimental_op_resolver_type=experimental_op_resolver_type,
                             **kwargs)

        def invoke(self):
            if self.default or always:
                raise RuntimeError("failed to setup XNNPACK runtime Node number 18 (WHILE) "
                                   "failed to invoke.")
            return super().invoke()

    return Flaky


def test_runner_falls_back_to_builtin_kernels_when_xnnpack_fails(dense_tflite, monkeypatch):
    from ai_edge_litert import interpreter

    from export.runner import TFLiteRunner

    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    expected = TFLiteRunner(dense_tflite).predict(x)
    monkeypatch.setattr(interpreter, "Interpreter", _flaky(always=False))
    runner = TFLiteRunner(dense_tflite)
    assert runner.note is None  # loads; the delegate fails only when invoked
    np.testing.assert_allclose(runner.predict(x), expected, atol=1e-6)
    assert "XNNPACK" in runner.note and "WITHOUT_DEFAULT_DELEGATES" in runner.note
    np.testing.assert_allclose(runner.predict(x), expected, atol=1e-6)  # stays on the fallback


def test_runner_raises_the_first_error_when_the_fallback_fails_too(dense_tflite, monkeypatch):
    from ai_edge_litert import interpreter

    from export.runner import TFLiteRunner

    monkeypatch.setattr(interpreter, "Interpreter", _flaky(always=True))
    runner = TFLiteRunner(dense_tflite)
    with pytest.raises(RuntimeError, match="WHILE"):
        runner.predict(np.zeros((1, 4), np.float32))


def test_a_model_in_parts_is_judged_on_its_encoder_decoder_pair(tmp_path):
    calls = []

    def exporter(quantize: list[str], kinds: list[str], out: Path) -> dict:
        calls.append(tuple(quantize))
        if quantize == ["int16x8"]:
            raise ValueError("no 16-bit kernel for the encoder")
        entries = []
        for q in quantize:
            size = 1000 if q == "fp32" else 250
            entries += [_entry("encoder", q, size, None), _entry("decoder", q, size, None),
                        _entry("parts", q, 2 * size, 0.9 if q == "fp32" else 0.885)]
        return _report(entries)

    row, _ = bench.bench_model("pair", exporter, tmp_path, units=256, lower_is_better=False)
    assert calls == [bench.FIRST_PASS, ("int16x8",)]  # one try: the pair is one export
    assert row["refused"] == [{"variant": "parts.int16x8",
                               "reason": "no 16-bit kernel for the encoder"}]
    checks = {c["check"]: c["passed"] for c in row["checks"]}
    assert checks == {"int8 parts bytes / fp32": True, "int8 parts accuracy": False}
    assert row["recommended"] == {"parts": "fp32"}  # 1.5 points lower is outside tolerance


def test_a_failed_int8_export_keeps_the_other_variants_and_is_a_miss(tmp_path):
    def exporter(quantize: list[str], kinds: list[str], out: Path) -> dict:
        if "int8" in quantize:
            raise RuntimeError("converter crashed")
        return _report([_entry(k, q, 100 if q == "fp32" else 50, 0.9)
                        for k in kinds for q in quantize])

    row, _ = bench.bench_model("demo", exporter, tmp_path, units=64, lower_is_better=False)
    made = {(v["kind"], v["quantize"]) for v in row["variants"]}
    assert ("step", "dynamic") in made and ("sequence", "int16x8") in made
    assert ("sequence", "int8") not in made
    checks = {c["check"]: c for c in row["checks"]}
    assert checks["int8 sequence bytes / fp32"]["passed"] is False
    assert "converter crashed" in checks["int8 sequence bytes / fp32"]["note"]
