"""export/: step models, SavedModel, TFLite (float and int8), the child converter, verification.

Models are tiny (T=6) and the expensive conversions are shared at module scope: one converter
child per model. The int8 size check uses 128 units, where the weights dominate the file.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import export
import tasks
import zoo
from export.artifact import Variant
from export.step import StepModelError, step_model, step_spec
from export.tflite import convert_variants
from export.tflite_file import add_metadata, op_summary, read, read_metadata, write
from zoo.layers import recurrent, recurrent_stack

T = 6
KINDS = ("lstm", "gru", "simple")
ADDING = tasks.get_task("adding")


def _adding(kind: str, units: int) -> keras.Model:
    keras.utils.set_random_seed(1)
    return zoo.build(f"adding-{kind}", length=T, units=units)


def _stack_model() -> keras.Model:
    """Two stacked LSTM layers (residual, layer norm) with a per-step output."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((T, 3), name="frames")
    hidden = keras.layers.Dense(8, name="pre")(inputs)
    hidden = recurrent_stack("lstm", [8, 8], residual=True, layer_norm=True,
                             return_sequences=True, name="stack")(hidden)
    return keras.Model(inputs, keras.layers.Dense(2, name="logits")(hidden), name="stacked")


def _sequences(n: int, features: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, T, features), dtype=np.float32)


def _step_through_keras(step: keras.Model, xs: np.ndarray) -> np.ndarray:
    spec = step_spec(step)
    states = {n: np.zeros((len(xs), w), np.float32) for n, w in spec.states.items()}
    outputs = []
    for t in range(xs.shape[1]):
        result = step({spec.inputs[0]: xs[:, t], **states})
        states = {n: np.asarray(result[n]) for n in spec.states}
        outputs.append(np.asarray(result[spec.outputs[0]]))
    return np.stack(outputs, 1) if spec.sequence_outputs else outputs[-1]


def _stream_tflite(path, xs: np.ndarray, input_name: str, output_name: str,
                   per_step: bool) -> np.ndarray:
    """Feed each sequence step by step through a TFLite step model, as an app would."""
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    runner = interpreter.get_signature_runner("step")
    details = runner.get_input_details()
    results = []
    for x in xs:
        states = {n: np.zeros(d["shape"], np.float32) for n, d in details.items()
                  if n.startswith("state_")}
        steps = []
        for t in range(len(x)):
            out = runner(**{input_name: x[None, t]}, **states)
            states = {n: out[n] for n in states}
            steps.append(out[output_name][0])
        results.append(np.stack(steps) if per_step else steps[-1])
    return np.stack(results)


# -- step models (Keras only, fast) -------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: _adding("lstm", 8), lambda: _adding("gru", 8),
                                  lambda: _adding("simple", 8), _stack_model])
def test_step_model_step_by_step_equals_the_sequence_model(make):
    model = make()
    step = step_model(model)
    xs = _sequences(3, model.inputs[0].shape[-1])
    np.testing.assert_allclose(_step_through_keras(step, xs), model(xs), atol=1e-6)


def test_step_model_states_are_named_per_layer():
    spec = step_spec(step_model(_stack_model()))
    assert spec.states == {"state_h_0": 8, "state_c_0": 8, "state_h_1": 8, "state_c_1": 8}
    assert spec.inputs == ["frames"] and spec.outputs == ["logits"]
    assert spec.sequence_outputs == ["logits"]
    assert step_spec(step_model(_adding("gru", 4))).states == {"state_h_0": 4}


def _bidirectional() -> keras.Model:
    inputs = keras.Input((T, 3))
    return keras.Model(inputs, recurrent("gru", 4, bidirectional=True, name="both_ways")(inputs))


def _conv_then_gru() -> keras.Model:
    inputs = keras.Input((T, 3))
    hidden = keras.layers.Conv1D(4, 3, name="conv")(inputs)
    return keras.Model(inputs, recurrent("gru", 4)(hidden))


