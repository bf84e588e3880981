"""Verification of exported artifacts against the Keras model they came from.

For every artifact: the task metric on the evaluation data and its delta to Keras, the largest
absolute output difference on sample inputs, the median batch-1 latency on one thread
(TFLite with ai-edge-litert; SavedModel signatures and the Keras model in a one-thread child
process, `export.latency_worker`), its size, and for TFLite the ops it uses
(`export.tflite_file.op_summary`). A file that keeps state in TFLite variables (the fused LSTM
op) is reset before each sequence, and its entry says so; a dynamic-range file in which no
weight was quantized says that too. A SavedModel gives two entries, its ``serving_default``
(sequence) and its ``step`` signature. Latencies are per sequence for sequence entries and per
step for step entries. The metric and the data come from the caller: this module knows no task.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from export import tflite_file
from export.artifact import Artifact, quantize_mode
from export.child import ConversionError, run_jobs
from export.files import folder_bytes
from export.plan import ModelFacts, model_facts
from export.runner import TFLiteRunner
from export.signatures import SEQUENCE_SIGNATURE, STEP_SIGNATURE, input_packer, input_specs
from export.step import input_names, output_names

Metric = Callable[[Callable[[Any], Any], Any], Any]


def _as_artifact(item: Artifact | str | os.PathLike) -> Artifact:
    if isinstance(item, Artifact):
        return item
    path = Path(item)
    if path.suffix == ".tflite":
        info = (tflite_file.read_metadata(path.read_bytes()) or {}).get("file", {})
        return Artifact(path=path, format="tflite", kind=info.get("kind", "sequence"),
                        quantize=quantize_mode(info.get("quantize", "fp32")),
                        io_dtype=info.get("io_dtype", "float32"),
                        method=info.get("method", "converter"))
    if (path / "saved_model.pb").is_file():
        return Artifact(path=path, format="savedmodel")
    raise ValueError(f"{path}: neither a .tflite file nor a SavedModel folder")


def _samples(dataset: Any, count: int) -> list:
    if isinstance(dataset, tf.data.Dataset):
        items = list(dataset.take(count).as_numpy_iterator())
    else:
        items = list(itertools.islice(iter(dataset), count))
    if not items:
        raise ValueError("the evaluation dataset is empty")
    return [item[0] if isinstance(item, tuple) else item for item in items]


def _stack(samples: list) -> Any:
    first = samples[0]
    if isinstance(first, dict):
        return {k: np.stack([s[k] for s in samples]) for k in first}
    if isinstance(first, (list, tuple)):
        return [np.stack([s[i] for s in samples]) for i in range(len(first))]
    return np.stack(samples)


def _flat(outputs: Any, names: list[str]) -> np.ndarray:
    if isinstance(outputs, dict):
        outputs = [outputs[n] for n in names if n in outputs]
    parts = keras.tree.flatten(outputs)
    return np.concatenate([np.asarray(p, np.float64).reshape(len(np.asarray(p)), -1)
                           for p in parts], axis=1)


def _metric_value(figures: Any, name: str | None) -> tuple[str, float]:
    if isinstance(figures, dict):
        key = name if name is not None else next(iter(figures))
        return key, float(figures[key])
    return name or "metric", float(figures)


def _feed(batch: Any, names: list[str]) -> dict:
    if isinstance(batch, dict):
        return {n: np.asarray(batch[n]) for n in names}
    if isinstance(batch, (list, tuple)):
        return dict(zip(names, (np.asarray(b) for b in batch)))
    return {names[0]: np.asarray(batch)}


def _single(outputs: dict, names: list[str]) -> Any:
    arrays = {n: np.asarray(outputs[n]) for n in names}
    return arrays[names[0]] if len(names) == 1 else arrays


class _SavedModelFns:
    """Batch prediction through a SavedModel's sequence and step signatures."""

    def __init__(self, path: Path, inputs: list[str], outputs: list[str]):
        self.loaded = tf.saved_model.load(str(path))
        self.signatures = dict(self.loaded.signatures)
        self.inputs, self.outputs = inputs, outputs

    def sequence(self, batch: Any) -> Any:
        result = self.signatures[SEQUENCE_SIGNATURE](**_feed(batch, self.inputs))
        return _single({k: v.numpy() for k, v in result.items()}, self.outputs)

    def step(self, batch: Any, sequence_outputs: set[str]) -> Any:
        function = self.signatures[STEP_SIGNATURE]
        specs = function.structured_input_signature[1]
        feed = _feed(batch, self.inputs)
        n, length = next(iter(feed.values())).shape[:2]
        states = {k: np.zeros((n, *s.shape[1:]), np.float32) for k, s in specs.items()
                  if k not in self.inputs}
        per_step: dict[str, list] = {k: [] for k in self.outputs}
        result = {}
        for t in range(length):
            result = function(**{k: v[:, t] for k, v in feed.items()}, **states)
            states = {k: result[k].numpy() for k in states}
            for k in sequence_outputs:
                per_step[k].append(result[k].numpy())
        return _single({k: np.stack(per_step[k], 1) if k in sequence_outputs else result[k].numpy()
                        for k in self.outputs}, self.outputs)


