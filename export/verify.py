"""Verification of exported artifacts against the Keras model they came from.

For every artifact: the task metric on the evaluation data and its delta to Keras, the largest
absolute output difference on sample inputs, the median batch-1 latency on one thread
(TFLite with ai-edge-litert; SavedModel signatures and the Keras model in a one-thread child
process, `export.latency_worker`), its size, and for TFLite the ops it uses
(`export.tflite_file.op_summary`). A SavedModel gives two entries, its ``serving_default``
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
from export.artifact import Artifact
from export.child import ConversionError, run_jobs
from export.files import folder_bytes
from export.runner import TFLiteRunner
from export.signatures import SEQUENCE_SIGNATURE, STEP_SIGNATURE, input_specs
from export.step import input_names, output_names

Metric = Callable[[Callable[[Any], Any], Any], Any]


def _as_artifact(item: Artifact | str | os.PathLike) -> Artifact:
    if isinstance(item, Artifact):
        return item
    path = Path(item)
    if path.suffix == ".tflite":
        info = (tflite_file.read_metadata(path.read_bytes()) or {}).get("file", {})
        return Artifact(path=path, format="tflite", kind=info.get("kind", "sequence"),
                        quantize=info.get("quantize", "none"),
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
    return np.concatenate([np.asarray(p, np.float64).reshape(len(np.asarray(p)), -1) for p in parts], axis=1)


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
    names, specs = input_names(model), input_specs(model)
    function = tf.function(lambda *args: model(args[0] if len(args) == 1 else list(args),
                                               training=False),
                           input_signature=specs, autograph=False)

    def predict(batch: Any) -> Any:
        feed = _feed(batch, names)
        args = [feed[n].astype(spec.dtype.as_numpy_dtype, copy=False) for n, spec in zip(names, specs)]
        return keras.tree.map_structure(np.asarray, function(*args))

    return predict


def _tf_latencies(keras_model: keras.Model, savedmodels: list[Path], example: Any,
                  threads: int, work: Path) -> dict:
    """One-thread latencies in a child: Keras call/predict and each SavedModel signature."""
    names = input_names(keras_model)
    feed = _feed(example, names)
    sequence_file = work / "sequence.npz"
    np.savez(sequence_file, **feed)
    jobs, keys = [], []
    keras_file = work / "model.keras"
    try:
        keras_model.save(keras_file)
        jobs.append({"type": "keras", "path": str(keras_file), "inputs": str(sequence_file),
                     "order": names, "output": str(work / "keras")})
        keys.append("keras")
    except Exception:  # noqa: BLE001 - a model Keras cannot save is timed in-process instead
        pass
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
    return dict(zip(keys, results))


def verify(artifacts: Sequence[Artifact | str | os.PathLike], keras_model: keras.Model,
           dataset: Iterable, metric: Metric, *, metric_name: str | None = None,
           samples: int = 16, threads: int = 1, latency: bool = True,
           base: str | os.PathLike | None = None, name: str | None = None) -> dict:
    """Check ``artifacts`` against ``keras_model`` and return the report (a JSON-able dict).

    ``dataset``: unbatched ``(inputs, targets)`` pairs (a ``tf.data.Dataset`` or an iterable),
    scored by ``metric(model_fn, dataset)`` where ``model_fn`` maps a numpy batch of inputs to
    outputs (a task's ``metric``); it returns a number or a dict, whose ``metric_name`` entry
    (default: the first) is reported. ``samples``: how many examples the output differences
    are taken on. ``threads``: for every latency. ``base``: paths in the report are relative to
    it. See `export.report` for the fields.
    """
    artifacts = [_as_artifact(a) for a in artifacts]
    inputs, outputs = input_names(keras_model), output_names(keras_model)
    sample_inputs = _stack(_samples(dataset, samples))
    example = (sample_inputs[:1] if isinstance(sample_inputs, np.ndarray) else
               {k: v[:1] for k, v in sample_inputs.items()} if isinstance(sample_inputs, dict)
               else [v[:1] for v in sample_inputs])
    keras_fn = _keras_predict(keras_model)
    reference = _flat(keras_fn(sample_inputs), outputs)
    metric_key, keras_value = _metric_value(metric(keras_fn, dataset), metric_name)

    timings: dict = {}
    notes: list[str] = []
    if latency:
        with tempfile.TemporaryDirectory(prefix="rnnzoo-latency-") as work:
            try:
                timings = _tf_latencies(keras_model, [a.path for a in artifacts
                                                      if a.format == "savedmodel"],
                                        example, threads, Path(work))
            except ConversionError as error:
                notes.append(f"TensorFlow latencies not measured: {error}")
    keras_entry = {"metric": {"name": metric_key, "value": keras_value}, "threads": threads}
    if "keras" in timings and timings["keras"].get("ok"):
        keras_entry["latency_ms"] = timings["keras"]["latency_ms"]
        keras_entry["predict_latency_ms"] = timings["keras"]["predict_latency_ms"]

    def relative(path: Path) -> str:
        if base is None:
            return str(path)
        try:
            return str(Path(path).resolve().relative_to(Path(base).resolve()))
        except ValueError:
            return str(path)

    def entry(artifact: Artifact, kind: str, predict: Callable | None, size: int,
              timing: float | None, ops: dict | None, extra_notes: list[str]) -> dict:
        record = {"format": artifact.format, "quantize": artifact.quantize, "kind": kind,
                  "path": relative(artifact.path), "bytes": size, "io_dtype": artifact.io_dtype,
                  "method": artifact.method, "metric": None, "metric_delta": None,
                  "max_abs_diff": None, "latency_ms": timing, "ops": ops,
                  "notes": list(artifact.notes) + extra_notes}
        if predict is None:
            return record
        try:
            value = _metric_value(metric(predict, dataset), metric_key)[1]
            record["metric"] = {"name": metric_key, "value": value}
            record["metric_delta"] = value - keras_value
            record["max_abs_diff"] = float(np.max(np.abs(
                _flat(predict(sample_inputs), outputs) - reference)))
        except Exception as error:  # noqa: BLE001 - e.g. a Flex file the runtime cannot run
            record["notes"].append(f"not run: {type(error).__name__}: {error}")
        return record

    entries = []
    for artifact in artifacts:
        if artifact.format == "tflite":
            data = artifact.path.read_bytes()
            try:
                runner = TFLiteRunner(data, num_threads=threads)
            except Exception as error:  # noqa: BLE001
                entries.append(entry(artifact, artifact.kind, None, len(data), None,
                                     tflite_file.op_summary(data),
                                     [f"cannot load: {type(error).__name__}: {error}"]))
                continue
            timing = runner.latency_ms(example) if latency else None
            entries.append(entry(artifact, artifact.kind, runner.predict, len(data), timing,
                                 tflite_file.op_summary(data), []))
        else:
            fns = _SavedModelFns(artifact.path, inputs, outputs)
            size = folder_bytes(artifact.path)
            seq_time = timings.get((artifact.path, "sequence"), {}).get("latency_ms")
            entries.append(entry(artifact, "sequence", fns.sequence, size, seq_time, None, []))
            if STEP_SIGNATURE in fns.signatures:
                from export.step import step_model, step_spec

                seq_out = set(step_spec(step_model(keras_model)).sequence_outputs)
                step_time = timings.get((artifact.path, "step"), {}).get("latency_ms")
                entries.append(entry(artifact, "step", lambda b: fns.step(b, seq_out), size,
                                     step_time, None, []))
    _add_size_ratios(entries)
    return {"model": name or keras_model.name, "metric": metric_key,
            "samples": int(reference.shape[0]), "threads": threads, "keras": keras_entry,
            "artifacts": entries, "notes": notes}


def _add_size_ratios(entries: list[dict]) -> None:
    """``size_ratio``: bytes over those of the float32 TFLite file of the same kind."""
    base = {e["kind"]: e["bytes"] for e in entries
            if e["format"] == "tflite" and e["quantize"] == "none" and e["io_dtype"] == "float32"}
    for e in entries:
        ratio = None
        if e["format"] == "tflite" and e["kind"] in base and base[e["kind"]]:
            ratio = e["bytes"] / base[e["kind"]]
        e["size_ratio"] = None if ratio is None or math.isnan(ratio) else ratio