@pytest.mark.parametrize("make, message", [
    (_bidirectional, "layer 'both_ways' is bidirectional"),
    (_conv_then_gru, r"layer 'conv' \(Conv1D\) is not known to act on each time step"),
])
def test_step_model_names_the_layer_without_a_step_form(make, message):
    with pytest.raises(StepModelError, match=message):
        step_model(make())


# -- SavedModel -----------------------------------------------------------------------------

def test_savedmodel_signatures_reload_and_match_keras(tmp_path):
    model = _adding("lstm", 8)
    path = export.to_savedmodel(model, tmp_path / "sm")
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == {"serving_default", "step"}
    serve = loaded.signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["sequence"]
    assert serve.structured_input_signature[1]["sequence"].shape.as_list() == [None, T, 2]
    assert list(serve.structured_outputs) == ["sum"]
    xs = _sequences(4, 2)
    np.testing.assert_array_equal(serve(sequence=xs)["sum"].numpy(), model(xs).numpy())
    step = loaded.signatures["step"]
    assert set(step.structured_input_signature[1]) == {"sequence", "state_h_0", "state_c_0"}
    assert set(step.structured_outputs) == {"sum", "state_h_0", "state_c_0"}
    states = {n: np.zeros((4, 8), np.float32) for n in ("state_h_0", "state_c_0")}
    for t in range(T):
        out = step(sequence=xs[:, t], **states)
        states = {n: out[n].numpy() for n in states}
    np.testing.assert_allclose(out["sum"].numpy(), model(xs).numpy(), atol=1e-6)


def test_savedmodel_of_a_bidirectional_model_has_no_step_signature(tmp_path):
    inputs = keras.Input((T, 2), name="x")
    outputs = keras.layers.Dense(1, name="y")(recurrent("gru", 4, bidirectional=True)(inputs))
    path = export.to_savedmodel(keras.Model(inputs, outputs), tmp_path / "sm")
    assert set(tf.saved_model.load(str(path)).signatures) == {"serving_default"}
    with pytest.raises(StepModelError):
        export.to_savedmodel(keras.Model(inputs, outputs), tmp_path / "sm2", step=True)


def test_savedmodel_refuses_an_existing_folder(tmp_path):
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        export.to_savedmodel(_adding("gru", 4), tmp_path / "sm")
    with pytest.raises(FileExistsError, match="not an export folder"):
        export.to_savedmodel(_adding("gru", 4), tmp_path / "sm", overwrite=True)
    assert (tmp_path / "sm" / "keep.txt").read_text() == "mine"


# -- TFLite (shared conversions) ----------------------------------------------------------

VARIANTS = [Variant("sequence", "none"), Variant("step", "none"), Variant("sequence", "int8"),
            Variant("step", "int8"), Variant("sequence", "int8", "int8"),
            Variant("step", "int8", "int8")]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    """{name: (model, {variant: path})}: 128-unit adding models of each kind and the stack."""
    root = tmp_path_factory.mktemp("tflite")
    result = {}
    models = {kind: _adding(kind, 128) for kind in KINDS}
    models["stack"] = _stack_model()
    for name, model in models.items():
        features = model.inputs[0].shape[-1]
        variants = {"lstm": VARIANTS, "stack": VARIANTS[:3]}.get(name, VARIANTS[:4])
        targets = {v: root / name / v.filename for v in variants}
        representative = [x[None] for x in _sequences(32, features, seed=3)]
        convert_variants(model, targets, representative=representative, name=name)
        result[name] = (model, targets)
    return result