def _keras_predict(model: keras.Model) -> Callable[[Any], Any]:
    """Batch prediction with the Keras model, traced once for any batch size (calling
    ``predict_on_batch`` with the metric's last, smaller batch and the sample batch retraces
    and makes TensorFlow warn)."""
    names, specs, pack = input_names(model), input_specs(model), input_packer(model)
    function = tf.function(lambda *args: model(pack(args), training=False),
                           input_signature=specs, autograph=False)

    def predict(batch: Any) -> Any:
        feed = _feed(batch, names)
        args = [feed[n].astype(spec.dtype.as_numpy_dtype, copy=False)
                for n, spec in zip(names, specs)]
        return keras.tree.map_structure(np.asarray, function(*args))

    return predict


def layer_modules(model: keras.Model) -> list[str]:
    """The modules to import before loading ``model`` from a ``.keras`` file elsewhere: those
    that register its layers. The registry knows the builder's module; a model not built by the
    registry gets every family module."""
    from zoo import registry

    builder = getattr(model, "rnnzoo_builder", None)
    if builder is not None:
        return ["zoo.layers", registry.builder_info(builder).fn.__module__]
    return ["zoo.layers", *registry.FAMILY_MODULES]


def _tf_latencies(keras_model: keras.Model, savedmodels: list[Path], example: Any,
                  threads: int, work: Path, notes: list[str]) -> dict:
    """One-thread latencies in a child: Keras call/predict and each SavedModel signature.
    What cannot be measured is said in ``notes``."""
    names = input_names(keras_model)
    feed = _feed(example, names)
    sequence_file = work / "sequence.npz"
    np.savez(sequence_file, **feed)
    jobs, keys = [], []
    keras_file = work / "model.keras"
    try:
        keras_model.save(keras_file)
    except Exception as error:  # noqa: BLE001 - reported, the rest is still measured
        notes.append(f"Keras latency not measured: the model cannot be saved as .keras "
                     f"({type(error).__name__}: {error})")
    else:
        jobs.append({"type": "keras", "path": str(keras_file), "inputs": str(sequence_file),
                     "order": names, "modules": layer_modules(keras_model),
                     "output": str(work / "keras")})
        keys.append("keras")
    for index, path in enumerate(savedmodels):
        signatures = tf.saved_model.load(str(path)).signatures
        jobs.append({"type": "savedmodel", "path": str(path), "signature": SEQUENCE_SIGNATURE,
                     "inputs": str(sequence_file), "output": str(work / f"sm{index}-sequence")})
        keys.append((path, "sequence"))
        if STEP_SIGNATURE in signatures:
            specs = signatures[STEP_SIGNATURE].structured_input_signature[1]
            step_feed = {k: v[:, 0] for k, v in feed.items()}
            step_feed.update({k: np.zeros((1, *s.shape[1:]), np.float32) for k, s in specs.items()
                              if k not in step_feed})
            step_file = work / f"step{index}.npz"
            np.savez(step_file, **step_feed)
            jobs.append({"type": "savedmodel", "path": str(path), "signature": STEP_SIGNATURE,
                         "inputs": str(step_file), "output": str(work / f"sm{index}-step")})
            keys.append((path, "step"))
    if not jobs:
        return {}
    results = run_jobs("export.latency_worker", {"threads": threads}, jobs, work / "child",
                       labels=[f"latency of {k}" for k in keys], timeout=600)
    for key, result in zip(keys, results):
        if not result.get("ok"):
            what = "Keras" if key == "keras" else f"SavedModel {key[1]} signature"
            notes.append(f"{what} latency not measured: {result.get('message')}")
    return dict(zip(keys, results))