@pytest.mark.slow
@pytest.mark.parametrize("name", [*KINDS, "stack"])
def test_float_tflite_sequence_matches_keras(converted, name):
    model, files = converted[name]
    xs = _sequences(3, model.inputs[0].shape[-1], seed=4)
    interpreter = Interpreter(model_path=str(files[Variant("sequence", "none")]), num_threads=1)
    runner = interpreter.get_signature_runner("serving_default")
    (input_name,) = runner.get_input_details()
    (output_name,) = runner.get_output_details()
    assert runner.get_input_details()[input_name]["shape"].tolist() == [1, T, xs.shape[-1]]
    got = np.concatenate([runner(**{input_name: x[None]})[output_name] for x in xs])
    np.testing.assert_allclose(got, model(xs), atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", [*KINDS, "stack"])
def test_float_tflite_step_model_streams_like_the_keras_sequence(converted, name):
    model, files = converted[name]
    xs = _sequences(3, model.inputs[0].shape[-1], seed=5)
    input_name = model.inputs[0].name if name == "stack" else "sequence"
    output_name = "logits" if name == "stack" else "sum"
    got = _stream_tflite(files[Variant("step", "none")], xs, input_name, output_name,
                         per_step=name == "stack")
    np.testing.assert_allclose(got, model(xs), atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", KINDS)
def test_int8_converts_runs_and_stays_close(converted, name):
    model, files = converted[name]
    xs = _sequences(8, model.inputs[0].shape[-1], seed=6)
    reference = np.asarray(model(xs))
    for kind in ("sequence", "step"):
        runner = export.TFLiteRunner(files[Variant(kind, "int8")])
        assert runner.kind == kind
        got = runner.predict(xs)
        assert got.shape == reference.shape
        assert np.max(np.abs(got - reference)) < 0.1 * max(1.0, np.max(np.abs(reference)))
    ops = op_summary(files[Variant("sequence", "int8")].read_bytes())
    assert "WHILE" in ops["builtin"] and ops["float"] == [] and not ops["flex"]


@pytest.mark.slow
def test_int8_sequence_with_per_step_outputs_loops_over_the_step_model(converted):
    model, files = converted["stack"]
    xs = _sequences(4, 3, seed=8)
    got = export.TFLiteRunner(files[Variant("sequence", "int8")]).predict(xs)
    assert got.shape == (4, T, 2)
    assert np.max(np.abs(got - np.asarray(model(xs)))) < 0.1
    ops = op_summary(files[Variant("sequence", "int8")].read_bytes())
    assert "DYNAMIC_UPDATE_SLICE" in ops["builtin"] and "WHILE" in ops["builtin"]


@pytest.mark.slow
def test_int8_of_models_without_a_step_form_is_unrolled(tmp_path):
    """Bidirectional layers, and recurrent layers given an initial state (streaming chunk
    models), have no step form: their int8 file comes from an unrolled graph."""
    keras.utils.set_random_seed(3)
    x = keras.Input((T, 2), name="x")
    h0 = keras.Input((4,), name="h0")
    both = recurrent("gru", 4, bidirectional=True, return_sequences=True, name="both")(x)
    seq, last = keras.layers.LSTM(4, return_sequences=True, return_state=True,
                                  name="lstm")(both, initial_state=[h0, h0])[:2]
    model = keras.Model([x, h0], [keras.layers.Dense(2, name="y")(seq), last])
    xs, states = _sequences(6, 2, seed=9), np.zeros((6, 4), np.float32)
    artifact = export.to_tflite(model, tmp_path / "m.tflite", quantize="int8",
                                representative=[[xs[i:i + 1], states[:1]] for i in range(6)])
    assert artifact.method == "unrolled" and "'both' is bidirectional" in artifact.notes[0]
    runner = export.TFLiteRunner(artifact.path)
    assert runner.inputs == ["x", "h0"] and runner.outputs == ["y", "lstm"]
    got = runner.predict([xs, states])
    for name, expected in zip(["y", "lstm"], model([xs, states])):
        assert np.max(np.abs(got[name] - np.asarray(expected))) < 0.1
    assert "WHILE" not in op_summary(artifact.path.read_bytes())["builtin"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_int8_files_are_at_most_30_percent_of_float(converted, kind):
    _, files = converted[kind]
    for model_kind in ("step", "sequence"):
        ratio = (files[Variant(model_kind, "int8")].stat().st_size
                 / files[Variant(model_kind, "none")].stat().st_size)
        assert ratio <= 0.30, f"{kind} {model_kind}: int8/float32 = {ratio:.3f}"


@pytest.mark.slow
def test_int8_io_gives_int8_tensors(converted):
    model, files = converted["lstm"]
    for kind, signature in (("sequence", "serving_default"), ("step", "step")):
        interpreter = Interpreter(model_path=str(files[Variant(kind, "int8", "int8")]))
        runner = interpreter.get_signature_runner(signature)
        assert all(d["dtype"] == np.int8 for d in runner.get_input_details().values())
        assert all(d["dtype"] == np.int8 for d in runner.get_output_details().values())
    xs = _sequences(4, 2, seed=7)
    float_io = export.TFLiteRunner(files[Variant("sequence", "int8")]).predict(xs)
    int8_io = export.TFLiteRunner(files[Variant("sequence", "int8", "int8")]).predict(xs)
    scale = export.TFLiteRunner(files[Variant("sequence", "int8", "int8")])._out["sum"][
        "quantization"
    ][0]
    np.testing.assert_allclose(int8_io, float_io, atol=2 * scale)


@pytest.mark.slow
def test_files_keep_no_debug_strings_and_share_one_empty_buffer(converted):
    """Besides tensor names, exports drop what TFLite's strip_strings drops (description,
    subgraph names) but keep the signature; tensors without data point at buffer 0."""
    _, files = converted["lstm"]
    for path in files.values():
        model = read(path.read_bytes())
        assert model.description is None and all(g.name is None for g in model.subgraphs)
        assert len(model.signatureDefs) == 1
        metadata = {m.buffer for m in model.metadata}
        empty = [i for i, b in enumerate(model.buffers)
                 if i and i not in metadata and (b.data is None or not len(b.data))]
        assert empty == [], f"{path.name}: empty buffers {empty}"
        assert all(t.buffer == 0 or model.buffers[t.buffer].data is not None
                   for g in model.subgraphs for t in g.tensors)


@pytest.mark.slow
def test_every_tflite_file_carries_its_metadata(converted):
    _, files = converted["lstm"]
    info = read_metadata(files[Variant("step", "int8", "int8")].read_bytes())["file"]
    assert info["kind"] == "step" and info["quantize"] == "int8" and info["io_dtype"] == "int8"
    assert info["states"] == {"state_h_0": 128, "state_c_0": 128}
    assert {i["name"] for i in info["inputs"]} == {"sequence", "state_h_0", "state_c_0"}
    assert all("quantization" in i for i in info["inputs"])
    sequence = read_metadata(files[Variant("sequence", "int8")].read_bytes())["file"]
    assert sequence["method"] == "step-loop" and sequence["inputs"][0]["shape"] == [1, T, 2]


@pytest.mark.slow
def test_dynamic_batch_files_take_any_batch(tmp_path):
    model = _stack_model()
    targets = {Variant("sequence", "none"): tmp_path / "seq.tflite",
               Variant("step", "none"): tmp_path / "step.tflite"}
    artifacts = convert_variants(model, targets, batch_size=None)
    assert artifacts[0].method == "step-loop"
    xs = _sequences(5, 3, seed=10)
    interpreter = Interpreter(model_path=str(targets[Variant("sequence", "none")]))
    detail = interpreter.get_input_details()[0]
    assert detail["shape_signature"].tolist() == [-1, T, 3]
    interpreter.resize_tensor_input(detail["index"], xs.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], xs)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, model(xs), atol=1e-4)
    np.testing.assert_allclose(export.TFLiteRunner(targets[Variant("step", "none")]).predict(xs),
                               model(xs), atol=1e-4)


# -- errors -------------------------------------------------------------------------------

def _no_child(module, job_file):
    raise AssertionError("the converter must not start")


@pytest.mark.parametrize("representative, message", [
    ([], "empty"),
    (None, "needs a representative dataset"),
    ([np.zeros((1, T, 3), np.float32)], r"expected \(batch, 6, 2\)"),
    ([np.zeros((1, T + 1, 2), np.float32)], r"expected \(batch, 6, 2\)"),
    ([np.full((1, T, 2), np.nan, np.float32)], "NaN"),
])
def test_bad_representative_data_is_refused_before_converting(tmp_path, monkeypatch,
                                                              representative, message):
    monkeypatch.setattr("export.child.worker_command", _no_child)
    with pytest.raises(ValueError, match=message):
        export.to_tflite(_adding("lstm", 4), tmp_path / "m.tflite", quantize="int8",
                         representative=representative)
    assert list(tmp_path.iterdir()) == []


def _segfault(module, job_file):
    return [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]


def test_a_converter_crash_becomes_an_error_naming_model_and_variant(tmp_path, monkeypatch):
    monkeypatch.setattr("export.child.worker_command", _segfault)
    with pytest.raises(export.ConversionError) as error:
        export.to_tflite(_adding("gru", 4), tmp_path / "m.tflite", quantize="dynamic",
                         name="my-gru")
    assert "my-gru" in str(error.value) and "sequence dynamic" in str(error.value)
    assert signal.Signals.SIGSEGV.name in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_crash_during_export_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("export.child.worker_command", _segfault)
    with pytest.raises(export.ConversionError):
        export.export_model(_adding("gru", 4), tmp_path / "out", quantize=["none"])
    assert list(tmp_path.iterdir()) == []


@keras.saving.register_keras_serializable(package="rnnzoo_tests")
class InverseErf(keras.layers.Layer):
    """A layer whose op (Erfinv) has no TFLite builtin kernel."""

    def call(self, inputs):
        return tf.math.erfinv(tf.clip_by_value(inputs, -0.5, 0.5))


@pytest.mark.slow
def test_a_model_needing_flex_ops_fails_with_one_line_naming_op_and_layer(tmp_path):
    inputs = keras.Input((T, 2), name="x")
    hidden = InverseErf(name="weird")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="y")(recurrent("lstm", 4)(hidden)))
    with pytest.raises(export.ConversionError) as error:
        export.to_tflite(model, tmp_path / "m.tflite")
    text = str(error.value)
    assert "\n" not in text
    assert "Erfinv" in text and "'weird'" in text and "--allow-flex" in text
    assert not (tmp_path / "m.tflite").exists()