class _Scorer:
    """Scores prediction functions against the Keras model: the task metric on the whole
    dataset and the largest output difference on the sample inputs."""

    def __init__(self, keras_model: keras.Model, dataset: Iterable, metric: Metric,
                 metric_name: str | None, samples: int, base: str | os.PathLike | None):
        self.dataset, self.metric, self.base = dataset, metric, base
        self.outputs = output_names(keras_model)
        self.sample_inputs = _stack(_samples(dataset, samples))
        keras_fn = _keras_predict(keras_model)
        self.reference = _flat(keras_fn(self.sample_inputs), self.outputs)
        self.metric_key, self.keras_value = _metric_value(metric(keras_fn, dataset),
                                                          metric_name)

    @property
    def example(self) -> Any:
        """The first sample input, batch 1 (for latencies)."""
        x = self.sample_inputs
        if isinstance(x, np.ndarray):
            return x[:1]
        return {k: v[:1] for k, v in x.items()} if isinstance(x, dict) else [v[:1] for v in x]

    def relative(self, path: Path) -> str:
        if self.base is None:
            return str(path)
        try:
            return str(Path(path).resolve().relative_to(Path(self.base).resolve()))
        except ValueError:
            return str(path)

    def entry(self, artifact: Artifact, kind: str, predict: Callable | None, size: int,
              timing: float | None, ops: dict | None, notes: list[str]) -> dict:
        """The report entry of one artifact (or SavedModel signature)."""
        record = {"format": artifact.format, "quantize": artifact.quantize, "kind": kind,
                  "path": self.relative(artifact.path), "bytes": size,
                  "io_dtype": artifact.io_dtype, "method": artifact.method, "metric": None,
                  "metric_delta": None, "max_abs_diff": None, "latency_ms": timing,
                  "ops": ops, "notes": list(artifact.notes) + notes}
        if predict is None:
            return record
        try:
            value = _metric_value(self.metric(predict, self.dataset), self.metric_key)[1]
            record["metric"] = {"name": self.metric_key, "value": value}
            record["metric_delta"] = value - self.keras_value
            record["max_abs_diff"] = float(np.max(np.abs(
                _flat(predict(self.sample_inputs), self.outputs) - self.reference)))
        except Exception as error:  # noqa: BLE001 - e.g. a Flex file the runtime cannot run
            record["notes"].append(f"not run: {type(error).__name__}: {error}")
        return record


def _tflite_entry(scorer: _Scorer, artifact: Artifact, threads: int, latency: bool) -> dict:
    data = artifact.path.read_bytes()
    ops = tflite_file.op_summary(data)
    try:
        runner = TFLiteRunner(data, num_threads=threads)
    except Exception as error:  # noqa: BLE001 - reported in the entry
        return scorer.entry(artifact, artifact.kind, None, len(data), None, ops,
                            [f"cannot load: {type(error).__name__}: {error}"])
    notes, timing = [], None
    if artifact.quantize == "dynamic" and not tflite_file.quantized_weights(data):
        notes.append("dynamic-range quantization left every weight in float (no int8 weight "
                     "in the file): it computes like the float32 file")
    if runner.variable_state and not any("reset_all_variables" in n for n in artifact.notes):
        notes.append("state kept in TFLite variables across invoke() calls: reset with "
                     "interpreter.reset_all_variables() before each sequence (done here)")
    if latency:
        try:
            timing = runner.latency_ms(scorer.example)
        except Exception as error:  # noqa: BLE001 - reported in the entry
            notes.append(f"latency not measured: {type(error).__name__}: {error}")
    entry = scorer.entry(artifact, artifact.kind, runner.predict, len(data), timing, ops, notes)
    if runner.note:  # known after the first call: scored and timed without XNNPACK
        entry["notes"].append(runner.note)
    return entry