def test_a_converter_failure_names_the_op_and_the_layer():
    from export.tflite import _failure

    result = {"ok": False, "message": "Could not translate MLIR to FlatBuffer.", "ops": [
        {"op": "Const", "location": "", "code": "UNKNOWN", "message": ""},
        {"op": "TensorListReserve", "location": "adding_gru_1/gru_1/TensorArrayV2_1@__inference_7",
         "code": "UNKNOWN", "message": "failed to legalize operation 'tf.TensorListReserve'"}]}
    error = _failure(result, "model 'm' [sequence none]", _adding("gru", 4), allow_flex=False)
    assert str(error) == ("model 'm' [sequence none]: the TFLite converter cannot convert op "
                          "TensorListReserve in layer 'gru': failed to legalize operation "
                          "'tf.TensorListReserve'")


def test_existing_export_folder_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.json").write_text("{}")
    with pytest.raises(FileExistsError, match="already exists"):
        export.export_model(_adding("gru", 4), tmp_path / "out")


def test_unknown_variants_are_refused():
    with pytest.raises(ValueError, match="quantize"):
        Variant("sequence", "int4")
    with pytest.raises(ValueError, match="int8 input/output"):
        Variant("sequence", "none", "int8")


def test_none_is_the_word_fp32_files_are_named_by():
    """One word for a float32 file: the quantize mode in the report is its file-name label."""
    assert Variant("step", "none") == Variant("step", "fp32")
    assert Variant("step", "none").quantize == "fp32"
    assert Variant("sequence", "none").filename == "sequence.fp32.tflite"
    assert Variant("sequence", "int8", "int8").filename == "sequence.int8.int8io.tflite"