def _savedmodel_entries(scorer: _Scorer, artifact: Artifact, keras_model: keras.Model,
                        timings: dict, facts: ModelFacts | None) -> list[dict]:
    """A SavedModel's ``serving_default`` entry and, when it has one, its ``step`` entry."""
    fns = _SavedModelFns(artifact.path, input_names(keras_model), scorer.outputs)
    size = folder_bytes(artifact.path)
    seq_time = timings.get((artifact.path, "sequence"), {}).get("latency_ms")
    entries = [scorer.entry(artifact, "sequence", fns.sequence, size, seq_time, None, [])]
    if STEP_SIGNATURE in fns.signatures:
        facts = facts or model_facts(keras_model)
        per_step = set(facts.spec.sequence_outputs)
        step_time = timings.get((artifact.path, "step"), {}).get("latency_ms")
        entries.append(scorer.entry(artifact, "step", lambda b: fns.step(b, per_step), size,
                                    step_time, None, []))
    return entries


def verify(artifacts: Sequence[Artifact | str | os.PathLike], keras_model: keras.Model,
           dataset: Iterable, metric: Metric, *, metric_name: str | None = None,
           samples: int = 16, threads: int = 1, latency: bool = True,
           base: str | os.PathLike | None = None, name: str | None = None,
           facts: ModelFacts | None = None) -> dict:
    """Check ``artifacts`` against ``keras_model`` and return the report (a JSON-able dict).

    ``dataset``: unbatched ``(inputs, targets)`` pairs (a ``tf.data.Dataset`` or an iterable),
    scored by ``metric(model_fn, dataset)`` where ``model_fn`` maps a numpy batch of inputs to
    outputs (a task's ``metric``); it returns a number or a dict, whose ``metric_name`` entry
    (default: the first) is reported. ``samples``: how many examples the output differences
    are taken on. ``threads``: for every latency. ``base``: paths in the report are relative to
    it. ``facts``: the model's `export.plan.ModelFacts` if the caller has them. A figure that
    cannot be measured is None in its entry, and the report's notes say why. See
    `export.report` for the fields.
    """
    artifacts = [_as_artifact(a) for a in artifacts]
    scorer = _Scorer(keras_model, dataset, metric, metric_name, samples, base)
    timings: dict = {}
    notes: list[str] = []
    if latency:
        with tempfile.TemporaryDirectory(prefix="rnnzoo-latency-") as work:
            try:
                timings = _tf_latencies(keras_model, [a.path for a in artifacts
                                                      if a.format == "savedmodel"],
                                        scorer.example, threads, Path(work), notes)
            except ConversionError as error:
                notes.append(f"TensorFlow latencies not measured: {error}")
    else:
        notes.append("latencies not measured (turned off)")
    keras_entry = {"metric": {"name": scorer.metric_key, "value": scorer.keras_value},
                   "threads": threads}
    if timings.get("keras", {}).get("ok"):
        keras_entry["latency_ms"] = timings["keras"]["latency_ms"]
        keras_entry["predict_latency_ms"] = timings["keras"]["predict_latency_ms"]
    entries = []
    for artifact in artifacts:
        if artifact.format == "tflite":
            entries.append(_tflite_entry(scorer, artifact, threads, latency))
        else:
            entries += _savedmodel_entries(scorer, artifact, keras_model, timings, facts)
    _add_size_ratios(entries)
    return {"model": name or keras_model.name, "metric": scorer.metric_key,
            "samples": int(scorer.reference.shape[0]), "threads": threads,
            "keras": keras_entry, "artifacts": entries, "notes": notes}


def _add_size_ratios(entries: list[dict]) -> None:
    """``size_ratio``: bytes over those of the float32 TFLite file of the same kind."""
    base = {e["kind"]: e["bytes"] for e in entries
            if e["format"] == "tflite" and e["quantize"] == "fp32" and e["io_dtype"] == "float32"}
    for e in entries:
        ratio = None
        if e["format"] == "tflite" and e["kind"] in base and base[e["kind"]]:
            ratio = e["bytes"] / base[e["kind"]]
        e["size_ratio"] = None if ratio is None or math.isnan(ratio) else ratio