# -- export_model + verify + report -------------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "export"
    model = _adding("lstm", 8)
    report = export.export_model(
        model, out, representative=ADDING.representative(None, 16, length=T),
        dataset=ADDING.load(None, "validation", length=T).take(64), metric=ADDING.metric,
        metric_name="mse", metadata={"task": "adding", "data_options": {"length": T}},
        name="tiny-lstm")
    return out, report


@pytest.mark.slow
def test_report_json_has_every_field_for_every_artifact(exported):
    out, report = exported
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(report))
    entries = report["artifacts"]
    assert {(e["format"], e["kind"], e["quantize"]) for e in entries} == {
        ("savedmodel", "sequence", "fp32"), ("savedmodel", "step", "fp32"),
        *{("tflite", k, q) for k in ("sequence", "step")
          for q in ("fp32", "fp16", "dynamic", "int8")}}
    keras_mse = report["keras"]["metric"]["value"]
    assert report["keras"]["latency_ms"] > 0 and report["keras"]["predict_latency_ms"] > 0
    for e in entries:
        for key in ("format", "quantize", "kind", "path", "bytes", "metric", "metric_delta",
                    "max_abs_diff", "latency_ms", "ops"):
            assert key in e, key
        assert (out / e["path"]).exists() and e["bytes"] > 0
        assert e["metric"]["name"] == "mse"
        assert e["metric_delta"] == pytest.approx(e["metric"]["value"] - keras_mse)
        assert e["latency_ms"] > 0
        if e["quantize"] in ("fp32", "fp16"):
            assert e["max_abs_diff"] < 1e-3
        if e["format"] == "tflite":
            assert e["ops"]["builtin"] and not e["ops"]["flex"]
            assert ("FULLY_CONNECTED" in e["ops"]["float"]) == (e["quantize"] != "int8")
    tflite_fp32 = [e for e in entries if e["format"] == "tflite" and e["quantize"] == "fp32"]
    assert all(e["max_abs_diff"] < 1e-4 and e["size_ratio"] == 1.0 for e in tflite_fp32)
    table = export.format_table(report)
    assert "tiny-lstm" in table and table.count("\n") >= len(entries) + 2


@pytest.mark.slow
def test_metadata_next_to_and_inside_every_tflite(exported):
    out, _ = exported
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["task"] == "adding" and metadata["data_options"] == {"length": T}
    assert set(metadata["files"]) == {p.name for p in out.glob("*.tflite")}
    assert (out / "assets").is_dir()
    runner = export.TFLiteRunner(out / "step.int8.tflite")
    assert runner.metadata["task"] == "adding" and runner.kind == "step"
    assert runner.metadata["file"]["inputs"][0]["shape"][0] == 1


def test_no_submodule_shadows_a_public_name():
    """Importing ``export.<module>`` sets that attribute on the package: a module named like a
    public function (``export.verify`` was one) would replace the function."""
    import pkgutil
    import types

    for module in pkgutil.iter_modules(export.__path__):
        importlib.import_module(f"export.{module.name}")
    for name in export.__all__:
        assert not isinstance(getattr(export, name), types.ModuleType), name


def test_embedded_metadata_is_compact_json_that_reads_back():
    from tensorflow.lite.python import schema_py_generated as fb

    model = fb.ModelT()
    model.buffers = [fb.BufferT()]
    payload = {"task": "adding", "file": {"states": {"state_h_0": 64}, "shape": [1, 2]}}
    add_metadata(model, payload)
    data = bytes(model.buffers[model.metadata[0].buffer].data)
    assert b": " not in data and b", " not in data  # no padding bytes in every file
    assert read_metadata(write(model)) == payload
